# SPDX-License-Identifier: Apache-2.0
"""Tables of the evacuation capability."""

from sqlalchemy import Boolean, CheckConstraint, Column, ForeignKey, Integer, String, Table, text

from safecity.store.metadata import metadata
from safecity.store.types import Geometry, IdType, JSONDoc, Timestamp

shelters = Table(
    "evac_shelters",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("code", String, unique=True),  # the operator's or source dataset's id
    # "earthquake_outdoor" (지진옥외대피장소), "temporary_housing" (임시주거시설), "heat" (무더위쉼터),
    # "cold" (한파쉼터), "civil_defence" (민방위대피시설)
    Column("kind", String, nullable=False, index=True),
    Column("name_ko", String, nullable=False),
    Column("name_en", String),
    Column("address", String),
    # NULL: the source did not say (an imported dataset without a capacity column). Known to exist, size
    # unknown: never "0 places" (issue 12); the CHECKs below pass on NULL, as SQL's CHECK does.
    Column("capacity", Integer),
    Column("occupancy", Integer, nullable=False, server_default=text("0")),
    Column("is_open", Boolean, nullable=False, server_default=text("true")),
    Column("wheelchair", Boolean, nullable=False, server_default=text("false")),
    Column("elevator", Boolean, nullable=False, server_default=text("false")),
    # Hazards the shelter is safe from, e.g. ["earthquake", "heat"]; a riverside site is not a flood shelter.
    Column("safe_from", JSONDoc, nullable=False),
    Column("area_id", IdType, ForeignKey("geo_areas.id", ondelete="SET NULL"), index=True),
    Column("geom", Geometry, nullable=False),
    Column("properties", JSONDoc),
    Column("created_at", Timestamp),  # null only for rows written before migration 0003 backfilled it
    Column("updated_at", Timestamp, nullable=False),
    # Enforced by the database too (migration 0003), whoever writes: never more people than places.
    CheckConstraint("capacity >= 0", name="capacity_nonnegative"),
    CheckConstraint("occupancy >= 0 AND occupancy <= capacity", name="occupancy_within_capacity"),
)

hazard_zones = Table(
    "evac_hazard_zones",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("hazard", String, nullable=False, index=True),  # "flood", "landslide", "collapse", "fire", ...
    Column("name_ko", String),
    Column("name_en", String),
    Column("active", Boolean, nullable=False, server_default=text("true")),
    Column("geom", Geometry, nullable=False),
    # Evacuation information for the zone: where to go, which way, what to avoid (ko and en).
    Column("guidance", JSONDoc),
    Column("properties", JSONDoc),
    Column("source", String),
    Column("created_at", Timestamp, nullable=False),
    Column("expires_at", Timestamp),
    Column("deactivated_at", Timestamp),  # when an operator lifted it (active set to false)
)

road_closures = Table(
    "evac_road_closures",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("reason", String, nullable=False),
    Column("active", Boolean, nullable=False, server_default=text("true")),
    Column("geom", Geometry, nullable=False),  # a line along the closed road, or a polygon
    Column("created_at", Timestamp, nullable=False),
    Column("expires_at", Timestamp),
    Column("deactivated_at", Timestamp),  # when an operator lifted it (active set to false)
)
