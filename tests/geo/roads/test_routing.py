# SPDX-License-Identifier: Apache-2.0
"""Routing on the real Gongdeok–Cheongpa network: agreement with networkx, closures and hazards avoided."""

from __future__ import annotations

import math
import random
from functools import cache
from typing import TypeVar

import networkx as nx  # type: ignore[import-untyped]
import numpy as np
import pytest
import shapely
from shapely.geometry import LineString, Point

from safecity.geo.roads.graph import FLOOD_PRONE, Mode
from safecity.geo.roads.osm import read_osm
from safecity.geo.roads.routing import Avoid, NoRoute, OutsideNetwork, Router
from tests.geo.roads.osm_data import HELSINKI_PBF, gongdeok

G = TypeVar("G", bound=shapely.Geometry)

#: Relative tolerance for "the same travel time": both searches add the same float64 weights along the
#: same path in the same order, so they agree to the last bit; ties between equal-cost paths may differ
#: in the order of additions, which costs at most a few ulps.
SAME_TIME = 1e-12


@cache
def router() -> Router:
    return Router(gongdeok())


def nx_graph(r: Router, mode: Mode) -> nx.DiGraph:
    e = r.edges(mode)
    g = nx.DiGraph()
    g.add_weighted_edges_from(zip(e.src.tolist(), e.dst.tolist(), e.seconds.tolist(), strict=True))
    return g


def lonlat(r: Router, node: int) -> tuple[float, float]:
    return float(r.graph.node_lon[node]), float(r.graph.node_lat[node])


@pytest.mark.parametrize("mode", list(Mode))
def test_routes_agree_with_networkx(mode: Mode) -> None:
    r = router()
    g = nx_graph(r, mode)
    nodes = sorted(g.nodes)
    rng = random.Random(3)
    agreed = no_path = 0
    for _ in range(150):
        a, b = rng.sample(nodes, 2)
        try:
            expected = nx.dijkstra_path_length(g, a, b)
        except nx.NetworkXNoPath:
            with pytest.raises(NoRoute):
                r.route(lonlat(r, a), lonlat(r, b), mode)
            no_path += 1
            continue
        route = r.route(lonlat(r, a), lonlat(r, b), mode)
        assert route.nodes[0] == a and route.nodes[-1] == b
        assert math.isclose(route.duration_s, expected, rel_tol=SAME_TIME), (a, b)
        # The path returned is a real path of the graph whose weights sum to that time.
        weights = [g[u][v]["weight"] for u, v in zip(route.nodes[:-1], route.nodes[1:], strict=True)]
        assert math.isclose(sum(weights), expected, rel_tol=SAME_TIME)
        lengths = r.graph.seg_length_m[route.segments]
        assert math.isclose(route.distance_m, float(lengths.sum()), rel_tol=1e-12)
        # The geometry follows the road nodes.
        assert len(route.line.coords) == len(route.nodes)
        agreed += 1
    assert agreed >= 100
    # The drive network has one-way dead ends and service roads cut by the bbox; footways too.
    assert no_path < 50


def test_drive_respects_one_way() -> None:
    r = router()
    g = r.graph
    edges = r.edges(Mode.drive)
    pairs = set(zip(edges.src.tolist(), edges.dst.tolist(), strict=True))
    rng = random.Random(5)
    nodes = sorted(set(edges.src.tolist()))
    for _ in range(40):
        a, b = rng.sample(nodes, 2)
        try:
            route = r.route(lonlat(r, a), lonlat(r, b), Mode.drive)
        except NoRoute:
            continue
        for u, v in zip(route.nodes[:-1], route.nodes[1:], strict=True):
            assert (int(u), int(v)) in pairs
        for s, u in zip(route.segments, route.nodes[:-1], strict=True):
            forward = int(g.seg_u[s]) == int(u)
            assert g.seg_flags[s] & (1 if forward else 2)


def _metres(r: Router, geom: G, *, inverse: bool = False) -> G:
    """Move a WGS84 geometry to the router's local metric projection (or back)."""
    proj = r._proj  # the same projection the router snaps in
    direction = "INVERSE" if inverse else "FORWARD"
    out: G = shapely.transform(
        geom, lambda xy: np.column_stack(proj.transform(xy[:, 0], xy[:, 1], direction=direction))
    )
    return out


def _long_route(r: Router, mode: Mode) -> tuple[tuple[float, float], tuple[float, float]]:
    ends = ((126.9510, 37.5470), (126.9640, 37.5455))
    route = r.route(*ends, mode)
    assert route.distance_m > 800
    return ends


@pytest.mark.parametrize("mode", list(Mode))
def test_closed_road_is_avoided(mode: Mode) -> None:
    r = router()
    a, b = _long_route(r, mode)
    before = r.route(a, b, mode)
    # Close the street across the middle of the route: a 10 m line perpendicular to the segment.
    mid = len(before.nodes) // 2
    p, q = lonlat(r, int(before.nodes[mid])), lonlat(r, int(before.nodes[mid + 1]))
    seg = _metres(r, LineString([p, q]))
    c = seg.interpolate(0.5, normalized=True)
    (x0, y0), (x1, y1) = seg.coords
    dx, dy = (x1 - x0) / seg.length * 5, (y1 - y0) / seg.length * 5
    closure = _metres(r, LineString([(c.x - dy, c.y + dx), (c.x + dy, c.y - dx)]), inverse=True)
    assert before.line.intersects(closure)
    after = r.route(a, b, mode, Avoid(closures=(closure,)))
    assert not after.line.intersects(closure)
    assert after.duration_s > before.duration_s
    assert not set(after.segments.tolist()) & set(
        np.flatnonzero(r.blocked_segments(Avoid((closure,)))).tolist()
    )


@pytest.mark.parametrize("mode", list(Mode))
def test_hazard_polygon_is_avoided(mode: Mode) -> None:
    r = router()
    a, b = _long_route(r, mode)
    before = r.route(a, b, mode)
    centre = _metres(r, before.line).interpolate(0.5, normalized=True)
    zone = _metres(r, centre.buffer(40), inverse=True)
    assert before.line.intersects(zone)
    after = r.route(a, b, mode, Avoid(hazards=(zone,)))
    assert not after.line.intersects(zone)
    assert after.duration_s >= before.duration_s
    assert after.ways != before.ways


def test_hazard_zone_around_the_origin_does_not_trap_it() -> None:
    r = router()
    a, b = _long_route(r, Mode.walk)
    zone = _metres(r, _metres(r, Point(a)).buffer(150), inverse=True)
    route = r.route(a, b, Mode.walk, Avoid(hazards=(zone,)))
    assert route.line.intersects(zone)  # it leaves the zone it starts in


def test_no_route_when_every_way_is_blocked() -> None:
    r = router()
    a, b = _long_route(r, Mode.walk)
    here = _metres(r, Point(a))
    ring = _metres(r, here.buffer(200).difference(here.buffer(150)), inverse=True)
    with pytest.raises(NoRoute) as e:
        r.route(a, b, Mode.walk, Avoid(closures=(ring,)))
    assert "no route" in e.value.message and e.value.status == 404


def test_nearest_target_is_the_fastest_one() -> None:
    r = router()
    g = nx_graph(r, Mode.walk)
    rng = random.Random(11)
    nodes = sorted(g.nodes)
    for _ in range(20):
        origin = rng.choice(nodes)
        times = nx.single_source_dijkstra_path_length(g, origin)
        targets = rng.sample(sorted(set(times) - {origin}), 5)
        best = min(targets, key=lambda t: times[t])
        route = r.nearest(lonlat(r, origin), [lonlat(r, t) for t in targets], Mode.walk)
        assert math.isclose(route.duration_s, times[best], rel_tol=SAME_TIME)
        assert targets[route.target] == best or math.isclose(times[targets[route.target]], times[best])


def test_point_outside_the_network() -> None:
    r = router()
    with pytest.raises(OutsideNetwork) as e:
        r.route((127.05, 37.50), (126.96, 37.546), Mode.walk)
    assert e.value.status == 422 and "outside the road network" in e.value.message


def test_flood_avoids_bridges_and_tunnels() -> None:
    r = Router(read_osm(HELSINKI_PBF).graph)
    flood = Avoid(flood_prone=True)
    blocked = r.blocked_segments(flood)
    assert np.array_equal(blocked, (r.graph.seg_flags & FLOOD_PRONE) != 0)
    edges = r.edges(Mode.drive)
    # Find a drive route over a bridge or through a tunnel, then ask again in a flood.
    nodes = sorted(set(edges.dst.tolist()))
    rng = random.Random(2)
    for _ in range(500):
        a_node, b_node = rng.sample(nodes, 2)
        a = lonlat(r, a_node)
        try:
            dry = r.route(a, lonlat(r, b_node), Mode.drive)
        except NoRoute:
            continue
        if blocked[dry.segments].any():
            try:
                wet = r.route(a, lonlat(r, b_node), Mode.drive, flood)
            except NoRoute:
                continue
            assert not blocked[wet.segments].any()
            assert wet.duration_s > dry.duration_s
            return
    pytest.fail("no route crossing a bridge or tunnel found")


@pytest.mark.parametrize("mode", list(Mode))
def test_nearest_of_many_targets_uses_one_cached_search(mode: Mode) -> None:
    """From FIELD_MIN_TARGETS targets on, one reversed multi-source search serves every origin."""
    r = Router(gongdeok())
    g = nx_graph(r, mode)
    rng = random.Random(17)
    nodes = sorted(g.nodes)
    targets = rng.sample(nodes, 30)
    assert len(set(targets)) >= r.field_min_targets
    points = [lonlat(r, t) for t in targets]
    rev = g.reverse(copy=True)
    for origin in rng.sample(nodes, 40):
        try:
            expected, _ = nx.multi_source_dijkstra(rev, set(targets), target=origin)
        except nx.NetworkXNoPath:
            with pytest.raises(NoRoute):
                r.nearest(lonlat(r, origin), points, mode)
            continue
        route = r.nearest(lonlat(r, origin), points, mode)
        assert math.isclose(route.duration_s, expected, rel_tol=SAME_TIME)
        assert route.nodes[0] == origin and route.nodes[-1] == targets[route.target]
        weights = [g[u][v]["weight"] for u, v in zip(route.nodes[:-1], route.nodes[1:], strict=True)]
        assert math.isclose(sum(weights), expected, rel_tol=SAME_TIME)
    assert len(r._modes[mode].fields) == 1
    # A closure across the first street of a route changes the key: a new search, whose routes avoid it.
    origin = next(n for n in nodes if len(r.nearest(lonlat(r, n), points, mode).nodes) > 3)
    first = r.nearest(lonlat(r, origin), points, mode)
    (x0, y0), (x1, y1) = lonlat(r, int(first.nodes[1])), lonlat(r, int(first.nodes[2]))
    mx, my, dx, dy = (x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0) / 4, (y1 - y0) / 4
    closure = LineString([(mx - dy, my + dx), (mx + dy, my - dx)])
    assert first.line.intersects(closure)
    try:
        again = r.nearest(lonlat(r, origin), points, mode, Avoid(closures=(closure,)))
    except NoRoute:
        again = None
    assert again is None or not again.line.intersects(closure)
    assert len(r._modes[mode].fields) == 2
