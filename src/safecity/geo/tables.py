# SPDX-License-Identifier: Apache-2.0
"""Tables of the geography capability.

``geo_areas`` holds the administrative hierarchy every capability uses (district = 자치구/시군구,
dong = 행정동), with the official code and the code system it belongs to: the Ministry of the Interior
(MOIS, 행정안전부) codes — 5-digit sigungu ``11110``, 10-digit administrative dong ``1111051500`` — and
Statistics Korea (KOSTAT, 통계청) codes — ``11010``, ``1101053`` — number the same places differently.
``geo_features`` holds other imported layers (facilities, hazard zones...) as features.
"""

from sqlalchemy import Column, ForeignKey, Index, Integer, String, Table, UniqueConstraint

from safecity.store.metadata import metadata
from safecity.store.types import Geometry, IdType, JSONDoc, Timestamp

areas = Table(
    "geo_areas",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("kind", String, nullable=False),  # "district" | "dong"
    Column("code", String, nullable=False),
    Column("code_system", String, nullable=False),  # "mois" | "kostat"
    Column("name_ko", String, nullable=False),
    Column("name_en", String),
    Column("parent_id", IdType, ForeignKey("geo_areas.id", ondelete="SET NULL"), index=True),
    Column("population", Integer),
    Column("geom", Geometry, nullable=False),
    Column("properties", JSONDoc),
    Column("source", String),
    Column("imported_at", Timestamp, nullable=False),
    UniqueConstraint("kind", "code_system", "code", name="uq_geo_areas_kind_system_code"),
)

features = Table(
    "geo_features",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("layer", String, nullable=False),  # "facilities", "hazard-zones", ...
    Column("kind", String),  # subtype within the layer, e.g. "bridge", "flood"
    Column("name_ko", String),
    Column("name_en", String),
    Column("code", String),  # the source's own id, when it has one
    Column("properties", JSONDoc),
    Column("geom", Geometry, nullable=False),
    Column("area_id", IdType, ForeignKey("geo_areas.id", ondelete="SET NULL"), index=True),
    Column("source", String),
    Column("imported_at", Timestamp, nullable=False),
    Index("ix_geo_features_layer", "layer", "kind"),
)
