"""logbook: the entries table (the logbook capability's own branch)

Revision ID: logbook_0001
Revises: (none: a capability's branch starts from nothing)
"""

import sqlalchemy as sa
from alembic import op

import safecity.store.types

revision = "logbook_0001"
down_revision = None
branch_labels = ("logbook",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "logbook_entries",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("shift", sa.String(40), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("author", sa.String(120), nullable=False),
        sa.Column("incident_id", sa.Integer, nullable=True),
        sa.Column("at", safecity.store.types.Timestamp(), nullable=False),
        sa.UniqueConstraint("incident_id", name="uq_logbook_entries_incident_id"),
    )


def downgrade() -> None:
    op.drop_table("logbook_entries")
