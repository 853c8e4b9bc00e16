"""situation: one open incident per condition (a partial unique index), for several processes

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 16:10:00

* ``situation_incident_links.holds``: on a condition link, true while the incident is open and holds the
  condition (the newest of them when a subject fired again long after clearing); false once closed.
* ``uq_situation_incident_links_held_condition``: unique ``ref`` where ``holds``: no two open incidents
  hold one condition, so two rule engines (two processes) cannot open an incident each for it.
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

_OPEN = "('detected', 'acknowledged', 'responding', 'recovering')"


def upgrade() -> None:
    with op.batch_alter_table("situation_incident_links", schema=None) as batch_op:
        batch_op.add_column(sa.Column("holds", sa.Boolean(), nullable=True))
    # An open incident's condition link holds it, unless a newer open incident holds the same
    # condition (the engine's own rule, situation/incident_base.py _index_link): the latest wins.
    op.execute(
        f"""
        UPDATE situation_incident_links SET holds = (
          incident_id IN (SELECT id FROM situation_incidents WHERE status IN {_OPEN})
          AND NOT EXISTS (
            SELECT 1 FROM situation_incident_links o
            JOIN situation_incidents i ON i.id = o.incident_id
            WHERE o.kind = 'condition' AND o.ref = situation_incident_links.ref
              AND o.id <> situation_incident_links.id AND i.status IN {_OPEN}
              AND (o.since > situation_incident_links.since
                   OR (o.since = situation_incident_links.since AND o.id > situation_incident_links.id))
          )
        )
        WHERE kind = 'condition'
        """
    )
    with op.batch_alter_table("situation_incident_links", schema=None) as batch_op:
        batch_op.create_index(
            "uq_situation_incident_links_held_condition",
            ["ref"],
            unique=True,
            sqlite_where=sa.text("holds"),
            postgresql_where=sa.text("holds"),
        )


def downgrade() -> None:
    with op.batch_alter_table("situation_incident_links", schema=None) as batch_op:
        batch_op.drop_index("uq_situation_incident_links_held_condition")
        batch_op.drop_column("holds")
