"""bus: the envelope's columns on the outbox, one cursor per subscriber, dead letters

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 13:00:00

* ``bus_outbox`` gains ``version``, ``source`` and ``key`` (rows already there are version 1, their
  source the type's prefix, their key the type: one order, as before).
* ``bus_cursors``: per subscriber the last event it handled, and its retry state while failing.
  Subscribers that exist when this runs start at the oldest event not yet delivered to all (what the
  single ``delivered_at`` promised them), created by the bus on first use.
* ``bus_dead_letters``: events a subscriber gave up on, with the whole envelope, until replayed.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import safecity.store.types

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("bus_outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("version", sa.Integer(), server_default="1", nullable=False))
        batch_op.add_column(sa.Column("source", sa.String(), server_default="", nullable=False))
        batch_op.add_column(sa.Column("key", sa.String(), server_default="", nullable=False))
    # the old rows: the type's prefix is the capability that published them, the type their one order
    op.execute(
        "UPDATE bus_outbox SET source = substr(topic, 1, instr(topic, '.') - 1), key = topic"
        if op.get_bind().dialect.name == "sqlite"
        else "UPDATE bus_outbox SET source = split_part(topic, '.', 1), key = topic"
    )
    op.create_table(
        "bus_cursors",
        sa.Column("subscriber", sa.String(), nullable=False),
        sa.Column("position", ID, nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("retry_at", safecity.store.types.Timestamp(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("updated_at", safecity.store.types.Timestamp(), nullable=False),
        sa.PrimaryKeyConstraint("subscriber", name=op.f("pk_bus_cursors")),
    )
    op.create_table(
        "bus_dead_letters",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("subscriber", sa.String(), nullable=False),
        sa.Column("event_id", ID, nullable=False),
        sa.Column("topic", sa.String(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("payload", JSON, nullable=False),
        sa.Column("event_time", safecity.store.types.Timestamp(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("failed_at", safecity.store.types.Timestamp(), nullable=False),
        sa.Column("replay_requested_at", safecity.store.types.Timestamp(), nullable=True),
        sa.Column("replay_requested_by", sa.String(), nullable=True),
        sa.Column("replayed_at", safecity.store.types.Timestamp(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bus_dead_letters")),
    )
    with op.batch_alter_table("bus_dead_letters", schema=None) as batch_op:
        batch_op.create_index(
            "ix_bus_dead_letters_subscriber", ["subscriber", "replayed_at", "event_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("bus_dead_letters", schema=None) as batch_op:
        batch_op.drop_index("ix_bus_dead_letters_subscriber")
    op.drop_table("bus_dead_letters")
    op.drop_table("bus_cursors")
    with op.batch_alter_table("bus_outbox", schema=None) as batch_op:
        batch_op.drop_column("key")
        batch_op.drop_column("source")
        batch_op.drop_column("version")
