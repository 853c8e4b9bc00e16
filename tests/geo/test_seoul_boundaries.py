# SPDX-License-Identifier: Apache-2.0
"""The real Seoul boundaries shipped in the package: complete, nested, close to the source, attributed,
and exactly what the build script makes from the shared data."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib import resources
from pathlib import Path

import numpy as np
import pytest
import shapely
from shapely.geometry import shape

from safecity.app import Platform
from safecity.geo import seoul
from safecity.geo.areas import area_at, areas_of
from safecity.geo.importer import import_layer
from tests.conftest import SHARED
from tests.geo.data import CITY_HALL, DONGS_2021, MOIS_DISTRICTS

ROOT = Path(__file__).resolve().parents[2]
#: Metres per degree of latitude; a degree of longitude is shorter, so distances in degrees × this err long.
M_PER_DEG = 111_195.0


def test_every_district_and_dong_with_mois_codes_and_names() -> None:
    districts, dongs = seoul.districts(), seoul.dongs()
    assert len(districts) == 25 and len(dongs) == 425
    assert len({d.code for d in dongs}) == 425
    codes = {d.code for d in districts}
    for d in dongs:
        assert len(d.code) == 10 and d.code[:5] == d.district_code in codes, d
        assert d.name_ko and d.name_en and d.polygon.is_valid, d
    # the source's own codes and names, none lost or renamed
    source = json.loads(DONGS_2021.read_text(encoding="utf-8"))["features"]
    assert {(f["properties"]["adm_cd2"], f["properties"]["adm_nm"].split()[-1]) for f in source} == {
        (d.code, d.name_ko) for d in dongs
    }
    juso = json.loads(MOIS_DISTRICTS.read_text(encoding="utf-8"))["features"]
    assert {(p["SIG_CD"], p["SIG_KOR_NM"], p["SIG_ENG_NM"]) for p in (f["properties"] for f in juso)} == {
        (d.code, d.name_ko, d.name_en) for d in districts
    }
    by_code = {d.code: d for d in dongs}
    assert (by_code["1114055000"].name_ko, by_code["1114055000"].name_en) == ("명동", "Myeong-dong")
    assert by_code["1159068000"].name_ko == "신대방2동" and by_code["1159068000"].district_code == "11590"


def test_the_layers_nest_exactly_and_tile_the_city() -> None:
    districts, dongs = seoul.districts(), seoul.dongs()
    geoms = np.array([d.polygon for d in dongs], dtype=object)
    assert shapely.coverage_is_valid(geoms)  # no overlaps, no slivers between neighbours
    assert shapely.coverage_is_valid(np.array([d.polygon for d in districts], dtype=object))
    for district in districts:
        mine = [d.polygon for d in dongs if d.district_code == district.code]
        union = shapely.coverage_union_all(mine)
        assert union.symmetric_difference(district.polygon).area == pytest.approx(0.0, abs=1e-12)
    # every dong's inside point is in its own district and no other
    tree = shapely.STRtree([d.polygon for d in districts])
    for d in dongs:
        hits = tree.query(d.polygon.representative_point(), predicate="intersects")
        assert [districts[int(h)].code for h in hits] == [d.district_code], d.code


def test_close_to_the_source_and_small() -> None:
    source = {
        f["properties"]["adm_cd2"]: shape(f["geometry"])
        for f in json.loads(DONGS_2021.read_text(encoding="utf-8"))["features"]
    }
    worst_m = 0.0
    for d in seoul.dongs():
        original = source[d.code]
        worst_m = max(worst_m, shapely.hausdorff_distance(original, d.polygon) * M_PER_DEG)
        assert d.polygon.symmetric_difference(original).area / original.area < 0.02, d.code
    # the tolerance is 10 m in metres; ~0.1 m rounding, and degrees of longitude measured as latitude
    assert worst_m <= 10.0 * 1.3
    for name in (seoul.DISTRICTS_FILE, seoul.DONGS_FILE):
        with seoul.boundary_file(name) as path:
            assert path.stat().st_size < 500_000, name


def test_attribution_is_shipped_next_to_the_files() -> None:
    text = (
        resources.files("safecity.geo").joinpath("data", seoul.ATTRIBUTION_FILE).read_text(encoding="utf-8")
    )
    for needed in (
        "https://github.com/vuski/admdongkor",
        "free to use",
        "April 2021",
        "c6815a42938ec7e611c3677bb4cb15aad7520005",  # the copy's commit
        "Apache-2.0",
        "dbb1dcde2e3c9937684c5a44ab9301888ad63ee6",
        "tolerance 10 m",
        "scripts/build_seoul_boundaries.py",
    ):
        assert needed in text, needed
    assert "vuski/admdongkor" in seoul.ATTRIBUTION.text
    assert seoul.attribution_for(["mine.geojson", seoul.DONGS_FILE]) is seoul.ATTRIBUTION
    assert seoul.attribution_for(["mine.geojson", None]) is None


def test_the_build_script_reproduces_the_shipped_files() -> None:
    if not DONGS_2021.is_file():
        pytest.skip(f"{DONGS_2021} is not there (shared data)")
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "build_seoul_boundaries.py"),
            "--data",
            str(SHARED / "data"),
            "--check",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr


def test_import_like_any_file(platform: Platform) -> None:
    with (
        seoul.boundary_file(seoul.DISTRICTS_FILE) as districts,
        seoul.boundary_file(seoul.DONGS_FILE) as dongs,
    ):
        d = import_layer(platform, districts, "districts")
        g = import_layer(platform, dongs, "dongs")
    assert (d.created, g.created, d.bad, g.bad, d.repaired, g.repaired) == (25, 425, [], [], [], [])
    assert d.columns["code_system"] == g.columns["code_system"] == "mois"
    with platform.store.engine.connect() as conn:
        dong = area_at(conn, *CITY_HALL, "dong")
        district = area_at(conn, *CITY_HALL, "district")
        assert dong is not None and district is not None
        assert (dong.code, dong.name_ko, dong.name_en) == ("1114055000", "명동", "Myeong-dong")
        assert dong.parent_id == district.id and district.code == "11140"
        assert len(areas_of(conn, "dong")) == 425
