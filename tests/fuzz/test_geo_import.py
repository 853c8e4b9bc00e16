# SPDX-License-Identifier: Apache-2.0
"""Property tests of geodata imports: any GeoJSON-ish file (odd properties, broken, empty, huge or
non-finite geometries) and any population table is imported with a report or refused with a
BadRequest naming the file, field or feature, on both stores.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from safecity.core.errors import BadRequest
from safecity.geo.importer import import_layer, import_population
from tests.fuzz.conftest import Stack

DB = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)

# Not ±1e308: GEOS validity checks overflow on them with a RuntimeWarning (an error under pytest's
# filterwarnings, a log line in production); out-of-range lon/lat are reported as not done.
coords = st.sampled_from([126.9, 127.05, 37.5, 37.6, 0.0, 1000.0, -91.0]) | st.floats(
    -200, 200, allow_nan=False
)
points = st.lists(coords, min_size=2, max_size=3)


@st.composite
def geometries(draw: st.DrawFn) -> Any:
    kind = draw(st.sampled_from(["Point", "LineString", "Polygon", "MultiPolygon", "none", "junk", "bowtie"]))
    if kind == "none":
        return None
    if kind == "junk":
        return draw(st.sampled_from([{}, {"type": "Point"}, {"type": "Polygon", "coordinates": [[]]}, []]))
    if kind == "bowtie":  # self-intersecting: repaired with make_valid and reported
        return {
            "type": "Polygon",
            "coordinates": [[[127, 37.5], [127.1, 37.6], [127.1, 37.5], [127, 37.6], [127, 37.5]]],
        }
    if kind == "Point":
        return {"type": "Point", "coordinates": draw(points)}
    ring = draw(st.lists(points, min_size=1, max_size=5))
    if kind == "LineString":
        return {"type": "LineString", "coordinates": ring}
    closed = [*ring, ring[0]]
    if kind == "Polygon":
        return {"type": "Polygon", "coordinates": [closed]}
    return {"type": "MultiPolygon", "coordinates": [[closed]]}


props = st.dictionaries(
    st.sampled_from(
        ["code", "SIG_CD", "ADM_CD", "name", "name_ko", "SIG_KOR_NM", "name_en", "hazard", "type"]
    )
    | st.sampled_from(["capacity", "수용인원", "시설명", "kind", "population"])
    | st.text(max_size=6),
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=10)
    | st.sampled_from(["11590", "1159068000", "flood", "landslide", "지진옥외대피장소", ""]),
    max_size=5,
)
features = st.builds(lambda g, p: {"type": "Feature", "geometry": g, "properties": p}, geometries(), props)
collections = st.lists(features, max_size=4).map(lambda fs: {"type": "FeatureCollection", "features": fs})
kinds = st.sampled_from(["districts", "dongs", "shelters", "hazard-zones", "facilities"])


def _import(stack: Stack, path: Path, kind: str) -> None:
    try:
        report = import_layer(stack.platform.store, path, kind)
    except BadRequest as e:
        assert e.message
    else:
        assert report.features >= 0


# GDAL warns, then reads the feature without geometry (reported as "no geometry"): expected, not an error.
@pytest.mark.filterwarnings("ignore:Unsupported geometry type detected:RuntimeWarning")
@DB
@given(doc=collections, kind=kinds, raw=st.none() | st.binary(max_size=80))
@example(doc={"type": "FeatureCollection", "features": []}, kind="districts", raw=b"\xff\xfe")
@example(doc={}, kind="facilities", raw=b'{"type": "FeatureCollection", "features": [{"type": "Feature"}]}')
def test_any_geojson_is_imported_or_refused(
    stacks: dict[str, Stack], doc: Any, kind: str, raw: bytes | None
) -> None:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "layer.geojson"
        path.write_bytes(raw if raw is not None else json.dumps(doc).encode())
        for stack in stacks.values():
            _import(stack, path, kind)


@DB
@given(data=st.binary(max_size=120) | st.text(max_size=200).map(lambda t: t.encode()))
@example(data="자치구\t동\n".encode())
@example(data=b"\xff\xfe\x00")
@example(data=("기간\t자치구\t동\t세대\t인구\n" * 4).encode() + "2024\t동작구\t소계\t1\t-5\n".encode())
def test_any_population_table_is_imported_or_refused(stacks: dict[str, Stack], data: bytes) -> None:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "population.txt"
        path.write_bytes(data)
        for stack in stacks.values():
            try:
                import_population(stack.platform.store, path)
            except BadRequest as e:
                assert e.message


# --- regressions found by the tests above -------------------------------------------------------------


def _layer(tmp: Path, *geometries: Any) -> Path:
    path = tmp / "layer.geojson"
    feats = [
        {"type": "Feature", "geometry": g, "properties": {"name": f"시설 {i}"}}
        for i, g in enumerate(geometries)
    ]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": feats}), encoding="utf-8")
    return path


def test_a_one_point_line_is_skipped_not_a_geos_error(stacks: dict[str, Stack]) -> None:
    """Was shapely.errors.GEOSException out of import_layer."""
    with tempfile.TemporaryDirectory() as d:
        path = _layer(
            Path(d),
            {"type": "LineString", "coordinates": [[127.0, 37.5]]},
            {"type": "Point", "coordinates": [127.0, 37.5]},
        )
        for stack in stacks.values():
            report = import_layer(stack.platform.store, path, "facilities")
            assert report.created + report.updated == 1 and (0, "no geometry") in report.bad
            assert any(n.startswith("feature 0: the geometry cannot be read") for n in report.notes)


def test_a_z_coordinate_is_dropped(stacks: dict[str, Stack]) -> None:
    """Was a DataError on PostgreSQL ("Geometry has Z dimension but column does not")."""
    with tempfile.TemporaryDirectory() as d:
        path = _layer(Path(d), {"type": "Point", "coordinates": [127.0, 37.5, 35.0]})
        for stack in stacks.values():
            report = import_layer(stack.platform.store, path, "facilities")
            assert report.created + report.updated == 1, report


def test_a_population_table_that_is_not_utf8_is_a_bad_request(stacks: dict[str, Stack]) -> None:
    """Was UnicodeDecodeError (a CP949 export of the table)."""
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "population.txt"
        path.write_bytes("기간\t자치구\t동\n".encode("cp949"))
        try:
            import_population(stacks["sqlite"].platform.store, path)
        except BadRequest as e:
            assert e.where == str(path) and "UTF-8" in e.message
        else:
            raise AssertionError("a CP949 table was accepted")
