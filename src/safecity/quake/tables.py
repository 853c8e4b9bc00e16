# SPDX-License-Identifier: Apache-2.0
"""The earthquake capability's tables: one row per damage assessment of an incident, and the cells of
its damage map (what the ``quake-damage`` OGC API collection serves). Migrations: ``migrations/``."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Float, ForeignKey, Integer, String, Table

from safecity.store.metadata import metadata
from safecity.store.types import Geometry, IdType, JSONDoc, Timestamp

assessments = Table(
    "quake_assessments",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    # situation's incident id (no foreign key: a capability never ties itself to another's tables)
    Column("incident_id", Integer, nullable=False, index=True),
    Column("current", Boolean, nullable=False),  # the incident's latest assessment
    Column("at", Timestamp, nullable=False),
    Column("origin", String, nullable=False),  # "readings" (accelerometers) | "cap" (a CAP message)
    Column("magnitude", Float, nullable=False),
    Column("lon", Float, nullable=False),
    Column("lat", Float, nullable=False),
    Column("depth_km", Float, nullable=False),
    Column("stations", Integer, nullable=False),
    Column("buildings", Integer, nullable=False),
    Column("generated", Boolean, nullable=False),  # the inventory is generated (synthetic buildings)
    Column("time_of_day", String, nullable=False),
    # the readings it used: {"lon": [...], "lat": [...], "pga_gal": [...]}, to tell a repeat from news
    Column("readings", JSONDoc, nullable=False),
    # the operator's view: totals, districts, inspection list, cordons, shelter demand (chain.Report)
    Column("report", JSONDoc, nullable=False),
)

damage_cells = Table(
    "quake_damage_cells",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("assessment_id", IdType, ForeignKey("quake_assessments.id", ondelete="CASCADE"), nullable=False),
    Column("incident_id", Integer, nullable=False, index=True),
    Column("current", Boolean, nullable=False),
    Column("geom", Geometry, nullable=False),
    Column("buildings", Integer, nullable=False),
    # mean probability of each Hazus damage state over the cell's buildings
    Column("p_none", Float, nullable=False),
    Column("p_slight", Float, nullable=False),
    Column("p_moderate", Float, nullable=False),
    Column("p_extensive", Float, nullable=False),
    Column("p_complete", Float, nullable=False),
    Column("collapses", Float, nullable=False),  # expected collapsed buildings
    Column("pga_max_g", Float, nullable=False),
    Column("kma_intensity", String, nullable=False),
    Column("generated", Boolean, nullable=False),
)

# assessments waiting for the capability's worker (jobs.py): queued by the bus handlers, run off the bus
jobs = Table(
    "quake_jobs",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("envelope_id", BigInteger, nullable=False, unique=True),  # the event that asked: queued once
    Column("kind", String(20), nullable=False),  # "incident" (accelerometers) | "message" (a CAP message)
    Column("payload", JSONDoc, nullable=False),
    Column("queued_at", Timestamp, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("done_at", Timestamp, nullable=True),
    Column("last_error", String(500), nullable=True),
)
