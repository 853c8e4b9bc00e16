# SPDX-License-Identifier: Apache-2.0
"""The dispatch capability's tables (its own Alembic branch, ``dispatch/migrations``)."""

from __future__ import annotations

import sqlalchemy as sa

from safecity.store.metadata import metadata
from safecity.store.types import IdType, Timestamp

stations = sa.Table(
    "dispatch_stations",
    metadata,
    sa.Column("id", IdType, primary_key=True),
    sa.Column("code", sa.String(60), nullable=False, unique=True),
    sa.Column("name_ko", sa.String(200), nullable=False),
    sa.Column("name_en", sa.String(200), nullable=False),
    sa.Column("district", sa.String(10), nullable=False),
    sa.Column("lon", sa.Float, nullable=False),
    sa.Column("lat", sa.Float, nullable=False),
)

units = sa.Table(
    "dispatch_units",
    metadata,
    sa.Column("id", IdType, primary_key=True),
    sa.Column("callsign", sa.String(60), nullable=False, unique=True),
    sa.Column("type", sa.String(30), nullable=False),
    sa.Column("crew", sa.Integer, nullable=False),
    sa.Column("station_id", IdType, sa.ForeignKey("dispatch_stations.id"), nullable=False),
    sa.Column("status", sa.String(30), nullable=False),
    sa.Column("status_at", Timestamp, nullable=False),
    sa.Column("lon", sa.Float, nullable=False),  # last known position (tracker, or the station)
    sa.Column("lat", sa.Float, nullable=False),
    sa.Column("position_at", Timestamp, nullable=True),  # when lon/lat were true (dispatch_0003)
    sa.Column("call_id", IdType, nullable=True),  # the call it is working
    sa.Column("hospital_id", IdType, nullable=True),  # where it is taking a patient (dispatch_0005)
)

# every status change, timestamped (the audit log keeps who did it, through the UnitStatusChanged event)
unit_status = sa.Table(
    "dispatch_unit_status",
    metadata,
    sa.Column("id", IdType, primary_key=True),
    sa.Column("unit_id", IdType, sa.ForeignKey("dispatch_units.id"), nullable=False, index=True),
    sa.Column("status", sa.String(30), nullable=False),
    sa.Column("previous", sa.String(30), nullable=False),
    sa.Column("at", Timestamp, nullable=False),
    sa.Column("actor", sa.String(120), nullable=False),
    sa.Column("call_id", IdType, nullable=True),
    sa.Column("note", sa.String(500), nullable=True),
)

incidents = sa.Table(
    "dispatch_incidents",
    metadata,
    sa.Column("id", IdType, primary_key=True),
    sa.Column("category", sa.String(20), nullable=False),
    sa.Column("opened_at", Timestamp, nullable=False),
    sa.Column("closed_at", Timestamp, nullable=True),
    sa.Column("lon", sa.Float, nullable=False),
    sa.Column("lat", sa.Float, nullable=False),
    sa.Column("situation_incident", IdType, nullable=True),
)

calls = sa.Table(
    "dispatch_calls",
    metadata,
    sa.Column("id", IdType, primary_key=True),
    sa.Column("type", sa.String(60), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("received_at", Timestamp, nullable=False, index=True),
    sa.Column("dispatched_at", Timestamp, nullable=True),
    sa.Column("arrived_at", Timestamp, nullable=True),
    sa.Column("closed_at", Timestamp, nullable=True),
    sa.Column("lon", sa.Float, nullable=False),
    sa.Column("lat", sa.Float, nullable=False),
    sa.Column("address", sa.String(300), nullable=True),
    sa.Column("dong", sa.String(10), nullable=True),
    sa.Column("district", sa.String(10), nullable=True),
    sa.Column("incident_id", IdType, sa.ForeignKey("dispatch_incidents.id"), nullable=False),
    sa.Column("situation_incident", IdType, nullable=True, unique=True),  # one call per rule incident
    sa.Column("note", sa.Text, nullable=True),
    sa.Column("source", sa.String(10), nullable=False),
    # what suggested a call the platform made (quake:<incident>:<building>): one call each (dispatch_0004)
    sa.Column("ref", sa.String(120), nullable=True, unique=True),
)

assignments = sa.Table(
    "dispatch_assignments",
    metadata,
    sa.Column("id", IdType, primary_key=True),
    sa.Column("call_id", IdType, sa.ForeignKey("dispatch_calls.id"), nullable=False, index=True),
    sa.Column("unit_id", IdType, sa.ForeignKey("dispatch_units.id"), nullable=False),
    sa.Column("assigned_at", Timestamp, nullable=False),
    sa.Column("travel_s", sa.Float, nullable=True),  # the road time estimated when it was sent
    sa.Column("arrived_at", Timestamp, nullable=True),
    sa.Column("actor", sa.String(120), nullable=False),
)

# emergency departments units take patients to, with the patients each can take now (dispatch_0005)
hospitals = sa.Table(
    "dispatch_hospitals",
    metadata,
    sa.Column("id", IdType, primary_key=True),
    sa.Column("code", sa.String(60), nullable=False, unique=True),
    sa.Column("name_ko", sa.String(200), nullable=False),
    sa.Column("name_en", sa.String(200), nullable=False),
    sa.Column("lon", sa.Float, nullable=False),
    sa.Column("lat", sa.Float, nullable=False),
    sa.Column("capacity", sa.Integer, nullable=False),
    sa.Column("capacity_at", Timestamp, nullable=True),  # when the capacity was last said (dispatch_0006)
    sa.Column("capacity_by", sa.String(120), nullable=True),  # and by whom
)
