# SPDX-License-Identifier: Apache-2.0
"""The feature collections served by OGC API – Features, and the queries behind them.

Only public data is listed here: a table or column with personal data is never added (shelters show
their public fields, sensors their Thing's name and position, not device keys or owners). Geometries
are WGS84 (CRS84 axis order: lon, lat).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import shapely
from shapely.geometry import mapping
from sqlalchemy import Boolean, Float, Integer, and_, func, select
from sqlalchemy.engine import Connection
from sqlalchemy.sql import Select
from sqlalchemy.sql.elements import ColumnElement

from safecity.capability import Layer
from safecity.geo import tables as t
from safecity.geo.seoul import Attribution, attribution_for
from safecity.store import Store

#: A feature collection. The type lives in the capability contract (safecity.capability.Layer) so that
#: other capabilities declare their layers without importing geo; geo serves them all.
Collection = Layer


def _areas(
    kind: str,
) -> Callable[[], tuple[Select[Any], ColumnElement[Any], ColumnElement[Any], dict[str, Any]]]:
    def build() -> tuple[Select[Any], ColumnElement[Any], ColumnElement[Any], dict[str, Any]]:
        a = t.areas.c
        cols: dict[str, Any] = {
            "code": a.code,
            "code_system": a.code_system,
            "name_ko": a.name_ko,
            "name_en": a.name_en,
            "population": a.population,
        }
        if kind == "dong":
            cols["district_id"] = a.parent_id
        return select(t.areas).where(a.kind == kind), a.id, a.geom, cols

    return build


def _layer(
    layer: str,
) -> Callable[[], tuple[Select[Any], ColumnElement[Any], ColumnElement[Any], dict[str, Any]]]:
    """An imported layer of ``geo_features`` (``safecity import layer FILE --as LAYER``)."""

    def build() -> tuple[Select[Any], ColumnElement[Any], ColumnElement[Any], dict[str, Any]]:
        f = t.features.c
        cols = {
            "kind": f.kind,
            "name_ko": f.name_ko,
            "name_en": f.name_en,
            "code": f.code,
            "dong_id": f.area_id,
        }
        return select(t.features).where(f.layer == layer), f.id, f.geom, cols

    return build


#: Geography's own collections: areas and imported layers. Other capabilities add theirs through
#: ``Capability.layers`` (shelters, hazard zones, sensors...); :class:`Collections` serves them together.
GEO_LAYERS: tuple[Collection, ...] = (
    Collection(
        "districts",
        "Districts (자치구)",
        "Administrative districts with their official code, code system (mois or kostat) and population.",
        _areas("district"),
        ("administrative", "district"),
        "district",
    ),
    Collection(
        "dongs",
        "Administrative dongs (행정동)",
        "Administrative dongs with their official code, district and resident population.",
        _areas("dong"),
        ("administrative", "dong"),
        "dong",
    ),
    Collection(
        "facilities",
        "Facilities",
        "Imported facility layer (safecity import layer FILE --as facilities).",
        _layer("facilities"),
    ),
    Collection(
        "fire_stations",
        "119 safety centres (119안전센터)",
        "Fire and rescue stations (safecity import layer FILE --as fire_stations).",
        _layer("fire_stations"),
        ("fire", "rescue", "119"),
    ),
    Collection(
        "hospitals",
        "Hospitals (병원)",
        "Hospitals with emergency rooms (safecity import layer FILE --as hospitals).",
        _layer("hospitals"),
        ("medical",),
    ),
    Collection(
        "schools",
        "Schools (학교)",
        "Schools (safecity import layer FILE --as schools).",
        _layer("schools"),
        ("education",),
    ),
    Collection(
        "rivers",
        "Rivers (하천)",
        "Rivers' water areas, the map's landmarks (safecity import layer FILE --as rivers).",
        _layer("rivers"),
        ("hydrography", "river"),
    ),
)


class Collections:
    """Every collection the OGC API serves, by id: geography's own, then those the registered
    capabilities declare (``Capability.layers``), in registration order."""

    def __init__(self, layers: Sequence[Collection]) -> None:
        self._by_id: dict[str, Collection] = {}
        for layer in layers:
            # the first of an id wins: a capability cannot replace geography's (or an earlier one's) layer
            self._by_id.setdefault(layer.id, layer)

    def get(self, collection_id: str) -> Collection | None:
        return self._by_id.get(collection_id)

    def ids(self) -> list[str]:
        return list(self._by_id)

    def all(self) -> list[Collection]:
        return list(self._by_id.values())


@dataclass(frozen=True)
class Page:
    features: list[dict[str, Any]]
    matched: int


def coerce_for(columns: Mapping[str, Any]) -> Callable[[str, Any], Any]:
    """Converter of a filter value (text or literal) to the column's Python type; raises ValueError."""

    def coerce(name: str, value: Any) -> Any:
        col_type = columns[name].type
        if isinstance(col_type, Boolean):
            if isinstance(value, bool):
                return value
            text = str(value).lower()
            if text not in ("true", "false"):
                raise ValueError(value)
            return text == "true"
        if isinstance(col_type, Integer):
            if isinstance(value, bool):
                raise ValueError(value)
            try:
                number = int(value)
            except OverflowError:  # int(1e999): a float literal that is infinite
                raise ValueError(value) from None
            # both stores hold 64-bit integers; a larger bound overflowed the driver (a 500, found by fuzzing)
            if not -(2**63) <= number < 2**63:
                raise ValueError(value)
            return number
        if isinstance(col_type, Float):
            real = float(value)
            if not math.isfinite(real):
                raise ValueError(value)
            return real
        if isinstance(value, bool | int | float):
            return str(value)
        return value

    return coerce


def _feature(
    row: Any, id_col: ColumnElement[Any], geom_col: ColumnElement[Any], cols: Mapping[str, Any]
) -> dict[str, Any]:
    m = row._mapping
    geom = m[geom_col]
    props = {n: m[c] for n, c in cols.items()}
    return {
        "type": "Feature",
        "id": int(m[id_col]),
        "geometry": mapping(geom) if geom is not None else None,
        "properties": props,
    }


def query(
    store: Store,
    conn: Connection,
    collection: Collection,
    *,
    bbox: tuple[float, float, float, float] | None,
    conditions: Sequence[ColumnElement[bool]],
    limit: int,
    offset: int,
) -> Page:
    """One page of features in id order, and how many match in all."""
    base, id_col, geom_col, cols = collection.base()
    where: list[ColumnElement[bool]] = list(conditions)
    if bbox is not None:
        box = shapely.box(*bbox)
        where.append(store.spatial("st_intersects", [geom_col, store.geometry_literal(box.wkt)]) == True)  # noqa: E712 - SQL comparison
    q = base.where(and_(*where)) if where else base
    matched = int(conn.execute(select(func.count()).select_from(q.subquery())).scalar_one())
    rows = conn.execute(q.order_by(id_col).limit(limit).offset(offset)).all()
    return Page([_feature(r, id_col, geom_col, cols) for r in rows], matched)


def one(conn: Connection, collection: Collection, feature_id: int) -> dict[str, Any] | None:
    base, id_col, geom_col, cols = collection.base()
    row = conn.execute(base.where(id_col == feature_id)).first()
    return None if row is None else _feature(row, id_col, geom_col, cols)


def columns(collection: Collection) -> dict[str, Any]:
    """The queryable columns of a collection, by property name."""
    return collection.base()[3]


def attribution(conn: Connection, collection: Collection) -> Attribution | None:
    """The attribution the collection's rows owe (the shipped Seoul boundaries'), or None."""
    if collection.area_kind is None:
        return None
    sources = conn.execute(
        select(t.areas.c.source).where(t.areas.c.kind == collection.area_kind).distinct()
    ).scalars()
    return attribution_for(sources)


def extent(store: Store, conn: Connection, collection: Collection) -> list[float] | None:
    """The CRS84 bounding box [minLon, minLat, maxLon, maxLat] of a collection, or None when empty."""
    base, _id, _geom, _cols = collection.base()
    sub = base.subquery()
    if store.dialect == "postgresql":
        box = func.ST_Extent(sub.c.geom)
        row = conn.execute(
            select(func.ST_XMin(box), func.ST_YMin(box), func.ST_XMax(box), func.ST_YMax(box))
        ).one()
        return None if row[0] is None else [float(v) for v in row]
    geoms = [g for (g,) in conn.execute(select(sub.c.geom)) if g is not None]
    if not geoms:
        return None
    return [float(v) for v in shapely.total_bounds(geoms)]
