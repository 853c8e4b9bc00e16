# SPDX-License-Identifier: Apache-2.0
"""CCTV and police stations for the control room (safecity.care.safety_points), on both stores: police
stations from the real OpenStreetMap extract of Gongdeok, cameras from a file in the public standard
format 전국CCTV표준데이터 (written here, CP949 as 공공데이터포털 serves it; the rows are this test's, not
real cameras), served as the public layers ``police`` and ``cctv``; a bad row fails the whole import
naming its line and column."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from safecity.care.safety_points import CCTV_SOURCE, read_cctv_csv, read_osm, replace
from safecity.core.errors import BadRequest
from tests.care.conftest import CareEnv
from tests.conftest import SHARED

OSM = SHARED / "data" / "roads" / "osm_seoul_gongdeok_cheongpa.osm"
HEADER = (
    "관리기관명,소재지도로명주소,소재지지번주소,설치목적구분,카메라대수,카메라화소수,촬영방면정보,"
    "보관일수,설치연월,위도,경도,데이터기준일자"
)


def standard_csv(path: Path, rows: list[str]) -> Path:
    """A file in the 전국CCTV표준데이터 layout, encoded as the portal serves it (CP949)."""
    path.write_bytes(("\n".join([HEADER, *rows]) + "\n").encode("cp949"))
    return path


def _features(env: CareEnv, collection: str) -> list[dict[str, object]]:
    r = env.call(None, "GET", f"/ogcapi/collections/{collection}/items", params={"limit": 100})
    assert r.status_code == 200, r.text
    return list(r.json()["features"])


def test_police_stations_from_the_real_osm_extract(care_env: CareEnv) -> None:
    env = care_env
    assert _features(env, "police") == [] and _features(env, "cctv") == []  # none unless imported
    points = read_osm(OSM)
    assert sorted(p.name for p in points if p.kind == "police") == [
        "공덕지구대",
        "마포경찰서 (Mapo Police Station)",
    ]
    assert not [p for p in points if p.kind == "cctv"]  # the extract maps no camera
    now = datetime(2026, 12, 8, tzinfo=UTC)
    assert replace(env.platform.store, points, f"({OSM.name})", now) == {"police": 2}
    assert replace(env.platform.store, points, f"({OSM.name})", now) == {"police": 2}  # replaces
    police = _features(env, "police")
    assert len(police) == 2 and all("OpenStreetMap" in str(f["properties"]) for f in police)
    assert all(f["geometry"]["type"] == "Point" for f in police)  # type: ignore[index]


def test_cameras_from_the_public_standard_format(care_env: CareEnv, tmp_path: Path) -> None:
    env = care_env
    good = standard_csv(
        tmp_path / "cctv.csv",
        [
            "서울특별시 마포구청,서울특별시 마포구 만리재로 1,서울특별시 마포구 공덕동 1,생활방범,4,200,360도,30,2019-05,37.5490,126.9560,2026-10-01",
            "서울특별시 마포구청,,서울특별시 마포구 공덕동 2,어린이보호,2,200,,30,2020-03,37.5475,126.9600,2026-10-01",
        ],
    )
    cameras = read_cctv_csv(good)
    assert [c.name for c in cameras] == [
        "생활방범 CCTV 4대 · 서울특별시 마포구 만리재로 1",
        "어린이보호 CCTV 2대 · 서울특별시 마포구 공덕동 2",
    ]
    assert cameras[0].source.startswith(f"{CCTV_SOURCE} cctv.csv; 서울특별시 마포구청; 2026-10-01")
    now = datetime(2026, 12, 8, tzinfo=UTC)
    assert replace(env.platform.store, cameras, f"{CCTV_SOURCE} cctv.csv", now) == {"cctv": 2}
    served = _features(env, "cctv")
    assert sorted(f["geometry"]["coordinates"] for f in served) == [[126.956, 37.549], [126.96, 37.5475]]  # type: ignore[index]
    # a bad row: the import names its line and column, and nothing of the file is taken
    bad = standard_csv(
        tmp_path / "bad.csv",
        [
            "마포구청,,공덕동 1,생활방범,1,,,30,2019-05,37.5490,126.9560,2026-10-01",
            "마포구청,,공덕동 2,생활방범,1,,,30,2019-05,삼십칠,126.9600,2026-10-01",
        ],
    )
    with pytest.raises(BadRequest) as e:
        read_cctv_csv(bad)
    assert "line 3" in str(e.value) and "위도" in str(e.value)
    far = standard_csv(
        tmp_path / "far.csv", ["마포구청,,공덕동 1,생활방범,1,,,30,2019-05,97.5,126.96,2026-10-01"]
    )
    with pytest.raises(BadRequest, match=r"line 2, 위도: 97\.5 is outside"):
        read_cctv_csv(far)
    no_position = tmp_path / "columns.csv"
    no_position.write_text("관리기관명,설치목적구분\n마포구청,생활방범\n", encoding="utf-8")
    with pytest.raises(BadRequest, match="no 위도/경도 columns"):
        read_cctv_csv(no_position)
    assert len(_features(env, "cctv")) == 2
