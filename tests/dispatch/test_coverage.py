# SPDX-License-Identifier: Apache-2.0
"""Coverage on a five-node road computed by hand, and the coverage map following a status change."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from safecity.dispatch.coverage import CoverageMap, DemandPoints, reach_polygons
from safecity.dispatch.roadtime import RoadTimes, SpeedModel
from safecity.geo.roads.graph import DRIVE_BWD, DRIVE_FWD, RoadGraph

# 0 --2000 m-- 1 --2500 m-- 2 --2500 m-- 3 --1000 m-- 4, at a flat 36 km/h (10 m/s): 200, 250, 250, 100 s
LENGTHS = np.array([2000.0, 2500.0, 2500.0, 1000.0])
FLAT = SpeedModel(
    base_kmh={"primary": 36.0, "default": 36.0},
    profiles={k: (1.0,) * 24 for k in ("weekday", "friday", "weekend")},
    rain_factor=1.0,
    emergency_factor=1.0,
    centre_factor=1.0,
)


def line() -> RoadTimes:
    lon = 129.0 + np.concatenate([[0.0], np.cumsum(LENGTHS)]) / 88_000  # outside Seoul (no centre factor)
    g = RoadGraph(
        node_lon=lon,
        node_lat=np.full(5, 35.1),
        node_osm=np.arange(5, dtype=np.int64),
        seg_u=np.arange(4, dtype=np.int32),
        seg_v=np.arange(1, 5, dtype=np.int32),
        seg_length_m=LENGTHS,
        seg_way=np.zeros(4, dtype=np.int64),
        seg_class=np.zeros(4, dtype=np.uint8),
        seg_flags=np.full(4, DRIVE_FWD | DRIVE_BWD, dtype=np.uint8),
        seg_drive_kmh=np.full(4, 36.0),
        seg_walk_kmh=np.zeros(4),
        classes=("primary",),
    )
    return RoadTimes(g, FLAT)


def test_hand_computed_coverage_and_a_status_change() -> None:
    rt = line()
    cmap = CoverageMap(rt, rt.band(datetime(2026, 12, 7, tzinfo=UTC)), limit_s=420.0)
    demand = DemandPoints(
        code=("a", "b", "c", "d", "e"),
        district=("x",) * 5,
        lon=rt.graph.node_lon,
        lat=rt.graph.node_lat,
        weight=np.array([1.0, 2.0, 3.0, 4.0, 5.0]),
        node=np.arange(5, dtype=np.int64),
        access_s=np.zeros(5),
    )
    # units at both ends: node times 0, 200, min(450, 350) = 350, 100, 0
    both = cmap.summary(np.array([0, 4]), demand)
    assert both["seconds"].tolist() == pytest.approx([0, 200, 350, 100, 0])
    # within 5 min: a b d e = (1 + 2 + 4 + 5) / 15; within 7 min: all
    assert both["shares"] == pytest.approx({"within5min": 12 / 15, "within7min": 1.0})
    # the unit at node 4 is dispatched: only node 0's reach is left (0, 200, then beyond 7 min)
    one = cmap.summary(np.array([0]), demand)
    assert one["seconds"][:2].tolist() == pytest.approx([0, 200]) and np.isinf(one["seconds"][2:]).all()
    assert one["shares"] == pytest.approx({"within5min": 3 / 15, "within7min": 3 / 15})


def test_reach_polygons_grow_with_the_threshold() -> None:
    from safecity.dispatch.city import seoul_city

    c = seoul_city()
    cmap = CoverageMap(c.roads, c.roads.band(datetime(2026, 12, 7, 3, tzinfo=UTC)))
    five, seven = reach_polygons(c.roads, cmap.reach(c.stations[0].node))
    assert five is not None and seven is not None and seven.area > five.area and seven.contains(five.centroid)
