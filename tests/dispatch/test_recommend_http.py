# SPDX-License-Identifier: Apache-2.0
"""The dispatcher's loop over HTTP on the real OSM extract: a call, its explained recommendation, the
one-action accept that changes the units' status, and a road closure the next route avoids."""

from __future__ import annotations

import shapely
from shapely.geometry import LineString, shape

from safecity.geo.roads.graph import graph_path
from safecity.geo.roads.osm import read_osm
from tests.conftest import SHARED
from tests.dispatch.conftest import Desk

OSM = SHARED / "data" / "roads" / "osm_seoul_gongdeok_cheongpa.osm"


def test_recommend_accept_and_avoid_a_closure(desk: Desk) -> None:
    read_osm(OSM).graph.save(graph_path(desk.platform.settings.data_dir))
    call = desk.post("/dispatch/calls", {"type": "fire_building", "lon": 126.9575, "lat": 37.5470}).json()
    rec = desk.get(f"/dispatch/calls/{call['id']}/recommendation")
    assert rec.status_code == 200, rec.text
    body = rec.json()
    # the card asks 2 pumpers, a ladder, a rescue unit and an ambulance: all exist in the three stations
    assert sorted(u["fills"] for u in body["units"]) == ["ambulance", "ladder", "pumper", "pumper", "rescue"]
    assert body["missing"] == []
    for u in body["units"]:
        assert u["travelS"] > 0 and u["whyKo"] and u["whyEn"] and len(u["route"]) >= 2
    # a closure over the first ambulance's route: the next recommendation goes around it
    amb = next(u for u in body["units"] if u["fills"] == "ambulance")
    line = LineString(amb["route"])
    mid = line.interpolate(0.5, normalized=True)
    closure = shapely.buffer(mid, 0.0002)
    r = desk.client.post(
        "/evacuation/road-closures",
        json={"reason": "test", "geometry": shapely.geometry.mapping(closure)},
        headers=desk.operator,
    )
    assert r.status_code == 201, r.text
    again = desk.get(f"/dispatch/calls/{call['id']}/recommendation").json()
    amb2 = next(u for u in again["units"] if u["unit"] == amb["unit"])
    assert not LineString(amb2["route"]).intersects(shape(shapely.geometry.mapping(closure)))
    assert amb2["travelS"] >= amb["travelS"]
    # one action sends them all; their status follows
    ok = desk.post(f"/dispatch/calls/{call['id']}/accept")
    assert ok.status_code == 200, ok.text
    sent = {u["unit"] for u in ok.json()["recommendation"]["units"]}
    board = {u["callsign"]: u for u in desk.get("/dispatch/units").json()}
    assert {c for c, u in board.items() if u["status"] == "dispatched"} == sent
    assert all(board[c]["call"] == call["id"] for c in sent)
    detail = desk.get(f"/dispatch/calls/{call['id']}").json()
    assert detail["status"] == "dispatched" and all(a["travelS"] > 0 for a in detail["assignments"])
    # nothing left to send to a second building fire: the recommendation says what is missing
    second = desk.post("/dispatch/calls", {"type": "fire_building", "lon": 126.9520, "lat": 37.5450}).json()
    left = desk.get(f"/dispatch/calls/{second['id']}/recommendation").json()
    assert {m["unit"] for m in left["missing"]} >= {"pumper", "ladder"}


def test_without_a_road_network_the_recommendation_says_so(desk: Desk) -> None:
    call = desk.post("/dispatch/calls", {"type": "ems_other", "address": "마포구 공덕동"}).json()
    r = desk.get(f"/dispatch/calls/{call['id']}/recommendation")
    assert r.status_code == 503 and "safecity import roads" in r.json()["message"]


def test_coverage_and_move_up_follow_a_dispatch(desk: Desk) -> None:
    read_osm(OSM).graph.save(graph_path(desk.platform.settings.data_dir))
    before = desk.get("/dispatch/coverage")
    assert before.status_code == 200, before.text
    cov = before.json()
    assert cov["available"] == 3 and len(cov["units"]) == 3
    assert cov["units"][0]["within7min"]["type"] in ("Polygon", "MultiPolygon")
    covered = {d["code"] for d in cov["dongs"] if d["bestS"] is not None and d["bestS"] <= 420}
    assert "1144056500" in covered  # 공덕동, where the stations are
    # send two of the three ambulances: fewer units are available, and move-up answers
    call = desk.post("/dispatch/calls", {"type": "ems_other", "lon": 126.9575, "lat": 37.5470}).json()
    assert (
        desk.post(f"/dispatch/calls/{call['id']}/dispatch", {"units": ["공덕구급1", "청파구급1"]}).status_code
        == 200
    )
    after = desk.get("/dispatch/coverage").json()
    assert after["available"] == 1 and after["shares"]["within7min"] <= cov["shares"]["within7min"]
    up = desk.get("/dispatch/moveup", params={"maxMoves": 1})
    assert up.status_code == 200, up.text
    body = up.json()
    assert body["expectedCoverageAfter"] >= body["expectedCoverageBefore"] and len(body["moves"]) <= 1
