# SPDX-License-Identifier: Apache-2.0
"""The administrative areas every capability asks about: which district or dong is this point in?

Geometries are WGS84 lon/lat. Lookups run in memory on shapely's STRtree over prepared geometries, cached
per database engine; the cache is rebuilt when ``geo_areas`` changes (its row count, latest
``imported_at`` or population sum differ: one cheap query per call, so imports by another process are
seen) and dropped at once by :func:`invalidate` after an import in this process.

Districts (자치구, 5-digit codes) and administrative dongs (행정동, 10-digit MOIS codes) answer the same
calls: :func:`area_by_code` takes either code, :func:`parent_of` and :func:`dongs_of` walk the hierarchy,
:func:`areas_at` gives a point's dong and district together, and :func:`locate` places many points at
once (a subscriber list, a sensor network).
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import numpy as np
import shapely
from shapely import STRtree
from shapely.geometry.base import BaseGeometry
from sqlalchemy import func, select
from sqlalchemy.engine import Connection, Engine

from safecity.geo import tables as t

AreaKind = Literal["district", "dong"]

#: Preference when the same code exists in several systems (MOIS 11110 is 종로구, KOSTAT 11110 is not).
_SYSTEM_ORDER = {"mois": 0, "kostat": 1, "mois_legal": 2}


@dataclass(frozen=True)
class AreaRef:
    """An administrative area, without its geometry."""

    id: int
    kind: str
    code: str
    code_system: str
    name_ko: str
    name_en: str | None
    parent_id: int | None
    population: int | None


@dataclass(frozen=True)
class AreasAt:
    """The dong and the district a point is in (either None outside them). When dongs are loaded the
    district is the dong's own parent, so the pair never disagrees along a border."""

    dong: AreaRef | None
    district: AreaRef | None

    @property
    def codes(self) -> tuple[str, ...]:
        """The codes, most precise first: ``("1159068000", "11590")``, ``("11590",)`` or ``()``."""
        return tuple(a.code for a in (self.dong, self.district) if a is not None)


@dataclass
class _Index:
    version: tuple[int, datetime | None, int | None]
    refs: dict[int, AreaRef]
    by_kind: dict[str, tuple[list[AreaRef], list[BaseGeometry], STRtree]]
    by_code: dict[str, list[AreaRef]]
    geoms: dict[int, BaseGeometry]
    children: dict[int, list[AreaRef]]
    #: per kind, each area's rank for ties on a shared border (code system, then id), in tree order
    ranks: dict[str, np.ndarray[Any, np.dtype[np.int64]]]


_cache: weakref.WeakKeyDictionary[Engine, _Index] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def invalidate(engine: Engine) -> None:
    """Forget the cached areas of a store (call after writing ``geo_areas``)."""
    with _lock:
        _cache.pop(engine, None)


def _version(conn: Connection) -> tuple[int, datetime | None, int | None]:
    # Another process (the CLI importing into a running server) changes rows: a new import moves
    # imported_at, a population import moves the population sum.
    row = conn.execute(
        select(func.count(), func.max(t.areas.c.imported_at), func.sum(t.areas.c.population))
    ).one()
    return int(row[0]), row[1], None if row[2] is None else int(row[2])


def _ref(row: object) -> AreaRef:
    r = row._mapping  # type: ignore[attr-defined]
    return AreaRef(
        int(r["id"]),
        r["kind"],
        r["code"],
        r["code_system"],
        r["name_ko"],
        r["name_en"],
        None if r["parent_id"] is None else int(r["parent_id"]),
        r["population"],
    )


def _index(conn: Connection) -> _Index:
    version = _version(conn)
    with _lock:
        cached = _cache.get(conn.engine)
    if cached is not None and cached.version == version:
        return cached
    refs: dict[int, AreaRef] = {}
    grouped: dict[str, tuple[list[AreaRef], list[BaseGeometry]]] = {}
    by_code: dict[str, list[AreaRef]] = {}
    geoms: dict[int, BaseGeometry] = {}
    children: dict[int, list[AreaRef]] = {}
    for row in conn.execute(select(t.areas).order_by(t.areas.c.id)):
        ref = _ref(row)
        refs[ref.id] = ref
        geom: BaseGeometry = row.geom
        shapely.prepare(geom)
        geoms[ref.id] = geom
        by_code.setdefault(ref.code, []).append(ref)
        if ref.parent_id is not None:
            children.setdefault(ref.parent_id, []).append(ref)
        lst = grouped.setdefault(ref.kind, ([], []))
        lst[0].append(ref)
        lst[1].append(geom)
    by_kind = {k: (v[0], v[1], STRtree(v[1])) for k, v in grouped.items()}
    ranks = {
        k: np.array([_SYSTEM_ORDER.get(r.code_system, 9) for r in v[0]], dtype=np.int64) * len(v[0])
        + np.arange(len(v[0]), dtype=np.int64)
        for k, v in grouped.items()
    }
    for kids in children.values():
        kids.sort(key=lambda r: (r.code_system, r.code))
    index = _Index(version, refs, by_kind, by_code, geoms, children, ranks)
    with _lock:
        _cache[conn.engine] = index
    return index


def area_at(conn: Connection, lon: float, lat: float, kind: AreaKind = "dong") -> AreaRef | None:
    """The area of ``kind`` containing the point (WGS84 degrees), or None outside every area.

    A point on a shared border belongs to the area with the lowest id (stable, not geographic). When
    areas of several code systems are loaded, MOIS areas are preferred.
    """
    return _lookup(_index(conn), lon, lat, kind)


def area_finder(conn: Connection) -> Callable[[float, float, AreaKind], AreaRef | None]:
    """``area_at`` for many points: the areas are read (or their version checked) once, not per point,
    which is what placing a thousand sensors needs. The finder sees the areas as they were when made."""
    index = _index(conn)
    return lambda lon, lat, kind: _lookup(index, lon, lat, kind)


def _lookup(index: _Index, lon: float, lat: float, kind: AreaKind) -> AreaRef | None:
    entry = index.by_kind.get(kind)
    if entry is None:
        return None
    refs, _geoms, tree = entry
    point = shapely.Point(lon, lat)
    hits = tree.query(point, predicate="intersects")
    if len(hits) == 0:
        return None
    candidates = [refs[int(i)] for i in np.sort(hits)]
    return min(candidates, key=lambda r: (_SYSTEM_ORDER.get(r.code_system, 9), r.id))


def areas_at(conn: Connection, lon: float, lat: float) -> AreasAt:
    """The dong and the district containing the point (WGS84 degrees).

    The district is the dong's parent when the point is in a dong that has one; otherwise (no dongs
    loaded, or a point outside them) the district containing the point.
    """
    index = _index(conn)
    dong = _lookup(index, lon, lat, "dong")
    parent = index.refs.get(dong.parent_id) if dong is not None and dong.parent_id is not None else None
    district = parent if parent is not None else _lookup(index, lon, lat, "district")
    return AreasAt(dong, district)


def locate(
    conn: Connection,
    lon: Sequence[float] | np.ndarray[Any, Any],
    lat: Sequence[float] | np.ndarray[Any, Any],
    kind: AreaKind = "dong",
) -> np.ndarray[Any, np.dtype[np.int64]]:
    """The id of the area of ``kind`` containing each point (-1 outside every area), for many points at
    once: one vectorised STRtree query, about 20 times faster than :func:`area_finder` point by point
    (200,000 points among Seoul's 425 dongs: 3.1 s against ~62 s, both on a loaded 2-core machine).

    A point on a shared border gets the same area as :func:`area_at` (MOIS first, then the lowest id).
    """
    x = np.asarray(lon, dtype=np.float64)
    y = np.asarray(lat, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError("lon and lat must be 1-d sequences of the same length")
    out = np.full(len(x), -1, dtype=np.int64)
    index = _index(conn)
    entry = index.by_kind.get(kind)
    if entry is None or len(x) == 0:
        return out
    refs, _geoms, tree = entry
    point_i, area_i = tree.query(shapely.points(x, y), predicate="intersects")
    if len(point_i) == 0:
        return out
    rank = index.ranks[kind][area_i]
    # per point, the hit with the smallest rank: sort by (point, rank), keep each point's first
    order = np.lexsort((rank, point_i))
    point_i, area_i = point_i[order], area_i[order]
    first = np.ones(len(point_i), dtype=bool)
    first[1:] = point_i[1:] != point_i[:-1]
    ids = np.fromiter((r.id for r in refs), dtype=np.int64, count=len(refs))
    out[point_i[first]] = ids[area_i[first]]
    return out


def parent_of(conn: Connection, area: AreaRef | int) -> AreaRef | None:
    """The district of a dong (None for a district or a dong without a parent)."""
    ref = area_by_id(conn, area) if isinstance(area, int) else area
    if ref is None or ref.parent_id is None:
        return None
    return area_by_id(conn, ref.parent_id)


def dongs_of(conn: Connection, district: AreaRef | str) -> list[AreaRef]:
    """The dongs of a district (given as a ref or its code), ordered by code; [] for an unknown code."""
    ref = area_by_code(conn, district, kind="district") if isinstance(district, str) else district
    if ref is None:
        return []
    return [r for r in _index(conn).children.get(ref.id, []) if r.kind == "dong"]


def areas_of(conn: Connection, kind: AreaKind, code_system: str | None = None) -> list[AreaRef]:
    """Every area of ``kind`` (optionally of one code system), ordered by code."""
    index = _index(conn)
    entry = index.by_kind.get(kind)
    if entry is None:
        return []
    return sorted(
        (r for r in entry[0] if code_system is None or r.code_system == code_system),
        key=lambda r: (r.code_system, r.code),
    )


def area_by_id(conn: Connection, area_id: int) -> AreaRef | None:
    return _index(conn).refs.get(area_id)


def area_by_code(
    conn: Connection, code: str, *, code_system: str | None = None, kind: AreaKind | None = None
) -> AreaRef | None:
    """The area with this official code: a 5-digit district (``11590``) or a 10-digit MOIS dong
    (``1159068000``); ``kind`` restricts it. Without ``code_system`` a MOIS area wins over a KOSTAT
    one, because 5-digit codes collide between the systems."""
    found = [
        r
        for r in _index(conn).by_code.get(code, ())
        if (code_system is None or r.code_system == code_system) and (kind is None or r.kind == kind)
    ]
    if not found:
        return None
    return min(found, key=lambda r: (_SYSTEM_ORDER.get(r.code_system, 9), r.id))


def geometry_of(conn: Connection, area_id: int) -> BaseGeometry | None:
    """The cached WGS84 geometry of an area (prepared: fast repeated predicates)."""
    return _index(conn).geoms.get(area_id)
