"""care: heat-wave and cold-wave check-ins for elderly people living alone

Revision ID: care_0004
Revises: care_0003
"""

import sqlalchemy as sa
from alembic import op

from safecity.store.types import IdType, JSONDoc, Timestamp

revision = "care_0004"
down_revision = "care_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "care_checkins",
        sa.Column("id", IdType, primary_key=True),
        sa.Column("person_id", IdType, sa.ForeignKey("care_people.id", ondelete="CASCADE"), nullable=False),
        sa.Column("incident_id", IdType, nullable=False),
        sa.Column("hazard", sa.String(20), nullable=False),
        sa.Column("areas", JSONDoc, nullable=False),
        sa.Column("opened_at", Timestamp(), nullable=False),
        sa.Column("due_at", Timestamp(), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("outcome", sa.String(10), nullable=True),
        sa.Column("note", sa.String(500), nullable=True),
        sa.Column("answered_at", Timestamp(), nullable=True),
        sa.Column("answered_by", sa.String(120), nullable=True),
        sa.Column("escalated_incident", IdType, nullable=True),
        sa.UniqueConstraint("person_id", "incident_id", name="uq_care_checkins_person_incident"),
    )


def downgrade() -> None:
    op.drop_table("care_checkins")
