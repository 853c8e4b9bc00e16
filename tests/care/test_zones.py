# SPDX-License-Identifier: Apache-2.0
"""School zones and crash hotspots: imported from a GENERATED file (no licensed 어린이보호구역 or TAAS
hotspot file is available; the file's name and each feature say so), served as public OGC API layers,
and the guardian's safety note when the child's usual route crosses a hotspot. Real HTTP, both stores."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson

from safecity.care.fences import circle
from safecity.geo.importer import import_layer
from tests.care.conftest import CareEnv
from tests.care.test_trips import ORIGIN, STEP_S, _along, _send, _start


def _write(path: Path, features: list[dict[str, Any]]) -> Path:
    path.write_bytes(orjson.dumps({"type": "FeatureCollection", "features": features}))
    return path


def _feature(name: str, geometry: dict[str, Any]) -> dict[str, Any]:
    return {"type": "Feature", "properties": {"name": name, "generated": True}, "geometry": geometry}


def test_layers_and_the_safety_note(roads: None, care_env: CareEnv, tmp_path: Path) -> None:
    env = care_env
    pid = env.child()
    key = env.device(pid)
    trip = _start(env, pid)
    walk = list(_along(trip["route"]))
    for lon, lat in walk:
        env.clock.advance(timedelta(seconds=STEP_S))
        _send(env, key, lon, lat)
    mid = walk[len(walk) // 2]
    on_route = circle(mid[0], mid[1], 40)
    hotspots = _write(
        tmp_path / "generated_crash_hotspots.geojson",
        [
            _feature(
                "가상 교차로 A",
                {"type": "Polygon", "coordinates": [list(map(list, on_route.exterior.coords))]},
            ),
            _feature("가상 교차로 B", {"type": "Point", "coordinates": [126.9900, 37.5800]}),  # far away
        ],
    )
    schools = _write(
        tmp_path / "generated_school_zones.geojson",
        [_feature("가상초등학교", {"type": "Point", "coordinates": list(ORIGIN)})],
    )
    assert import_layer(env.platform, hotspots, "crash-hotspots").created == 2
    assert import_layer(env.platform, schools, "school-zones").created == 1
    assert import_layer(env.platform, hotspots, "crash-hotspots").created == 2  # replaced, not added

    items = env.call(None, "GET", "/ogcapi/collections/crash-hotspots/items").json()
    assert sorted(f["properties"]["name"] for f in items["features"]) == ["가상 교차로 A", "가상 교차로 B"]
    assert all(f["properties"]["generated"] for f in items["features"])
    zone = env.call(None, "GET", "/ogcapi/collections/school-zones/items").json()["features"]
    assert len(zone) == 1 and zone[0]["geometry"]["type"] == "Polygon"  # the gate drawn as a 300 m circle

    note = env.call("mom", "GET", f"/care/people/{pid}/safety-note")
    assert note.status_code == 200, note.text
    body = note.json()
    assert [h["name"] for h in body["hotspots"]] == ["가상 교차로 A"]
    assert "가상 교차로 A" in body["note"]["ko"] and "crash hotspots" in body["note"]["en"]
    # the hotspots are generated: the note the guardian reads says so
    assert "GENERATED" in body["note"]["en"] and "생성된 예시" in body["note"]["ko"]
    assert env.call("stranger", "GET", f"/care/people/{pid}/safety-note").status_code == 403
    access = env.call("mom", "GET", f"/care/people/{pid}/access").json()
    assert any(a["purpose"].startswith("보호자 안전 안내") for a in access)
