# SPDX-License-Identifier: Apache-2.0
"""Map-matched deviation for safe return home: which street is the person on, and is it the route's?

A straight distance to the planned route cannot tell a child walking the route from one on a parallel
street 40 m away: both are "within 60 m". Here each fix is matched to the nearest walkable street of
the imported road network (the streets around the route, in the trip's local metres), and it is *off
the route* when

* it matches a street that is not part of the route, and the route is clearly farther than that street
  (by more than :data:`CORNER_M`: at a corner the crossing street and the route are equally near, and
  that is still on the route); or
* no street is within :data:`MATCH_M` (a square, a park, a building) and the straight distance to the
  route is beyond the trip's ``trip_deviation_m``, as without a network.

A street is part of the route when both its ends lie on the route line (within :data:`ON_ROUTE_M`).
Nearest-street matching is the simplest map matcher (no hidden Markov model over successive fixes); a
fix's accuracy bounds how far it may be matched, and the trip still needs ``trip_deviation_fixes`` such
fixes in a row before it raises a deviation, which absorbs single mismatches.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry import LineString, Point

EARTH_M = 6_371_008.8
#: A fix farther than this (metres) from every street is not matched to one.
MATCH_M = 25.0
#: The route must be farther than the matched street by this much (metres) to count as off it.
CORNER_M = 10.0
#: Both ends of a street segment this close (metres) to the route line: the segment is the route's.
ON_ROUTE_M = 1.0
#: Streets kept around the route (metres): a person farther than this is off by any measure.
AROUND_M = 300.0

#: The walkable streets in a WGS84 box (min lon, min lat, max lon, max lat), as WGS84 lines.
StreetSource = Callable[[tuple[float, float, float, float]], Sequence[LineString]]


class Local:
    """A local equirectangular projection (metres) around a point."""

    def __init__(self, lon0: float, lat0: float) -> None:
        self.lon0, self.lat0 = lon0, lat0
        self.kx = math.radians(1) * EARTH_M * math.cos(math.radians(lat0))
        self.ky = math.radians(1) * EARTH_M

    def xy(self, lon: float, lat: float) -> tuple[float, float]:
        return (lon - self.lon0) * self.kx, (lat - self.lat0) * self.ky

    def line(self, line: LineString) -> LineString:
        return LineString([self.xy(x, y) for x, y in line.coords])

    def dist(self, a: tuple[float, float], b: tuple[float, float]) -> float:
        (ax, ay), (bx, by) = self.xy(*a), self.xy(*b)
        return math.hypot(ax - bx, ay - by)


@dataclass(frozen=True)
class Streets:
    tree: shapely.STRtree
    lines: np.ndarray  # local-metre LineStrings, as the tree indexes them
    on_route: np.ndarray  # bool per line

    @classmethod
    def around(cls, route_m: LineString, lines_m: Sequence[LineString]) -> Streets | None:
        """The streets within :data:`AROUND_M` of the route (local metres), or None without any."""
        near = [ln for ln in lines_m if ln.distance(route_m) <= AROUND_M]
        if not near:
            return None
        arr = np.asarray(near, dtype=object)
        ends = [(Point(ln.coords[0]), Point(ln.coords[-1])) for ln in near]
        on = np.array(
            [route_m.distance(a) <= ON_ROUTE_M and route_m.distance(b) <= ON_ROUTE_M for a, b in ends]
        )
        return cls(shapely.STRtree(arr), arr, on)

    @classmethod
    def for_route(
        cls, local: Local, route: LineString, route_m: LineString, source: StreetSource | None
    ) -> Streets | None:
        """The streets around a route (WGS84 ``route``; ``route_m`` in ``local`` metres) from ``source``."""
        if source is None:
            return None
        x0, y0, x1, y1 = route.bounds
        pad = 0.004  # about 300-450 m at Seoul's latitude: AROUND_M
        lines = source((x0 - pad, y0 - pad, x1 + pad, y1 + pad))
        return cls.around(route_m, [local.line(ln) for ln in lines])

    def off_route(self, p: Point, off_m: float, deviation_m: float, accuracy_m: float | None) -> bool:
        """Whether the fix ``p`` (local metres, ``off_m`` from the route line) is off the route."""
        reach = max(MATCH_M, accuracy_m or 0.0)
        i = self.tree.nearest(p)
        if i is None:
            return off_m > deviation_m
        d = float(self.lines[int(i)].distance(p))
        if d > reach:
            return off_m > deviation_m  # on no street: the straight measure
        if bool(self.on_route[int(i)]):
            return False
        return off_m > d + CORNER_M
