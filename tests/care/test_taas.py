# SPDX-License-Identifier: Apache-2.0
"""Crash hotspots from a file in the layout of 도로교통공단 TAAS 사고다발지역 (safecity.care.taas), on both
stores: 지점명, 발생건수, 사상자수, 위도, 경도, 다발지역폴리곤 (GeoJSON text), CP949 as the portal serves
it; the rows are this test's, not TAAS's. The file's hotspots replace the earlier ones; a bad row fails
the import with its line and column; a file named generated is labelled so."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from safecity.care.taas import import_taas
from safecity.core.errors import BadRequest
from tests.care.conftest import CareEnv

HEADER = "사고지역관리번호,지점명,발생건수,사상자수,사망자수,위도,경도,다발지역폴리곤"
NOW = datetime(2026, 12, 8, tzinfo=UTC)
SQUARE = {
    "type": "Polygon",
    "coordinates": [
        [[126.955, 37.548], [126.957, 37.548], [126.957, 37.550], [126.955, 37.550], [126.955, 37.548]]
    ],
}


def _csv(path: Path, rows: list[str]) -> Path:
    path.write_bytes(("\n".join([HEADER, *rows]) + "\n").encode("cp949"))
    return path


def _polygon_cell() -> str:
    return '"' + json.dumps(SQUARE).replace('"', '""') + '"'


def _hotspots(env: CareEnv) -> list[dict[str, Any]]:
    r = env.call(None, "GET", "/ogcapi/collections/crash-hotspots/items")
    assert r.status_code == 200, r.text
    return sorted(r.json()["features"], key=lambda f: f["properties"]["name"])


def test_taas_hotspots_replace_the_layer(care_env: CareEnv, tmp_path: Path) -> None:
    env = care_env
    store = env.platform.store
    good = _csv(
        tmp_path / "taas_pedestrian.csv",
        [
            f"2025001,공덕오거리 부근,7,9,0,37.549,126.956,{_polygon_cell()}",
            "2025002,만리재로 부근,4,5,1,37.5470,126.9600,",  # no polygon: a circle round the centre
        ],
    )
    assert import_taas(store, good, NOW) == 2
    assert import_taas(store, good, NOW) == 2  # replaces
    found = _hotspots(env)
    props = [f["properties"] for f in found]
    assert [p["name"] for p in props] == [
        "공덕오거리 부근 (발생 7건, 사상자 9명)",
        "만리재로 부근 (발생 4건, 사상자 5명)",
    ]
    assert all(
        p["generated"] is False and "TAAS 사고다발지역 taas_pedestrian.csv" in p["source"] for p in props
    )
    assert [f["geometry"]["type"] for f in found] == ["Polygon", "Polygon"]
    assert len(found[0]["geometry"]["coordinates"][0]) == 5  # the file's own polygon

    bad = _csv(tmp_path / "bad.csv", ["1,가,3,3,0,37.5,126.9,", "2,나,many,3,0,37.5,126.9,"])
    with pytest.raises(BadRequest, match="line 3, 발생건수"):
        import_taas(store, bad, NOW)
    broken = _csv(tmp_path / "broken.csv", ['1,가,3,3,0,,,"{""type"": ""Point"", ""coordinates"": [1, 2]}"'])
    with pytest.raises(BadRequest, match="line 2, 다발지역폴리곤: a Point"):
        import_taas(store, broken, NOW)
    assert len(_hotspots(env)) == 2, "a failed import leaves the layer as it was"

    generated = _csv(tmp_path / "generated_taas.csv", ["1,가상 교차로,3,3,0,37.5,126.9,"])
    assert import_taas(store, generated, NOW) == 1
    (only,) = _hotspots(env)
    assert only["properties"]["generated"] is True and "GENERATED" in only["properties"]["source"]
