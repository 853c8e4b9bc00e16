# SPDX-License-Identifier: Apache-2.0
"""Spatial functions in Python (shapely + pyproj) for the SQLite adapter.

SQLite has no spatial types, so the adapter registers these as SQL functions over WKT text. Distances
and lengths are geodesic metres on the WGS84 ellipsoid (pyproj.Geod), matching PostGIS ``geography``.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

import shapely
from pyproj import Geod
from shapely.geometry.base import BaseGeometry
from shapely.ops import nearest_points

_GEOD = Geod(ellps="WGS84")


@lru_cache(maxsize=4096)
def _geom(wkt: str) -> BaseGeometry:
    g = shapely.from_wkt(wkt)
    shapely.prepare(g)
    return g


def _pred(fn: Callable[[BaseGeometry, BaseGeometry], bool]) -> Callable[[str | None, str | None], int | None]:
    def run(a: str | None, b: str | None) -> int | None:
        if a is None or b is None:
            return None
        return int(bool(fn(_geom(a), _geom(b))))

    return run


def distance_m(a: str | None, b: str | None) -> float | None:
    if a is None or b is None:
        return None
    ga, gb = _geom(a), _geom(b)
    if ga.intersects(gb):
        return 0.0
    pa, pb = nearest_points(ga, gb)
    return float(_GEOD.inv(pa.x, pa.y, pb.x, pb.y)[2])


def length_m(a: str | None) -> float | None:
    """Geodesic length of lines; 0 for points and polygons, as PostGIS ST_Length(geography) answers."""
    if a is None:
        return None
    g = _geom(a)
    if g.geom_type not in ("LineString", "MultiLineString", "LinearRing"):
        return 0.0
    return float(_GEOD.geometry_length(g))


def relate(a: str | None, b: str | None, pattern: str | None) -> int | None:
    if a is None or b is None or pattern is None:
        return None
    return int(_geom(a).relate_pattern(_geom(b), pattern))


#: SQLite user functions (name: argument count, function); each returns a value sqlite3 can store.
SQL_FUNCTIONS: dict[str, tuple[int, Callable[..., int | float | None]]] = {
    "st_equals": (2, _pred(lambda a, b: a.equals(b))),
    "st_disjoint": (2, _pred(lambda a, b: a.disjoint(b))),
    "st_touches": (2, _pred(lambda a, b: a.touches(b))),
    "st_within": (2, _pred(lambda a, b: a.within(b))),
    "st_overlaps": (2, _pred(lambda a, b: a.overlaps(b))),
    "st_crosses": (2, _pred(lambda a, b: a.crosses(b))),
    "st_intersects": (2, _pred(lambda a, b: a.intersects(b))),
    "geo_intersects": (2, _pred(lambda a, b: a.intersects(b))),
    "st_contains": (2, _pred(lambda a, b: a.contains(b))),
    "st_relate": (3, relate),
    "geo_distance": (2, distance_m),
    "geo_length": (1, length_m),
}
