# SPDX-License-Identifier: Apache-2.0
"""Property tests of road (OSM) and terrain (DEM) imports: any file is read or refused with a
BadRequest naming it; any OSM tag values give finite speeds or none.
"""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

from hypothesis import example, given, settings
from hypothesis import strategies as st

from safecity.core.errors import BadRequest
from safecity.geo.roads.osm import parse_maxspeed, read_osm, way_rules
from safecity.geo.terrain import import_dem

FAST = settings(max_examples=150, deadline=None, derandomize=True, database=None)
FILES = settings(max_examples=40, deadline=None, derandomize=True, database=None)

tag_values = st.text(max_size=12) | st.sampled_from(
    ["50", "30 mph", "9" * 400, "1e999", "0", "-5", "50;30", "KR:urban", "inf", "nan", "60 knots", "٥٠"]
)


@FAST
@given(value=st.none() | tag_values)
@example(value="9" * 400)
def test_maxspeed_is_a_finite_speed_or_none(value: str | None) -> None:
    speed = parse_maxspeed(value)
    assert speed is None or (math.isfinite(speed) and speed > 0)


@FAST
@given(
    tags=st.dictionaries(
        st.sampled_from(
            ["highway", "maxspeed", "oneway", "access", "foot", "motor_vehicle", "junction", "area"]
        ),
        tag_values
        | st.sampled_from(["primary", "residential", "footway", "motorway", "yes", "no", "-1", "private"]),
    )
)
@example(tags={"highway": "primary", "maxspeed": "9" * 400})  # was drive_kmh = inf
def test_way_rules_never_raise(tags: dict[str, str]) -> None:
    rules = way_rules(tags)
    if rules is not None:
        assert math.isfinite(rules.drive_kmh) and math.isfinite(rules.walk_kmh)


osm_docs = st.sampled_from(
    [
        b"",
        b"<osm/>",
        b"<osm version='0.6'><node id='1' lat='37.5' lon='127'/></osm>",
        b"<osm version='0.6'><node id='1' lat='37.5' lon='127'/><node id='2' lat='99' lon='500'/>"
        b"<way id='3'><nd ref='1'/><nd ref='2'/><tag k='highway' v='primary'/></way></osm>",
        b"<osm version='0.6'><way id='3'><nd ref='1'/><nd ref='9'/><tag k='highway' v='primary'/></way></osm>",
        b"<osm version='0.6'><node id='1' lat='nan' lon='127'/><node id='2' lat='37' lon='127.1'/>"
        b"<way id='3'><nd ref='1'/><nd ref='2'/><tag k='highway' v='residential'/>"
        b"<tag k='maxspeed' v='99999999999999999999'/></way></osm>",
    ]
) | st.binary(max_size=100)


@FILES
@given(data=osm_docs, suffix=st.sampled_from([".osm", ".pbf", ".osm.bz2", ".txt", ""]), strict=st.booleans())
@example(  # was osmium.InvalidLocationError out of read_osm
    data=b"<osm version='0.6'><node id='1' lat='37.5' lon='127'/><node id='2' lat='99' lon='500'/>"
    b"<way id='3'><nd ref='1'/><nd ref='2'/><tag k='highway' v='primary'/></way></osm>",
    suffix=".osm",
    strict=False,
)
@example(data=b"<osm/>", suffix=".txt", strict=False)  # an unknown suffix, refused by libosmium
def test_any_osm_file_is_read_or_refused(data: bytes, suffix: str, strict: bool) -> None:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / f"roads{suffix}"
        path.write_bytes(data)
        try:
            read_osm(path, strict=strict)
        except BadRequest as e:
            assert e.where, e


@FILES
@given(data=st.binary(max_size=200) | st.sampled_from([b"II*\x00", b"MM\x00*", b"ncols 2\nnrows 2\n"]))
def test_any_dem_file_is_read_or_refused(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as d:
        src = Path(d) / "dem.tif"
        src.write_bytes(data)
        try:
            import_dem(src, Path(d) / "data")
        except BadRequest as e:
            assert e.where, e
