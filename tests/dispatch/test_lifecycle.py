# SPDX-License-Identifier: Apache-2.0
"""Stations, units, the status lifecycle, call intake and incidents, dispatching: over HTTP, on both
stores, with the audit log and the events as they really are written."""

from __future__ import annotations

from safecity.dispatch.model import TRANSITIONS, UnitStatus, call_types
from safecity.situation.incident_inputs import ManualIncidentIn
from tests.dispatch.conftest import Desk

GONGDEOK = "1144056500"  # 공덕동 (MOIS adm_cd2)


def test_roles_guard_the_desk(desk: Desk) -> None:
    c = desk.client
    assert c.get("/dispatch/units").status_code == 401
    assert c.get("/dispatch/units", headers=desk.operator).status_code == 200
    # setting up stations is an administrator's job, not a dispatcher's
    body = {"code": "x", "name_ko": "x", "name_en": "x", "lon": 127.0, "lat": 37.5}
    assert c.post("/dispatch/stations", json=body, headers=desk.dispatcher).status_code == 403


def test_call_types_follow_the_119_categories() -> None:
    types = call_types()
    assert {t.category.value for t in types.values()} == {"fire", "rescue", "ems"}
    assert types["ems_cardiac_arrest"].golden_min == 4
    building = {r.unit.value: r.count for r in types["fire_building"].run_card}
    assert building["pumper"] == 2 and building["ladder"] == 1


def test_a_call_by_dong_address_or_point_opens_or_joins_an_incident(desk: Desk) -> None:
    by_dong = desk.post("/dispatch/calls", {"type": "fire_building", "dong": GONGDEOK})
    assert by_dong.status_code == 201, by_dong.text
    first = by_dong.json()
    assert first["district"] == "11440" and first["dong"] == GONGDEOK and first["typeKo"] == "건축물 화재"
    # a second caller reports the same fire from the street: it joins the incident
    again = desk.post(
        "/dispatch/calls", {"type": "fire_building", "lon": first["lon"] + 0.0005, "lat": first["lat"]}
    ).json()
    assert again["incident"] == first["incident"]
    # an EMS call at the same place is another incident (another category)
    ems = desk.post(
        "/dispatch/calls", {"type": "ems_chest_pain", "address": "서울 마포구 공덕동 12-3"}
    ).json()
    assert ems["incident"] != first["incident"] and ems["dong"] == GONGDEOK
    queue = desk.get("/dispatch/calls", params={"open": "true"}).json()
    assert [c["id"] for c in queue] == [ems["id"], again["id"], first["id"]]


def test_bad_calls_say_what_and_where(desk: Desk) -> None:
    r = desk.post("/dispatch/calls", {"type": "alien_landing", "dong": GONGDEOK})
    assert r.status_code == 400 and r.json()["where"] == "type"
    r = desk.post("/dispatch/calls", {"type": "ems_other", "address": "어딘가 123"})
    assert r.status_code == 400 and r.json()["where"] == "address" and "message_ko" in r.json()
    r = desk.post("/dispatch/calls", {"type": "ems_other", "dong": "9999999999"})
    assert r.status_code == 400 and r.json()["where"] == "dong"
    r = desk.post("/dispatch/calls", {"type": "ems_other", "lon": 126.95})
    assert r.status_code in (400, 422)
    assert desk.get("/dispatch/calls").json() == []  # nothing half-written


def test_the_status_lifecycle_is_enforced_timestamped_and_audited(desk: Desk) -> None:
    call = desk.post("/dispatch/calls", {"type": "ems_breathing", "dong": GONGDEOK}).json()
    # a unit cannot arrive on scene before it is sent
    r = desk.post("/dispatch/units/공덕구급1/status", {"status": "on_scene"})
    assert r.status_code == 409 and r.json()["where"] == "status"
    sent = desk.post(f"/dispatch/calls/{call['id']}/dispatch", {"units": ["공덕구급1"]})
    assert sent.status_code == 200, sent.text
    assert sent.json()["status"] == "dispatched" and sent.json()["dispatchedAt"]
    for status in ("en_route", "on_scene", "transporting", "at_hospital", "returning", "available"):
        r = desk.post("/dispatch/units/공덕구급1/status", {"status": status})
        assert r.status_code == 200, (status, r.text)
    board = {u["callsign"]: u for u in desk.get("/dispatch/units").json()}
    assert board["공덕구급1"]["status"] == "available" and board["공덕구급1"]["call"] is None
    history = desk.get("/dispatch/units/공덕구급1/history").json()
    assert [h["status"] for h in history] == [
        "dispatched",
        "en_route",
        "on_scene",
        "transporting",
        "at_hospital",
        "returning",
        "available",
    ]
    assert all(h["actor"] == "disp" for h in history)
    detail = desk.get(f"/dispatch/calls/{call['id']}").json()
    assert detail["arrivedAt"] and detail["assignments"][0]["arrivedAt"]
    # the audit capability recorded every change through the events
    desk.platform.bus.drain()
    audited = desk.platform.audit.search(
        action="dispatch.unit_status", target_prefix="unit:공덕구급1", limit=50
    )
    assert len(audited) == 7 and {a.actor for a in audited} == {"disp"}
    assert desk.platform.audit.search(action="dispatch.units_dispatched", limit=5)


def test_a_busy_unit_cannot_be_sent_and_nothing_changes(desk: Desk) -> None:
    a = desk.post("/dispatch/calls", {"type": "ems_trauma", "dong": GONGDEOK}).json()
    b = desk.post("/dispatch/calls", {"type": "ems_trauma", "address": "용산구 청파동"}).json()
    assert desk.post(f"/dispatch/calls/{a['id']}/dispatch", {"units": ["아현구급1"]}).status_code == 200
    r = desk.post(f"/dispatch/calls/{b['id']}/dispatch", {"units": ["청파구급1", "아현구급1"]})
    assert r.status_code == 409 and r.json()["where"] == "units"
    board = {u["callsign"]: u["status"] for u in desk.get("/dispatch/units").json()}
    assert board["청파구급1"] == "available"  # all or none
    assert desk.get(f"/dispatch/calls/{b['id']}").json()["status"] == "open"


def test_every_status_has_a_way_back_to_available() -> None:
    for status in UnitStatus:
        seen, todo = {status}, [status]
        while todo:
            for nxt in TRANSITIONS[todo.pop()]:
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        assert UnitStatus.available in seen, status


def test_a_rule_incident_creates_a_call_once(desk: Desk) -> None:
    incident = desk.platform.incidents.open_manual(
        ManualIncidentIn(hazard="fire", level=2, title_ko="화재", title_en="Fire", districts=["11440"]), "op"
    )
    desk.platform.bus.drain()
    desk.platform.bus.drain()
    calls = desk.get("/dispatch/calls").json()
    assert [(c["source"], c["situationIncident"], c["type"]) for c in calls] == [
        ("rule", incident.id, "fire_building")
    ]


def test_kpis_are_served_as_json_and_csv(desk: Desk) -> None:
    call = desk.post("/dispatch/calls", {"type": "ems_trauma", "dong": GONGDEOK}).json()
    desk.post(f"/dispatch/calls/{call['id']}/dispatch", {"units": ["공덕구급1"]})
    desk.post("/dispatch/units/공덕구급1/status", {"status": "en_route"})
    desk.post("/dispatch/units/공덕구급1/status", {"status": "on_scene"})
    rows = desk.get("/dispatch/kpis").json()
    assert [(r["district"], r["callType"], r["calls"], r["arrived"]) for r in rows] == [
        ("11440", "ems_trauma", 1, 1)
    ]
    csv = desk.get("/dispatch/kpis.csv")
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    assert csv.text.splitlines()[0].startswith("district,month,callType,callTypeKo,callTypeEn")
    assert desk.get("/dispatch/kpis", params={"month": "2026/12"}).json()["where"] == "month"
    assert desk.client.get("/dispatch/kpis.csv").status_code == 401
