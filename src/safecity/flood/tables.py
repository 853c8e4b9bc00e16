# SPDX-License-Identifier: Apache-2.0
"""The flood capability's tables: forecast runs, their depth areas and their places (WGS84)."""

from __future__ import annotations

import sqlalchemy as sa

from safecity.store.metadata import metadata
from safecity.store.types import Geometry, IdType, JSONDoc, Timestamp

runs = sa.Table(
    "flood_forecast_runs",
    metadata,
    sa.Column("id", IdType, primary_key=True, autoincrement=True),
    sa.Column("issued_at", Timestamp, nullable=False, index=True),
    sa.Column("valid_until", Timestamp, nullable=False),
    sa.Column("cell_m", sa.Float, nullable=False),
    sa.Column("cells", sa.Integer, nullable=False),
    sa.Column("rain_max_mm_h", sa.Float, nullable=False),
    sa.Column("motion", JSONDoc, nullable=False),  # u, v (m/s), known, method
    sa.Column("elapsed_s", sa.Float, nullable=False),  # wall-clock time of the run
    sa.Column("catchment", sa.String, nullable=False),  # e.g. "demo city (generated terrain), 100 m"
    sa.Column("closures", JSONDoc, nullable=False),  # evacuation road-closure ids this run opened
)

areas = sa.Table(
    "flood_forecast_areas",
    metadata,
    sa.Column("id", IdType, primary_key=True, autoincrement=True),
    sa.Column("run_id", IdType, nullable=False, index=True),
    sa.Column("depth_min_m", sa.Float, nullable=False),
    sa.Column("depth_max_m", sa.Float),
    sa.Column("area_m2", sa.Float, nullable=False),
    sa.Column("issued_at", Timestamp, nullable=False),
    sa.Column("valid_until", Timestamp, nullable=False),
    sa.Column("geom", Geometry, nullable=False),
)

places = sa.Table(
    "flood_forecast_places",
    metadata,
    sa.Column("id", IdType, primary_key=True, autoincrement=True),
    sa.Column("run_id", IdType, nullable=False, index=True),
    sa.Column("code", sa.String, nullable=False),
    sa.Column("kind", sa.String, nullable=False),  # underpass | road | building
    sa.Column("name_ko", sa.String, nullable=False),
    sa.Column("name_en", sa.String, nullable=False),
    sa.Column("district", sa.String),
    sa.Column("depth_now_m", sa.Float, nullable=False),
    sa.Column("depth_max_m", sa.Float, nullable=False),
    sa.Column("crosses_at", Timestamp),  # first time the water reaches 15 cm within the horizon
    sa.Column("risk", sa.String),  # semi-basement buildings: high | watch
    sa.Column("properties", JSONDoc, nullable=False),
    sa.Column("geom", Geometry, nullable=False),
)

# places a city imports for its forecasts (safecity import layer FILE --as underpasses|semi-basements):
# road underpasses, and buildings with semi-basement homes (flood_0002)
sites = sa.Table(
    "flood_sites",
    metadata,
    sa.Column("id", IdType, primary_key=True, autoincrement=True),
    sa.Column("kind", sa.String(16), nullable=False, index=True),  # underpass | semi_basement
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("homes", sa.Integer, nullable=False),  # semi-basement homes in it (1 for an underpass)
    sa.Column("source", sa.String(300), nullable=False),
    sa.Column("generated", sa.Boolean, nullable=False),  # generated, not surveyed: labelled so
    sa.Column("geom", Geometry, nullable=False),  # WGS84 point
    sa.Column("imported_at", Timestamp, nullable=False),
)
