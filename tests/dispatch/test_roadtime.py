# SPDX-License-Identifier: Apache-2.0
"""Road times on the real OSM extract of Gongdeok-Cheongpa: scipy's searches agree with networkx on the
same weights, speeds follow the hour, the day and the rain, and no route crosses a closed road."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from functools import cache

import networkx as nx  # type: ignore[import-untyped]
import numpy as np
import pytest
from shapely.geometry import LineString, box

from safecity.dispatch.model import CallType, Category, RunCardLine, Unit, UnitStatus, UnitType, call_types
from safecity.dispatch.recommend import recommend
from safecity.dispatch.roadtime import RoadTimes
from safecity.geo.roads.graph import Mode, RoadGraph
from safecity.geo.roads.osm import read_osm
from safecity.geo.roads.routing import Avoid
from tests.conftest import SHARED

OSM = SHARED / "data" / "roads" / "osm_seoul_gongdeok_cheongpa.osm"
FRIDAY_6PM = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)  # 18:00 KST
SUNDAY_3AM = datetime(2026, 12, 5, 18, 0, tzinfo=UTC)  # 03:00 KST Sunday
CALL = (126.9575, 37.5470)


@cache
def graph() -> RoadGraph:
    return read_osm(OSM).graph


@cache
def roads() -> RoadTimes:
    return RoadTimes(graph())


def _nx(rt: RoadTimes, when: datetime, blocked: np.ndarray | None = None) -> nx.DiGraph:
    """The same weights in networkx, built from the graph's own edges (not from our CSR)."""
    edges = rt.graph.directed(Mode.drive)
    seconds = rt.edge_seconds(when)
    g = nx.DiGraph()
    for s, d, w, seg in zip(edges.src, edges.dst, seconds, edges.segment, strict=True):
        if blocked is not None and blocked[seg]:
            continue
        if g.has_edge(int(s), int(d)) and g[int(s)][int(d)]["w"] <= w:
            continue
        g.add_edge(int(s), int(d), w=float(w))
    return g


def test_one_search_to_a_call_agrees_with_networkx() -> None:
    rt = roads()
    band = rt.band(FRIDAY_6PM)
    node = int(rt.snap(np.array([CALL[0]]), np.array([CALL[1]]))[0][0])
    ours = rt.to_node(band, node)
    ref = nx.single_source_dijkstra_path_length(_nx(rt, FRIDAY_6PM).reverse(), node, weight="w")
    assert len(ref) > 500
    for n, t in ref.items():
        assert ours.seconds[n] == pytest.approx(t, rel=1e-9, abs=1e-9)
    unreachable = np.isfinite(ours.seconds).sum()
    assert unreachable == len(ref)  # nothing reached that networkx does not reach
    # the path it returns has exactly that length
    far = max(ref, key=lambda n: ref[n])
    path = ours.path_from(far)
    assert path[0] == far and path[-1] == node
    assert sum(band.csr[a, b] for a, b in itertools.pairwise(path)) == pytest.approx(ref[far])


def test_the_multi_source_search_agrees_with_networkx() -> None:
    rt = roads()
    band = rt.band(SUNDAY_3AM)
    drivable = np.unique(rt.graph.directed(Mode.drive).src)
    n = drivable.shape[0]
    sources = drivable[[10, n // 5, n // 2, n - 3, n // 5]].astype(np.int64)  # one repeated
    dist, which = rt.from_nodes(band, sources)
    ref = nx.multi_source_dijkstra_path_length(_nx(rt, SUNDAY_3AM), {int(s) for s in sources}, weight="w")
    for n, t in ref.items():
        assert dist[n] == pytest.approx(t, rel=1e-9, abs=1e-9)
        # the source it names is one at that distance
        assert which[n] >= 0
        alone = nx.shortest_path_length(_nx_cached(), int(sources[which[n]]), n, weight="w")
        assert alone == pytest.approx(t, rel=1e-9, abs=1e-9)


@cache
def _nx_cached() -> nx.DiGraph:
    return _nx(roads(), SUNDAY_3AM)


def test_speeds_follow_hour_day_rain_and_the_centre() -> None:
    rt = roads()
    peak, night = rt.edge_seconds(FRIDAY_6PM), rt.edge_seconds(SUNDAY_3AM)
    assert np.all(peak > night)
    assert np.all(rt.edge_seconds(FRIDAY_6PM, rain=True) > peak)
    # on the arterials (what the surveys measure) the Friday-peak speed is in the surveys' range
    edges = rt.graph.directed(Mode.drive)
    classes = np.asarray(rt.graph.classes)[rt.graph.seg_class[edges.segment]]
    arterial = np.isin(classes, ["primary", "secondary", "tertiary"])
    kmh = edges.metres[arterial].sum() / peak[arterial].sum() * 3.6
    assert 15 < kmh < 25, kmh


def test_no_route_crosses_a_closed_road() -> None:
    rt = roads()
    node = int(rt.snap(np.array([CALL[0]]), np.array([CALL[1]]))[0][0])
    free = rt.band(FRIDAY_6PM)
    start = int(
        np.argmax(np.where(np.isfinite(rt.to_node(free, node).seconds), rt.to_node(free, node).seconds, -1))
    )
    before = rt.to_node(free, node)
    path = before.path_from(start)
    # close the middle of the fastest route with a small box over one of its segments
    mid = len(path) // 2
    g = rt.graph
    lon = (g.node_lon[path[mid]] + g.node_lon[path[mid + 1]]) / 2
    lat = (g.node_lat[path[mid]] + g.node_lat[path[mid + 1]]) / 2
    closure = box(lon - 0.00005, lat - 0.00005, lon + 0.00005, lat + 0.00005)
    closed = rt.band(FRIDAY_6PM, avoid=Avoid(closures=(closure,)))
    assert closed.blocked.any()
    after = rt.to_node(closed, node)
    detour = after.path_from(start)
    assert detour, "a detour exists in this street grid"
    crossed = rt.path_segments(closed, detour)
    assert not closed.blocked[crossed].any()
    assert not LineString(rt.line(detour)).intersects(closure)
    assert after.seconds[start] >= before.seconds[start]
    # and networkx, on the same network without the closed segments, agrees
    ref = nx.shortest_path_length(_nx(rt, FRIDAY_6PM, closed.blocked), start, node, weight="w")
    assert after.seconds[start] == pytest.approx(ref)


def _unit(i: int, kind: UnitType, lon: float, lat: float, status: UnitStatus = UnitStatus.available) -> Unit:
    return Unit(i, f"U{i}", kind, 3, "s", status, FRIDAY_6PM, lon, lat, None)


def test_the_run_card_is_filled_by_road_time_and_explained() -> None:
    rt = roads()
    band = rt.band(FRIDAY_6PM)
    units = [
        _unit(1, UnitType.pumper, 126.9552, 37.5447),
        _unit(2, UnitType.pumper, 126.9640, 37.5520),
        _unit(3, UnitType.pumper, 126.9580, 37.5475, UnitStatus.on_scene),  # nearest, busy
        _unit(4, UnitType.ladder, 126.9650, 37.5450),
        _unit(5, UnitType.rescue, 126.9500, 37.5500),
        _unit(6, UnitType.ambulance, 126.9600, 37.5480),
        _unit(7, UnitType.pumper, 126.9520, 37.5540),
    ]
    rec = recommend(1, *CALL, call_types()["fire_building"], units, rt, band)
    sent = [(p.unit.callsign, p.asked.value) for p in rec.picks]
    assert [s[1] for s in sent] == ["pumper", "pumper", "ladder", "rescue", "ambulance"]
    assert "U3" not in {s[0] for s in sent}
    pumpers = [p for p in rec.picks if p.asked is UnitType.pumper]
    others = [
        p for p in (units[0], units[1], units[6]) if p.callsign not in {x.unit.callsign for x in pumpers}
    ]
    assert all(p.seconds <= min_road(rt, band, o) for p in pumpers for o in others)
    # the busy unit nearer than the picks is named, with why
    why = {w["unit"]: w["whyEn"] for p in pumpers for w in p.passed_over}
    assert "not available (on_scene)" in why["U3"]
    assert rec.picks[0].route[-1] == pytest.approx(
        list(rt.line([int(rt.snap(np.array([CALL[0]]), np.array([CALL[1]]))[0][0])])[0])
    )
    # an ambulance-only card with no ambulance says what is missing
    card = CallType("x", Category.ems, "x", "x", 7, (RunCardLine(UnitType.water_rescue, 1),))
    assert recommend(1, *CALL, card, units, rt, band).missing == [{"unit": "water_rescue", "count": 1}]


def min_road(rt: RoadTimes, band, u: Unit) -> float:  # type: ignore[no-untyped-def]
    node = int(rt.snap(np.array([CALL[0]]), np.array([CALL[1]]))[0][0])
    n, acc = rt.snap(np.array([u.lon]), np.array([u.lat]))
    _, call_acc = rt.snap(np.array([CALL[0]]), np.array([CALL[1]]))
    return float(rt.to_node(band, node).seconds[n[0]] + acc[0] + call_acc[0])


def test_the_growing_search_gives_the_full_search_answer() -> None:
    """Units off the nodes (access time), some busy or returning, a collapse unit standing in for a
    rescue unit once the rescue units are taken, with and without a closed road: the searches bounded
    by the card's straight-line bound pick exactly what one full search picks."""
    rt = roads()
    g = rt.graph
    rng = np.random.default_rng(3)
    kinds = [UnitType.pumper, UnitType.ambulance, UnitType.ladder, UnitType.rescue] * 4 + [
        UnitType.collapse_rescue
    ]
    statuses = [UnitStatus.available] * 11 + [UnitStatus.returning, UnitStatus.on_scene] * 3
    jitter = rng.normal(0.0, 0.0015, size=(len(kinds), 2))  # ~150 m off the road
    units = [
        _unit(i, kind, float(g.node_lon[n] + dx), float(g.node_lat[n] + dy), status)
        for i, (kind, n, (dx, dy), status) in enumerate(
            zip(kinds, rng.choice(g.node_count, len(kinds), replace=False), jitter, statuses, strict=True)
        )
    ]
    closed = Avoid(closures=(box(126.9540, 37.5440, 126.9600, 37.5450),))
    for band in (rt.band(FRIDAY_6PM), rt.band(SUNDAY_3AM, avoid=closed)):
        for n in rng.choice(g.node_count, 20, replace=False):
            lon, lat = float(g.node_lon[n]), float(g.node_lat[n])
            for card in ("fire_building", "ems_chest_pain", "rescue_collapse"):
                fast = recommend(1, lon, lat, call_types()[card], units, rt, band)
                full = recommend(1, lon, lat, call_types()[card], units, rt, band, grow=False)
                assert [(p.unit.callsign, round(p.seconds, 6)) for p in fast.picks] == [
                    (p.unit.callsign, round(p.seconds, 6)) for p in full.picks
                ]
                assert fast.missing == full.missing


def test_the_straight_line_bound_is_below_every_road_time() -> None:
    """The first search radius rests on this: no unit reaches a call faster than the straight line
    driven at the network's top speed (on the real extract, at the fastest hour)."""
    from safecity.dispatch.places import haversine_m
    from safecity.dispatch.recommend import SLACK

    rt = roads()
    band = rt.band(SUNDAY_3AM)
    g = rt.graph
    rng = np.random.default_rng(5)
    for n in rng.choice(g.node_count, 10, replace=False):
        seconds = rt.to_node(band, int(n)).seconds
        reached = np.flatnonzero(np.isfinite(seconds))
        straight = haversine_m(
            g.node_lon[reached], g.node_lat[reached], float(g.node_lon[n]), float(g.node_lat[n])
        )
        assert np.all(straight * SLACK / band.top_mps <= seconds[reached] + 1e-9)


def test_cached_snapping_gives_the_same_nodes() -> None:
    rt = RoadTimes(graph())
    rng = np.random.default_rng(9)
    lon = 126.950 + rng.random(50) * 0.02
    lat = 37.540 + rng.random(50) * 0.015
    want = rt.snap(lon, lat)
    for _ in range(2):  # the second time from the cache
        got = rt.snap_cached(lon, lat)
        assert np.array_equal(got[0], want[0]) and np.allclose(got[1], want[1])
