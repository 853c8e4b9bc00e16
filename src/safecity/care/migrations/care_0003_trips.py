"""care: safe return home trips; alerts name their trip

Revision ID: care_0003
Revises: care_0002
"""

import sqlalchemy as sa
from alembic import op

from safecity.store.types import IdType, JSONDoc, Timestamp

revision = "care_0003"
down_revision = "care_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "care_trips",
        sa.Column("id", IdType, primary_key=True),
        sa.Column("person_id", IdType, sa.ForeignKey("care_people.id", ondelete="CASCADE"), nullable=False),
        sa.Column("started_by", sa.String(120), nullable=False),
        sa.Column("started_at", Timestamp(), nullable=False),
        sa.Column("origin_lon", sa.Float, nullable=False),
        sa.Column("origin_lat", sa.Float, nullable=False),
        sa.Column("dest_lon", sa.Float, nullable=False),
        sa.Column("dest_lat", sa.Float, nullable=False),
        sa.Column("dest_name", sa.String(80), nullable=False),
        sa.Column("route_wkt", sa.Text, nullable=True),
        sa.Column("distance_m", sa.Float, nullable=True),
        sa.Column("expected_s", sa.Float, nullable=False),
        sa.Column("due_at", Timestamp(), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("ended_at", Timestamp(), nullable=True),
        sa.Column("state", JSONDoc, nullable=False),
    )
    op.create_index("ix_care_trips_person", "care_trips", ["person_id", "id"])
    op.add_column("care_alerts", sa.Column("trip_id", IdType, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("care_alerts") as batch:  # SQLite rebuilds the table
        batch.drop_column("trip_id")
    op.drop_index("ix_care_trips_person", table_name="care_trips")
    op.drop_table("care_trips")
