# SPDX-License-Identifier: Apache-2.0
"""Map-matched deviation on the real Gongdeok OSM network (safecity.care.matching), on both stores: a
child on a parallel street closer than the straight-line threshold (60 m) is off the route; a child
walking the route with GPS scatter at the corners is not."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

from shapely.geometry import LineString, Point

from safecity.care.matching import Local
from safecity.care.settings import CareSettings
from tests.care.conftest import CareEnv
from tests.care.test_trips import ORIGIN, STEP_S, _along, _send, _start


def _trip(env: CareEnv, pid: int) -> dict[str, Any]:
    return dict(env.call("mom", "GET", f"/care/people/{pid}/trips").json()[0])


def _parallel_point(env: CareEnv, route: LineString, local: Local) -> tuple[float, float, float]:
    """A point in the middle of a walkable street that is not the route's, 25-55 m from the route line
    (and so 'on the route' for a straight 60 m measure): lon, lat, metres from the route."""
    route_m = local.line(route)
    x0, y0, x1, y1 = route.bounds
    for line in env.care.trips.streets((x0, y0, x1, y1)) if env.care.trips.streets else []:
        seg = local.line(line)
        if seg.length < 30:
            continue
        a, b = Point(seg.coords[0]), Point(seg.coords[-1])
        mid = seg.interpolate(0.5, normalized=True)
        d = route_m.distance(mid)
        if 25 <= d <= 55 and route_m.distance(a) > 20 and route_m.distance(b) > 20:
            lon = local.lon0 + mid.x / local.kx
            lat = local.lat0 + mid.y / local.ky
            return lon, lat, d
    raise AssertionError("no parallel street near the route in the extract")


def test_a_parallel_street_within_60_m_is_a_deviation(roads: None, care_env: CareEnv) -> None:
    env = care_env
    pid = env.child()
    key = env.device(pid)
    trip = _start(env, pid)
    route = LineString(trip["route"]["coordinates"])
    local = Local(*ORIGIN)
    lon, lat, d = _parallel_point(env, route, local)
    assert d < CareSettings().trip_deviation_m  # the straight measure would call it on the route
    for p in list(_along(trip["route"]))[:2]:
        env.clock.advance(timedelta(seconds=STEP_S))
        _send(env, key, *p)
    for _ in range(CareSettings().trip_deviation_fixes):
        env.clock.advance(timedelta(seconds=STEP_S))
        _send(env, key, lon, lat)
    now = _trip(env, pid)
    assert "deviation" in now["raised"], now
    assert now["offRouteM"] is not None and now["offRouteM"] < CareSettings().trip_deviation_m


def test_walking_the_route_with_gps_scatter_is_no_deviation(roads: None, care_env: CareEnv) -> None:
    env = care_env
    pid = env.child()
    key = env.device(pid)
    trip = _start(env, pid)
    points = list(_along(trip["route"]))
    local = Local(*ORIGIN)
    for i, (lon, lat) in enumerate(points[:-1]):
        # 8 m to one side then the other, across the direction of walking (a phone between buildings)
        nxt = points[i + 1]
        (ax, ay), (bx, by) = local.xy(lon, lat), local.xy(*nxt)
        n = math.hypot(bx - ax, by - ay) or 1.0
        side = 8.0 if i % 2 else -8.0
        dx, dy = -(by - ay) / n * side, (bx - ax) / n * side
        env.clock.advance(timedelta(seconds=STEP_S))
        _send(env, key, lon + dx / local.kx, lat + dy / local.ky)
    assert "deviation" not in _trip(env, pid)["raised"]
