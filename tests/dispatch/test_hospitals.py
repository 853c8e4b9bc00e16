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
