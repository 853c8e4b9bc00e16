"""care: fences, their persisted state, and the alerts they raised

Revision ID: care_0002
Revises: care_0001
"""

import sqlalchemy as sa
from alembic import op

from safecity.store.types import IdType, JSONDoc, Timestamp

revision = "care_0002"
down_revision = "care_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "care_fences",
        sa.Column("id", IdType, primary_key=True),
        sa.Column("person_id", IdType, sa.ForeignKey("care_people.id", ondelete="CASCADE"), nullable=False),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("wkt", sa.Text, nullable=False),
        sa.Column("delay_s", sa.Float, nullable=False),
        sa.Column("dwell_s", sa.Float, nullable=True),
        sa.Column("rule", sa.String(10), nullable=False),
        sa.Column("schedule", JSONDoc, nullable=False),
        sa.Column("created_at", Timestamp(), nullable=False),
    )
    op.create_table(
        "care_fence_state",
        sa.Column("fence_id", IdType, sa.ForeignKey("care_fences.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("person_id", IdType, sa.ForeignKey("care_people.id", ondelete="CASCADE"), nullable=False),
        sa.Column("state", JSONDoc, nullable=False),
    )
    op.create_table(
        "care_alerts",
        sa.Column("id", IdType, primary_key=True),
        sa.Column("person_id", IdType, sa.ForeignKey("care_people.id", ondelete="CASCADE"), nullable=False),
        sa.Column("fence_id", IdType, nullable=True),
        sa.Column("kind", sa.String(12), nullable=False),
        sa.Column("at", Timestamp(), nullable=False),
        sa.Column("lon", sa.Float, nullable=True),
        sa.Column("lat", sa.Float, nullable=True),
        sa.Column("raised_at", Timestamp(), nullable=False),
    )
    op.create_index("ix_care_alerts_person", "care_alerts", ["person_id", "id"])


def downgrade() -> None:
    for name in ("care_alerts", "care_fence_state", "care_fences"):
        op.drop_table(name)
