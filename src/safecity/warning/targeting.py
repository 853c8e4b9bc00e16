# SPDX-License-Identifier: Apache-2.0
"""Who receives an alert: the subscriptions whose areas meet the alert's area.

:meth:`TargetIndex.recipients` answers, for an alert area (WGS84 shapely geometry; a CAP circle is given
as a polygon, see :func:`safecity.warning.subscriptions.circle`) and/or district and dong codes, the ids
of the subscriptions that:

* have a point (home, work; no radius) inside the alert area or inside one of the alert's districts or
  dongs (their boundaries, when the index knows them);
* have a shape (a district or dong boundary, a polygon, a point's circle) overlapping the alert area —
  more than touching: the overlap must reach :data:`MIN_OVERLAP_M2` (or half the smaller area, for tiny
  shapes). Seoul's district boundary files overlap their neighbours by slivers of up to ~26 m², so plain
  ``intersects`` would send a 관악구 alert to every 동작구 subscriber;
* subscribed to one of the alert's codes, or to a dong of an alerted district, or to the district of an
  alerted dong (MOIS dong codes begin with their district's code).

Points are the bulk (millions of citizens) and are searched on a uniform grid: points sorted by cell,
the alert polygon classifies the cells of its bounding box as inside (all their points are taken
without a test), boundary (their points are tested with ``shapely.contains_xy`` on the prepared polygon)
or outside. Shapes are few (thousands) and are tested vectorised against the prepared alert geometry.

Refresh: incremental. :meth:`TargetIndex.add` appends a subscription's points to a small unsorted
buffer (searched by bounding box and ``contains_xy``) and :meth:`TargetIndex.remove` blanks its points
(one vectorised pass over the id array, ~10 ms for 10 million points) and drops its shapes and codes;
the buffer is merged into the grid (one sort, ~1 s for 10 million) when it outgrows
:data:`MERGE_AT` or 1 % of the grid. A full rebuild from the store is :meth:`TargetIndex.from_store`.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import shapely
from numpy.typing import NDArray
from shapely.geometry.base import BaseGeometry
from sqlalchemy.engine import Connection

from safecity.geo.areas import areas_of, geometry_of
from safecity.warning.subscriptions import Subscription, active_subscriptions

#: Overlap (m²) above which a shape meets the alert area; above the boundary files' slivers (≤ 26 m²
#: between Seoul's districts), far below any alert area (a 50 m circle is 7,850 m²).
MIN_OVERLAP_M2 = 1_000.0
#: Points per grid cell aimed at when the grid is built.
POINTS_PER_CELL = 32
MAX_CELLS_PER_AXIS = 1024
#: Points buffered before the unsorted buffer is merged into the grid (or 1 % of the grid if larger).
MERGE_AT = 50_000

_EMPTY = np.empty(0, dtype=np.int64)


@dataclass(frozen=True)
class Target:
    """What of a subscription the index matches: points (lon, lat) without radius, one shape (the
    union of its boundaries, polygons and circles) and the district and dong codes it names."""

    id: int
    points: tuple[tuple[float, float], ...] = ()
    shape: BaseGeometry | None = None
    codes: tuple[str, ...] = ()


def target_of(sub: Subscription) -> Target:
    """A stored subscription as a :class:`Target` (its geometry column holds the union of its areas)."""
    points = tuple(
        (float(a["lon"]), float(a["lat"]))
        for a in sub.areas
        if a.get("kind") == "point" and not a.get("radius_m")
    )
    codes = tuple(str(a["code"]) for a in sub.areas if a.get("kind") in ("district", "dong"))
    shape = None
    if sub.geom is not None:
        polygonal = [g for g in shapely.get_parts(sub.geom) if g.geom_type in ("Polygon", "MultiPolygon")]
        if polygonal:
            shape = shapely.union_all(polygonal)
    return Target(sub.id, points, shape, codes)


def _m2_per_deg2(lat: float) -> float:
    # Local equirectangular scale: at Seoul's latitude within 0.5 % over the city, enough for a threshold.
    return (111_320.0**2) * math.cos(math.radians(lat))


@dataclass
class _Grid:
    """Points sorted by cell: ``lon``, ``lat``, ``ids`` in cell order; ``start[c]`` is cell c's first."""

    x0: float
    y0: float
    dx: float
    dy: float
    nx: int
    ny: int
    lon: NDArray[np.float64]
    lat: NDArray[np.float64]
    ids: NDArray[np.int64]
    start: NDArray[np.int64]

    @classmethod
    def build(cls, lon: NDArray[np.float64], lat: NDArray[np.float64], ids: NDArray[np.int64]) -> _Grid:
        n = len(ids)
        if n == 0:
            return cls(0.0, 0.0, 1.0, 1.0, 1, 1, lon, lat, ids, np.zeros(2, dtype=np.int64))
        x0, x1 = float(lon.min()), float(lon.max())
        y0, y1 = float(lat.min()), float(lat.max())
        w, h = max(x1 - x0, 1e-9), max(y1 - y0, 1e-9)
        cells = max(1.0, n / POINTS_PER_CELL)
        side = math.sqrt(cells * w / h)  # cells roughly square in degrees
        nx = int(min(MAX_CELLS_PER_AXIS, max(1, round(side))))
        ny = int(min(MAX_CELLS_PER_AXIS, max(1, round(cells / nx))))
        # Widen by a hair so the maximum falls inside the last cell.
        dx, dy = w * (1 + 1e-9) / nx, h * (1 + 1e-9) / ny
        cx = np.minimum(((lon - x0) / dx).astype(np.int64), nx - 1)
        cy = np.minimum(((lat - y0) / dy).astype(np.int64), ny - 1)
        cell = cy * nx + cx
        order = np.argsort(cell, kind="stable")
        counts = np.bincount(cell, minlength=nx * ny)
        start = np.zeros(nx * ny + 1, dtype=np.int64)
        np.cumsum(counts, out=start[1:])
        return cls(x0, y0, dx, dy, nx, ny, lon[order], lat[order], ids[order], start)

    def inside_bounds(self, lon: NDArray[np.float64], lat: NDArray[np.float64]) -> NDArray[np.bool_]:
        return (
            (lon >= self.x0)
            & (lon <= self.x0 + self.dx * self.nx)
            & (lat >= self.y0)
            & (lat <= self.y0 + self.dy * self.ny)
        )

    def query(self, area: BaseGeometry) -> NDArray[np.int64]:
        """Ids (with repeats, including blanked -1) of points inside ``area`` (prepared)."""
        if len(self.ids) == 0:
            return _EMPTY
        minx, miny, maxx, maxy = area.bounds
        ix0 = max(0, int((minx - self.x0) // self.dx))
        ix1 = min(self.nx - 1, int((maxx - self.x0) // self.dx))
        iy0 = max(0, int((miny - self.y0) // self.dy))
        iy1 = min(self.ny - 1, int((maxy - self.y0) // self.dy))
        if ix0 > ix1 or iy0 > iy1:
            return _EMPTY
        gx, gy = np.meshgrid(np.arange(ix0, ix1 + 1), np.arange(iy0, iy1 + 1))
        jx, jy = gx.ravel(), gy.ravel()
        cell = jy * self.nx + jx
        nonempty = self.start[cell + 1] > self.start[cell]
        jx, jy, cell = jx[nonempty], jy[nonempty], cell[nonempty]
        if len(cell) == 0:
            return _EMPTY
        boxes = shapely.box(
            self.x0 + jx * self.dx,
            self.y0 + jy * self.dy,
            self.x0 + (jx + 1) * self.dx,
            self.y0 + (jy + 1) * self.dy,
        )
        inside = shapely.contains_properly(area, boxes)
        edge = ~inside & shapely.intersects(area, boxes)
        taken = _ranges(self.start[cell[inside]], self.start[cell[inside] + 1])
        maybe = _ranges(self.start[cell[edge]], self.start[cell[edge] + 1])
        hit = maybe[shapely.contains_xy(area, self.lon[maybe], self.lat[maybe])]
        return np.concatenate([self.ids[taken], self.ids[hit]])


def _ranges(starts: NDArray[np.int64], ends: NDArray[np.int64]) -> NDArray[np.int64]:
    """The concatenation of ``arange(s, e)`` for each pair, vectorised."""
    counts = ends - starts
    total = int(counts.sum())
    if total == 0:
        return _EMPTY
    offsets = np.repeat(starts - np.concatenate([[0], np.cumsum(counts)[:-1]]), counts)
    return offsets + np.arange(total, dtype=np.int64)


@dataclass
class _Shapes:
    ids: NDArray[np.int64] = field(default_factory=lambda: _EMPTY)
    geoms: NDArray[np.object_] = field(default_factory=lambda: np.empty(0, dtype=object))
    areas: NDArray[np.float64] = field(default_factory=lambda: np.empty(0))


class TargetIndex:
    """Subscriptions indexed for :meth:`recipients`. Thread-safe: changes and queries take a lock.

    Build from the store with :meth:`from_store`, or from arrays (the bench, a bulk import) with the
    constructor: ``lon``, ``lat`` (WGS84 degrees) and ``ids`` of point subscriptions (an id may repeat:
    home and work). ``area_geometries`` maps district and dong codes to their boundaries, so an alert
    given only by codes still finds the points inside them.
    """

    def __init__(
        self,
        lon: Sequence[float] | NDArray[np.float64] = (),
        lat: Sequence[float] | NDArray[np.float64] = (),
        ids: Sequence[int] | NDArray[np.int64] = (),
        *,
        targets: Iterable[Target] = (),
        area_geometries: Mapping[str, BaseGeometry] | None = None,
    ) -> None:
        lon_a = np.ascontiguousarray(lon, dtype=np.float64)
        lat_a = np.ascontiguousarray(lat, dtype=np.float64)
        ids_a = np.ascontiguousarray(ids, dtype=np.int64)
        if not (lon_a.shape == lat_a.shape == ids_a.shape and lon_a.ndim == 1):
            raise ValueError("lon, lat and ids must be 1-d arrays of the same length")
        self._lock = threading.RLock()
        self._areas = dict(area_geometries or {})
        self._shape_of: dict[int, BaseGeometry] = {}
        self._codes_of: dict[int, tuple[str, ...]] = {}
        self._by_code: dict[str, set[int]] = {}
        self._shapes: _Shapes | None = None
        self._buf_lon: list[float] = []
        self._buf_lat: list[float] = []
        self._buf_ids: list[int] = []
        extra = list(targets)
        pts = [(x, y, t.id) for t in extra for x, y in t.points]
        if pts:
            arr = np.asarray(pts, dtype=np.float64)
            lon_a = np.concatenate([lon_a, arr[:, 0]])
            lat_a = np.concatenate([lat_a, arr[:, 1]])
            ids_a = np.concatenate([ids_a, arr[:, 2].astype(np.int64)])
        self._grid = _Grid.build(lon_a, lat_a, ids_a)
        for t in extra:
            self._add_area(t)

    @classmethod
    def from_store(cls, conn: Connection) -> TargetIndex:
        """Every active subscription, with the district and dong boundaries of ``geo_areas``."""
        geoms: dict[str, BaseGeometry] = {}
        for kind in ("district", "dong"):
            # 5-digit codes collide between systems (KOSTAT 11110 is not MOIS 11110): MOIS first wins.
            for ref in sorted(areas_of(conn, kind), key=lambda r: r.code_system != "mois"):
                g = geometry_of(conn, ref.id)
                if g is not None:
                    geoms.setdefault(ref.code, g)
        return cls(targets=[target_of(s) for s in active_subscriptions(conn)], area_geometries=geoms)

    # ------------------------------------------------------------------------------------------ changes

    def add(self, target: Target) -> None:
        """Add one subscription (remove it first when it changed: :meth:`add` does not replace)."""
        with self._lock:
            for x, y in target.points:
                self._buf_lon.append(x)
                self._buf_lat.append(y)
                self._buf_ids.append(target.id)
            self._add_area(target)
            if len(self._buf_ids) > max(MERGE_AT, len(self._grid.ids) // 100):
                self._merge()

    def remove(self, subscription_id: int) -> None:
        """Forget a subscription (no-op when unknown)."""
        with self._lock:
            blank = self._grid.ids == subscription_id
            if blank.any():
                self._grid.ids[blank] = -1
            if subscription_id in self._buf_ids:
                keep = [i for i, s in enumerate(self._buf_ids) if s != subscription_id]
                self._buf_lon = [self._buf_lon[i] for i in keep]
                self._buf_lat = [self._buf_lat[i] for i in keep]
                self._buf_ids = [self._buf_ids[i] for i in keep]
            if self._shape_of.pop(subscription_id, None) is not None:
                self._shapes = None
            for code in self._codes_of.pop(subscription_id, ()):
                for key in _keys(code):
                    self._by_code.get(key, set()).discard(subscription_id)

    def _add_area(self, target: Target) -> None:
        if target.shape is not None and not target.shape.is_empty:
            self._shape_of[target.id] = target.shape
            self._shapes = None
        if target.codes:
            self._codes_of[target.id] = target.codes
            for code in target.codes:
                for key in _keys(code):
                    self._by_code.setdefault(key, set()).add(target.id)

    def _merge(self) -> None:
        live = self._grid.ids >= 0
        lon = np.concatenate([self._grid.lon[live], np.asarray(self._buf_lon, dtype=np.float64)])
        lat = np.concatenate([self._grid.lat[live], np.asarray(self._buf_lat, dtype=np.float64)])
        ids = np.concatenate([self._grid.ids[live], np.asarray(self._buf_ids, dtype=np.int64)])
        self._grid = _Grid.build(lon, lat, ids)
        self._buf_lon, self._buf_lat, self._buf_ids = [], [], []

    def _shape_arrays(self) -> _Shapes:
        if self._shapes is None:
            ids = np.fromiter(self._shape_of, dtype=np.int64, count=len(self._shape_of))
            geoms = np.empty(len(ids), dtype=object)
            geoms[:] = list(self._shape_of.values())
            shapely.prepare(geoms)
            self._shapes = _Shapes(ids, geoms, shapely.area(geoms))
        return self._shapes

    # ------------------------------------------------------------------------------------------ queries

    def __len__(self) -> int:
        """Number of indexed points (not subscriptions)."""
        with self._lock:
            return int((self._grid.ids >= 0).sum()) + len(self._buf_ids)

    def recipients(self, area: BaseGeometry | None, district_codes: Sequence[str] = ()) -> NDArray[np.int64]:
        """Sorted unique ids of the subscriptions an alert for ``area`` (WGS84, polygonal) and/or
        ``district_codes`` (5-digit district or 10-digit dong MOIS codes) reaches; see the module doc."""
        codes = [str(c) for c in district_codes]
        parts = [area] if area is not None and not area.is_empty else []
        parts += [self._areas[c] for c in codes if c in self._areas]
        where = shapely.union_all(parts) if len(parts) > 1 else (parts[0] if parts else None)
        found: list[NDArray[np.int64]] = []
        with self._lock:
            if where is not None:
                shapely.prepare(where)
                found.append(self._points_in(where))
                found.append(self._shapes_meeting(where))
            for code in codes:
                found.append(np.fromiter(self._code_hits(code), dtype=np.int64))
        if not found:
            return _EMPTY
        ids = np.concatenate(found)
        return _unique(ids[ids >= 0])

    def _points_in(self, where: BaseGeometry) -> NDArray[np.int64]:
        hits = [self._grid.query(where)]
        if self._buf_ids:
            lon = np.asarray(self._buf_lon, dtype=np.float64)
            lat = np.asarray(self._buf_lat, dtype=np.float64)
            minx, miny, maxx, maxy = where.bounds
            cand = np.flatnonzero((lon >= minx) & (lon <= maxx) & (lat >= miny) & (lat <= maxy))
            inside = cand[shapely.contains_xy(where, lon[cand], lat[cand])]
            hits.append(np.asarray(self._buf_ids, dtype=np.int64)[inside])
        return np.concatenate(hits)

    def _shapes_meeting(self, where: BaseGeometry) -> NDArray[np.int64]:
        shapes = self._shape_arrays()
        if len(shapes.ids) == 0:
            return _EMPTY
        cand = np.flatnonzero(shapely.intersects(where, shapes.geoms))
        if len(cand) == 0:
            return _EMPTY
        where_area = shapely.area(where)
        if where_area == 0:  # a point or line alert: meeting is enough
            return shapes.ids[cand]
        lat = (where.bounds[1] + where.bounds[3]) / 2
        overlap_m2 = shapely.area(shapely.intersection(where, shapes.geoms[cand])) * _m2_per_deg2(lat)
        smaller_m2 = np.minimum(shapes.areas[cand], where_area) * _m2_per_deg2(lat)
        need = np.minimum(MIN_OVERLAP_M2, smaller_m2 / 2)
        return shapes.ids[cand[overlap_m2 >= need]]

    def _code_hits(self, code: str) -> set[int]:
        hits = set(self._by_code.get(code, ()))
        if len(code) == 5:
            hits |= self._by_code.get("dongs-of:" + code, set())  # dong subscribers of the district
        elif len(code) == 10:
            hits |= self._by_code.get(code[:5], set())  # district subscribers of the dong's district
        return hits


def _unique(ids: NDArray[np.int64]) -> NDArray[np.int64]:
    """Sorted unique ids: sort and drop repeats (~5 ms for 700,000 hits). Not ``np.unique``: numpy 2.4
    answers int64 arrays from a hash table, ~40x slower here (~200 ms)."""
    if len(ids) == 0:
        return _EMPTY
    s = np.sort(ids)
    keep = np.empty(len(s), dtype=np.bool_)
    keep[0] = True
    np.not_equal(s[1:], s[:-1], out=keep[1:])
    return s[keep]


def _keys(code: str) -> tuple[str, ...]:
    return (code, "dongs-of:" + code[:5]) if len(code) == 10 else (code,)
