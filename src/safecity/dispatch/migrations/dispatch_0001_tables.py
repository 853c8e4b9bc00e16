"""dispatch: stations, units, their status history, incidents, calls and assignments

Revision ID: dispatch_0001
Revises: (none: a capability's branch starts from nothing)
"""

import sqlalchemy as sa
from alembic import op

from safecity.store.types import Timestamp

revision = "dispatch_0001"
down_revision = None
branch_labels = ("dispatch",)
# after the main chain's first revision: it installs PostGIS (geometry columns) and makes the tables
# a fresh database needs before any capability's
depends_on = "0001"


def upgrade() -> None:
    op.create_table(
        "dispatch_stations",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("code", sa.String(60), nullable=False),
        sa.Column("name_ko", sa.String(200), nullable=False),
        sa.Column("name_en", sa.String(200), nullable=False),
        sa.Column("district", sa.String(10), nullable=False),
        sa.Column("lon", sa.Float, nullable=False),
        sa.Column("lat", sa.Float, nullable=False),
        sa.UniqueConstraint("code", name="uq_dispatch_stations_code"),
    )
    op.create_table(
        "dispatch_units",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("callsign", sa.String(60), nullable=False),
        sa.Column("type", sa.String(30), nullable=False),
        sa.Column("crew", sa.Integer, nullable=False),
        sa.Column("station_id", sa.Integer, sa.ForeignKey("dispatch_stations.id"), nullable=False),
        sa.Column("status", sa.String(30), nullable=False),
        sa.Column("status_at", Timestamp(), nullable=False),
        sa.Column("lon", sa.Float, nullable=False),
        sa.Column("lat", sa.Float, nullable=False),
        sa.Column("call_id", sa.Integer, nullable=True),
        sa.UniqueConstraint("callsign", name="uq_dispatch_units_callsign"),
    )
    op.create_table(
        "dispatch_unit_status",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("unit_id", sa.Integer, sa.ForeignKey("dispatch_units.id"), nullable=False),
        sa.Column("status", sa.String(30), nullable=False),
        sa.Column("previous", sa.String(30), nullable=False),
        sa.Column("at", Timestamp(), nullable=False),
        sa.Column("actor", sa.String(120), nullable=False),
        sa.Column("call_id", sa.Integer, nullable=True),
        sa.Column("note", sa.String(500), nullable=True),
    )
    op.create_index("ix_dispatch_unit_status_unit_id", "dispatch_unit_status", ["unit_id"])
    op.create_table(
        "dispatch_incidents",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("category", sa.String(20), nullable=False),
        sa.Column("opened_at", Timestamp(), nullable=False),
        sa.Column("closed_at", Timestamp(), nullable=True),
        sa.Column("lon", sa.Float, nullable=False),
        sa.Column("lat", sa.Float, nullable=False),
        sa.Column("situation_incident", sa.Integer, nullable=True),
    )
    op.create_table(
        "dispatch_calls",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("type", sa.String(60), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("received_at", Timestamp(), nullable=False),
        sa.Column("dispatched_at", Timestamp(), nullable=True),
        sa.Column("arrived_at", Timestamp(), nullable=True),
        sa.Column("closed_at", Timestamp(), nullable=True),
        sa.Column("lon", sa.Float, nullable=False),
        sa.Column("lat", sa.Float, nullable=False),
        sa.Column("address", sa.String(300), nullable=True),
        sa.Column("dong", sa.String(10), nullable=True),
        sa.Column("district", sa.String(10), nullable=True),
        sa.Column("incident_id", sa.Integer, sa.ForeignKey("dispatch_incidents.id"), nullable=False),
        sa.Column("situation_incident", sa.Integer, nullable=True),
        sa.Column("note", sa.Text, nullable=True),
        sa.Column("source", sa.String(10), nullable=False),
        sa.UniqueConstraint("situation_incident", name="uq_dispatch_calls_situation_incident"),
    )
    op.create_index("ix_dispatch_calls_received_at", "dispatch_calls", ["received_at"])
    op.create_table(
        "dispatch_assignments",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("call_id", sa.Integer, sa.ForeignKey("dispatch_calls.id"), nullable=False),
        sa.Column("unit_id", sa.Integer, sa.ForeignKey("dispatch_units.id"), nullable=False),
        sa.Column("assigned_at", Timestamp(), nullable=False),
        sa.Column("travel_s", sa.Float, nullable=True),
        sa.Column("arrived_at", Timestamp(), nullable=True),
        sa.Column("actor", sa.String(120), nullable=False),
    )
    op.create_index("ix_dispatch_assignments_call_id", "dispatch_assignments", ["call_id"])


def downgrade() -> None:
    for name in (
        "dispatch_assignments",
        "dispatch_calls",
        "dispatch_incidents",
        "dispatch_unit_status",
        "dispatch_units",
        "dispatch_stations",
    ):
        op.drop_table(name)
