# SPDX-License-Identifier: Apache-2.0
"""The administrative areas every capability asks about: which district or dong is this point in?

Geometries are WGS84 lon/lat. Lookups run in memory on shapely's STRtree over prepared geometries, cached
per database engine; the cache is rebuilt when ``geo_areas`` changes (its row count, latest
``imported_at`` or population sum differ: one cheap query per call, so imports by another process are
seen) and dropped at once by :func:`invalidate` after an import in this process.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

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


@dataclass
class _Index:
    version: tuple[int, datetime | None, int | None]
    refs: dict[int, AreaRef]
    by_kind: dict[str, tuple[list[AreaRef], list[BaseGeometry], STRtree]]


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
    for row in conn.execute(select(t.areas).order_by(t.areas.c.id)):
        ref = _ref(row)
        refs[ref.id] = ref
        geom: BaseGeometry = row.geom
        shapely.prepare(geom)
        lst = grouped.setdefault(ref.kind, ([], []))
        lst[0].append(ref)
        lst[1].append(geom)
    by_kind = {k: (v[0], v[1], STRtree(v[1])) for k, v in grouped.items()}
    index = _Index(version, refs, by_kind)
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
    """The area with this official code. Without ``code_system`` a MOIS area wins over a KOSTAT one,
    because 5-digit codes collide between the systems."""
    found = [
        r
        for r in _index(conn).refs.values()
        if r.code == code
        and (code_system is None or r.code_system == code_system)
        and (kind is None or r.kind == kind)
    ]
    if not found:
        return None
    return min(found, key=lambda r: (_SYSTEM_ORDER.get(r.code_system, 9), r.id))


def geometry_of(conn: Connection, area_id: int) -> BaseGeometry | None:
    """The cached WGS84 geometry of an area."""
    index = _index(conn)
    ref = index.refs.get(area_id)
    if ref is None:
        return None
    refs, geoms, _ = index.by_kind[ref.kind]
    return geoms[refs.index(ref)]
