"""bus: on SQLite, an outbox id is never given out twice (AUTOINCREMENT)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-08 02:30:00

A subscriber's cursor is an outbox id. SQLite gave an ``INTEGER PRIMARY KEY`` without AUTOINCREMENT
the largest id in the table plus one, so once retention pruned every delivered event the next event
took id 1 again, at or below every cursor, and no subscriber (nor the NATS relay) ever read it. The
table is recreated with AUTOINCREMENT, keeping its rows and their ids, and SQLite's sequence for it
starts above every id already given out: the rows kept, the subscribers' positions and the dead
letters' events (the outbox may be empty when this runs). PostgreSQL's sequence never gives an id
twice: nothing to do there.
"""

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return
    with op.batch_alter_table(
        "bus_outbox", recreate="always", table_kwargs={"sqlite_autoincrement": True}
    ) as batch_op:
        batch_op.alter_column("id", autoincrement=True)
    given = bind.exec_driver_sql(
        "SELECT max(n) FROM (SELECT max(id) AS n FROM bus_outbox"
        " UNION ALL SELECT max(position) FROM bus_cursors"
        " UNION ALL SELECT max(event_id) FROM bus_dead_letters)"
    ).scalar()
    if given:
        bind.exec_driver_sql("DELETE FROM sqlite_sequence WHERE name = 'bus_outbox'")
        bind.exec_driver_sql(
            "INSERT INTO sqlite_sequence (name, seq) VALUES ('bus_outbox', ?)", (int(given),)
        )


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return
    with op.batch_alter_table(
        "bus_outbox", recreate="always", table_kwargs={"sqlite_autoincrement": False}
    ) as batch_op:
        batch_op.alter_column("id", autoincrement=False)
