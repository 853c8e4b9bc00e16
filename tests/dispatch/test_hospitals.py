# SPDX-License-Identifier: Apache-2.0
"""Transporting takes a patient to the nearest hospital with a free place, or the one named (real HTTP,
both stores); a full hospital is refused, places free again when the unit leaves."""

from __future__ import annotations

from typing import Any

from tests.dispatch.conftest import Desk

#: Two emergency departments near the test stations: 공덕 (near 공덕 centre) and 청파 (near 청파 centre)
HOSPITALS = [
    {
        "code": "er-gongdeok",
        "name_ko": "공덕병원",
        "name_en": "Gongdeok Hospital",
        "lon": 126.9520,
        "lat": 37.5440,
        "capacity": 1,
    },
    {
        "code": "er-cheongpa",
        "name_ko": "청파병원",
        "name_en": "Cheongpa Hospital",
        "lon": 126.9660,
        "lat": 37.5455,
        "capacity": 2,
    },
]


def _to_scene(desk: Desk, callsign: str) -> None:
    call = desk.post("/dispatch/calls", {"type": "ems_other", "lon": 126.9530, "lat": 37.5450}).json()
    assert desk.post(f"/dispatch/calls/{call['id']}/dispatch", {"units": [callsign]}).status_code == 200
    for status in ("en_route", "on_scene"):
        assert desk.post(f"/dispatch/units/{callsign}/status", {"status": status}).status_code == 200


def _free(desk: Desk) -> dict[str, Any]:
    return {h["code"]: h["free"] for h in desk.get("/dispatch/hospitals").json()}


def test_transporting_goes_to_the_nearest_hospital_with_a_free_place(desk: Desk) -> None:
    for h in HOSPITALS:
        r = desk.client.post("/dispatch/hospitals", json=h, headers=desk.admin)
        assert r.status_code == 201, r.text
    assert desk.post("/dispatch/hospitals", HOSPITALS[0]).status_code in (401, 403)  # admins add them
    ids = {h["code"]: h["id"] for h in desk.get("/dispatch/hospitals").json()}
    assert _free(desk) == {"er-gongdeok": 1, "er-cheongpa": 2}

    # the first ambulance takes the nearest (공덕, one place); the second finds it full and goes to 청파
    _to_scene(desk, "공덕구급1")
    first = desk.post("/dispatch/units/공덕구급1/status", {"status": "transporting"})
    assert first.status_code == 200, first.text
    assert first.json()["hospital"] == ids["er-gongdeok"]
    assert "공덕병원" in desk.get("/dispatch/units/공덕구급1/history").json()[-1]["note"]
    _to_scene(desk, "아현구급1")
    second = desk.post("/dispatch/units/아현구급1/status", {"status": "transporting"}).json()
    assert second["hospital"] == ids["er-cheongpa"]
    assert _free(desk) == {"er-gongdeok": 0, "er-cheongpa": 1}

    # naming a full hospital is refused and changes nothing; naming one with a place is taken
    _to_scene(desk, "청파구급1")
    full = desk.post(
        "/dispatch/units/청파구급1/status", {"status": "transporting", "hospital": "er-gongdeok"}
    )
    assert full.status_code == 409 and full.json()["where"] == "hospital" and full.json()["message_ko"]
    board = {u["callsign"]: u for u in desk.get("/dispatch/units").json()}
    assert board["청파구급1"]["status"] == "on_scene" and board["청파구급1"]["hospital"] is None
    unknown = desk.post("/dispatch/units/청파구급1/status", {"status": "transporting", "hospital": "er-none"})
    assert unknown.status_code == 400 and unknown.json()["where"] == "hospital"
    named = desk.post(
        "/dispatch/units/청파구급1/status", {"status": "transporting", "hospital": "er-cheongpa"}
    )
    assert named.status_code == 200 and named.json()["hospital"] == ids["er-cheongpa"]

    # no free place anywhere: the crew is told to name one
    assert _free(desk) == {"er-gongdeok": 0, "er-cheongpa": 0}
    _to_scene(desk, "청파구조1")
    none = desk.post("/dispatch/units/청파구조1/status", {"status": "transporting"})
    assert none.status_code == 409 and "name one" in none.json()["message"]

    # at the hospital it still holds its place; returning frees it
    assert (
        desk.post("/dispatch/units/공덕구급1/status", {"status": "at_hospital"}).json()["hospital"]
        == ids["er-gongdeok"]
    )
    assert _free(desk)["er-gongdeok"] == 0
    back = desk.post("/dispatch/units/공덕구급1/status", {"status": "returning"}).json()
    assert back["hospital"] is None and _free(desk)["er-gongdeok"] == 1


def test_hospitals_rank_by_road_time_and_capacity(desk: Desk) -> None:
    """With the real OSM extract imported: the hospitals for a call come by road time among those with a
    free place (times equal to a separate search towards each hospital), the full ones last; a capacity
    said by a dispatcher is audited and changes the ranking and where the next transport goes."""
    import numpy as np

    from safecity.dispatch.service import Dispatch
    from safecity.geo.roads.graph import graph_path
    from safecity.geo.roads.osm import read_osm
    from tests.conftest import SHARED

    read_osm(SHARED / "data" / "roads" / "osm_seoul_gongdeok_cheongpa.osm").graph.save(
        graph_path(desk.platform.settings.data_dir)
    )
    for h in HOSPITALS:
        assert desk.client.post("/dispatch/hospitals", json=h, headers=desk.admin).status_code == 201
    call = desk.post("/dispatch/calls", {"type": "ems_other", "lon": 126.9600, "lat": 37.5480}).json()
    ranked = desk.get(f"/dispatch/calls/{call['id']}/hospitals").json()
    assert [h["basis"] for h in ranked] == ["road", "road"]
    assert [h["recommended"] for h in ranked] == [True, False]
    assert ranked[0]["travelS"] <= ranked[1]["travelS"]
    assert all(h["whyKo"] and h["whyEn"] and "min by road" in h["whyEn"] for h in ranked)
    # the same times from a search towards each hospital on the same network and weights
    svc = desk.platform.services.get(Dispatch)
    rt = svc.live_roads()
    band = rt.band(desk.platform.clock.now(), False, svc.avoid())
    cnode, cacc = rt.snap(np.array([126.9600]), np.array([37.5480]))
    for h in ranked:
        hnode, hacc = rt.snap(np.array([h["lon"]]), np.array([h["lat"]]))
        want = rt.to_node(band, int(hnode[0])).seconds[cnode[0]] + hacc[0] + cacc[0]
        assert h["travelS"] == round(float(want), 1)

    # the nearer one by road says it is full: it goes last, marked full, and the other is recommended
    first = ranked[0]["code"]
    said = desk.client.put(
        f"/dispatch/hospitals/{first}/capacity",
        json={"capacity": 0, "note": "ED full"},
        headers=desk.operator,
    )
    assert said.status_code == 200, said.text
    assert said.json()["capacity"] == 0 and said.json()["capacity_by"] == "op" and said.json()["capacity_at"]
    again = desk.get(f"/dispatch/calls/{call['id']}/hospitals").json()
    assert [h["code"] for h in again] == [ranked[1]["code"], first]
    assert again[0]["recommended"] and not again[1]["recommended"]
    assert "full" in again[1]["whyEn"] and "만원" in again[1]["whyKo"]
    desk.platform.bus.drain()
    audited = desk.platform.audit.search(
        action="dispatch.hospital_capacity", target_prefix=f"hospital:{first}"
    )
    assert len(audited) == 1 and audited[0].actor == "op"
    # a transport without a named hospital goes to the recommended one
    assert desk.post(f"/dispatch/calls/{call['id']}/dispatch", {"units": ["청파구급1"]}).status_code == 200
    for status in ("en_route", "on_scene"):
        assert desk.post("/dispatch/units/청파구급1/status", {"status": status}).status_code == 200
    went = desk.post("/dispatch/units/청파구급1/status", {"status": "transporting"}).json()
    ids = {h["code"]: h["id"] for h in desk.get("/dispatch/hospitals").json()}
    assert went["hospital"] == ids[ranked[1]["code"]]

    # bad input names its field; unknown hospitals are 404; only the staff say capacities
    bad = desk.client.put(
        f"/dispatch/hospitals/{first}/capacity", json={"capacity": -1}, headers=desk.dispatcher
    )
    assert bad.status_code in (400, 422) and "capacity" in bad.text
    unknown = desk.client.put(
        "/dispatch/hospitals/er-none/capacity", json={"capacity": 3}, headers=desk.dispatcher
    )
    assert unknown.status_code == 404 and unknown.json()["where"] == "code"
    assert desk.client.put(f"/dispatch/hospitals/{first}/capacity", json={"capacity": 3}).status_code == 401
