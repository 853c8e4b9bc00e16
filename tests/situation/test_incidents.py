# SPDX-License-Identifier: Apache-2.0
"""Incidents on both stores: correlation, levels, auto-close, lifecycle, manual reports, events, restart."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from shapely.geometry import shape

from safecity.app import Platform
from safecity.bus import outbox
from safecity.core.clock import ManualClock
from safecity.core.errors import BadRequest, Conflict, NotFound
from safecity.core.events import Envelope
from safecity.geo.importer import import_layer
from safecity.situation import events as ev
from safecity.situation.correlate import IncidentConfig
from safecity.situation.incident_inputs import AttachmentIn, ManualIncidentIn
from safecity.situation.incidents import Incidents
from safecity.situation.model import Crisis
from tests.geo.data import MOIS_DISTRICTS
from tests.situation.incident_data import (
    DONGJAK,
    GANGNAM,
    GWANAK,
    NOWON,
    T0,
    YEONGDEUNGPO,
    YONGSAN,
    change,
    counts,
    outbox_events,
    sensing_ids,
)

M = timedelta(minutes=1)


@pytest.fixture
def clock() -> ManualClock:
    # The wall clock of operators' actions: the storm night, a little after the data.
    return ManualClock(T0 + 5 * M)


def unbatched() -> IncidentConfig:
    """The default policies without batching of area growth (tests of correlation and lifecycle; the
    batching has tests of its own below)."""
    base = IncidentConfig()
    return IncidentConfig(hazards={k: replace(p, batch=timedelta(0)) for k, p in base.hazards.items()})


@pytest.fixture
def incidents(platform: Platform, clock: ManualClock) -> Incidents:
    return Incidents(platform.store, platform.bus, clock, unbatched())


@pytest.fixture
def seoul(platform: Platform) -> Platform:
    import_layer(platform, MOIS_DISTRICTS, "districts")
    return platform


def _topics(events: list[dict[str, Any]]) -> list[str]:
    return [e["topic"] for e in events]


def test_heavy_rain_over_three_districts_is_one_incident(incidents: Incidents, platform: Platform) -> None:
    first = incidents.apply([change(subject="ds:1", districts=(DONGJAK,))])
    assert _topics(first) == [ev.INCIDENT_OPENED, ev.CRISIS_LEVEL_CHANGED]
    incident_id = first[0]["incidentId"]
    assert first[1] == {
        "scope": "district",
        "district": DONGJAK,
        "hazard": "heavy_rain",
        "level": 3,
        "previous": 0,
        "incidents": [incident_id],
        "at": T0.isoformat(),
        "topic": ev.CRISIS_LEVEL_CHANGED,
    }
    # Two more gauges, in one batch, 10 and 20 minutes later: the same storm.
    more = incidents.apply(
        [
            change(subject="ds:2", districts=(GWANAK,), at=T0 + 10 * M, datastreams=(2,)),
            change(subject="ds:3", districts=(YEONGDEUNGPO,), at=T0 + 20 * M, datastreams=(3,)),
        ]
    )
    assert ev.INCIDENT_OPENED not in _topics(more)
    updated = [e for e in more if e["topic"] == ev.INCIDENT_UPDATED]
    assert len(updated) == 1 and updated[0]["added"] == {
        "areas": [YEONGDEUNGPO, GWANAK],  # published at the end of the batch, in code order
        "datastreams": [2, 3],
        "levels": [{"area": YEONGDEUNGPO, "level": 3}, {"area": GWANAK, "level": 3}],
    }
    assert sorted(e["district"] for e in more if e.get("scope") == "district") == sorted(
        [GWANAK, YEONGDEUNGPO]
    )

    listed = [i.to_json() for i in incidents.list(open_only=True)]
    assert len(listed) == 1
    inc = incidents.get(incident_id).to_json()
    assert [a["code"] for a in inc["areas"]] == sorted([DONGJAK, GWANAK, YEONGDEUNGPO])
    assert all(a["level"] == 3 for a in inc["areas"])
    assert inc["level"] == 3 and inc["crisis"]["nameKo"] == "경계" and inc["status"] == "detected"
    assert inc["datastreams"] == [1, 2, 3] and inc["source"] == "rule" and inc["rule"] == "kma.heavy_rain"
    assert inc["openedAt"] == T0.isoformat() and inc["lastActivityAt"] == (T0 + 20 * M).isoformat()
    # Without districts loaded the text names the code; the signal is in both languages.
    fired = [t for t in inc["timeline"] if t["kind"] == "fired"]
    assert fired[0]["detailKo"] == "호우경보 (11590, 3시간 누적 92.5 mm)"
    assert fired[0]["detailEn"] == "Heavy rain warning (11590, 3-h sum 92.5 mm)"
    assert inc["geometry"] is None
    assert {(lv.district, lv.hazard, lv.level) for lv in incidents.levels()} == {
        (DONGJAK, "heavy_rain", 3),
        (GWANAK, "heavy_rain", 3),
        (YEONGDEUNGPO, "heavy_rain", 3),
    }
    # What the batch returned is what the outbox holds, in the same order.
    assert [p for _, p in outbox_events(platform)] == [
        {k: v for k, v in e.items() if k != "topic"} for e in first + more
    ]


def test_other_hazard_or_later_storm_is_another_incident(incidents: Incidents) -> None:
    incidents.apply([change(subject="ds:1")])
    # Same place, another hazard.
    incidents.apply([change(rule="kma.strong_wind", hazard="strong_wind", subject="ds:9")])
    # Same hazard, but 7 hours after the first incident's last activity (gap 6 h).
    incidents.apply([change(subject="ds:2", districts=(NOWON,), at=T0 + timedelta(hours=7))])
    listed = [i.to_json() for i in incidents.list(open_only=True)]
    assert len(listed) == 3
    assert sorted(i["hazard"] for i in listed) == ["heavy_rain", "heavy_rain", "strong_wind"]


def test_districts_by_name_geometry_and_point_lookup(incidents: Incidents, seoul: Platform) -> None:
    # A change with a point and no district code: the district is looked up (동작구 청사 near Noryangjin).
    out = incidents.apply([change(districts=(), lon=126.9398, lat=37.5124)])
    incident_id = out[0]["incidentId"]
    incidents.apply([change(subject="ds:2", districts=(GWANAK,), at=T0 + 10 * M)])
    inc = incidents.get(incident_id).to_json()
    # the title follows the areas: both districts now
    assert inc["titleKo"] == "호우경보 — 동작구, 관악구"
    assert inc["titleEn"] == "Heavy rain warning — Dongjak-gu, Gwanak-gu"
    assert [(a["code"], a["nameKo"], a["nameEn"]) for a in inc["areas"]] == [
        (DONGJAK, "동작구", "Dongjak-gu"),
        (GWANAK, "관악구", "Gwanak-gu"),
    ]
    fired = [t for t in inc["timeline"] if t["kind"] == "fired"]
    assert fired[0]["detailKo"] == "호우경보 (동작구, 3시간 누적 92.5 mm)"
    assert fired[0]["detailEn"] == "Heavy rain warning (Dongjak-gu, 3-h sum 92.5 mm)"
    geom = shape(inc["geometry"])
    assert geom.geom_type == "Polygon"  # the two districts share a border: one polygon
    assert geom.contains(shape({"type": "Point", "coordinates": [126.9398, 37.5124]}))
    levels = {lv.district: lv.to_json() for lv in incidents.levels()}
    assert levels[GWANAK]["nameKo"] == "관악구" and levels[GWANAK]["level"] == 3


def test_far_apart_facilities_are_two_incidents(incidents: Incidents) -> None:
    # Two bridges in the same district (용산구), about 2.6 km apart: two incidents.
    def bridge(subject: str, thing: int, lon: float, lat: float, at_min: int = 0) -> Any:
        return change(
            rule="facility.tilt",
            hazard="facility",
            subject=subject,
            level=Crisis.caution,
            districts=(YONGSAN,),
            things=(thing,),
            lon=lon,
            lat=lat,
            at=T0 + at_min * M,
            stage_ko="기울기 주의",
            stage_en="Tilt caution",
        )

    incidents.apply([bridge("ds:10", 1, 126.9707, 37.5284), bridge("ds:20", 2, 126.9990, 37.5180)])
    assert len(incidents.list(open_only=True)) == 2
    # Another stream of bridge 1 (same Thing) and a sensor 200 m from it join bridge 1's incident.
    incidents.apply([bridge("ds:11", 1, 126.9707, 37.5284, 5), bridge("ds:30", 3, 126.9727, 37.5295, 6)])
    listed = sorted(incidents.list(open_only=True), key=lambda i: i.id)
    assert len(listed) == 2
    first = incidents.get(listed[0].id).to_json()
    assert first["things"] == [1, 3] and len(first["conditions"]) == 3


def test_levels_escalate_at_once_and_follow_deescalation(incidents: Incidents, platform: Platform) -> None:
    out = incidents.apply([change(level=Crisis.caution)])
    incident_id = out[0]["incidentId"]
    incidents.apply([change(subject="ds:2", level=Crisis.attention, districts=(GWANAK,), at=T0 + M)])
    up = incidents.apply([change(level=Crisis.alert, previous=Crisis.caution, at=T0 + 10 * M)])
    assert [e["level"] for e in up if e.get("scope") == "incident"] == [3]
    assert [(e["district"], e["level"], e["previous"]) for e in up if e.get("scope") == "district"] == [
        (DONGJAK, 3, 2)
    ]
    down = incidents.apply([change(level=Crisis.caution, previous=Crisis.alert, at=T0 + 60 * M)])
    assert [(e["level"], e["previous"]) for e in down if e.get("scope") == "incident"] == [(2, 3)]
    cleared = incidents.apply([change(level=Crisis.none, previous=Crisis.caution, at=T0 + 90 * M)])
    # ds:2 is still at attention: the incident follows it down to 1.
    assert [(e["level"], e["previous"]) for e in cleared if e.get("scope") == "incident"] == [(1, 2)]
    assert [(e["district"], e["level"]) for e in cleared if e.get("scope") == "district"] == [(DONGJAK, 0)]
    inc = incidents.get(incident_id).to_json()
    assert inc["level"] == 1 and inc["clearedAt"] is None
    assert [t["kind"] for t in inc["timeline"]] == [
        "opened",
        "fired",
        "fired",
        "fired",
        "level",
        "lowered",
        "level",
        "cleared",
        "level",
    ]
    level_texts = [(t["detailKo"], t["detailEn"]) for t in inc["timeline"] if t["kind"] == "level"]
    assert level_texts[0][0].startswith("위기 수준 주의 → 경계: 호우경보 (11590")
    assert level_texts[0][1].startswith("Crisis level Caution → Alert: Heavy rain warning (11590")
    assert level_texts[2] == (
        "위기 수준 주의 → 관심: 호우주의보 해제 (11590)",
        "Crisis level Caution → Attention: Heavy rain advisory cleared (11590)",
    )
    conditions = {c["subject"]: c for c in inc["conditions"]}
    assert conditions["ds:1"]["level"] == 0 and conditions["ds:1"]["since"] == (T0 + 90 * M).isoformat()
    assert conditions["ds:2"]["level"] == 1
    assert [lv.to_json() for lv in incidents.levels()] == [
        {
            "district": GWANAK,
            "nameKo": None,
            "nameEn": None,
            "hazard": "heavy_rain",
            "hazardKo": "호우",
            "hazardEn": "Heavy rain",
            "level": 1,
            "crisis": Crisis.attention.to_json(),
            "incidents": [incident_id],
        }
    ]


def test_tick_closes_after_close_after_and_refire_reescalates(incidents: Incidents) -> None:
    out = incidents.apply([change()])
    incident_id = out[0]["incidentId"]
    incidents.apply([change(level=Crisis.none, previous=Crisis.alert, at=T0 + 30 * M)])
    assert incidents.get(incident_id).to_json()["clearedAt"] == (T0 + 30 * M).isoformat()
    assert incidents.tick(T0 + 89 * M) == []
    # Fires again before close_after: the same incident, no longer cleared.
    again = incidents.apply([change(previous=Crisis.none, at=T0 + 80 * M)])
    assert ev.INCIDENT_OPENED not in _topics(again)
    assert incidents.tick(T0 + 200 * M) == []
    incidents.apply([change(level=Crisis.none, previous=Crisis.alert, at=T0 + 100 * M)])
    assert incidents.tick(T0 + 159 * M) == []
    closed = incidents.tick(T0 + 160 * M)
    assert _topics(closed) == [ev.INCIDENT_STATUS_CHANGED, ev.INCIDENT_CLOSED]
    assert closed[1]["status"] == "closed" and closed[1]["actor"] == "system"
    inc = incidents.get(incident_id).to_json()
    assert inc["status"] == "closed" and inc["closedBy"] == "system"
    assert inc["closedAt"] == (T0 + 160 * M).isoformat()
    last = inc["timeline"][-1]
    assert last["kind"] == "status" and last["actor"] == "system"
    assert last["detailKo"] == "상태 감지 → 종료; 모든 조건이 1시간 동안 해소됨"
    assert last["detailEn"] == "Status Detected → Closed; every condition clear for 1 h"
    assert incidents.list(open_only=True) == []
    # The same gauge fires again: the closed incident is final, a new one opens.
    new = incidents.apply([change(at=T0 + 170 * M)])
    assert new[0]["topic"] == ev.INCIDENT_OPENED and new[0]["incidentId"] != incident_id


def test_tick_moves_responding_to_recovering_and_refire_back(incidents: Incidents) -> None:
    out = incidents.apply([change()])
    incident_id = out[0]["incidentId"]
    incidents.transition(incident_id, "responding", "operator1")
    incidents.apply([change(level=Crisis.none, previous=Crisis.alert, at=T0 + 30 * M)])
    moved = incidents.tick(T0 + 90 * M)
    assert [(e["topic"], e.get("status")) for e in moved] == [(ev.INCIDENT_STATUS_CHANGED, "recovering")]
    assert incidents.tick(T0 + 300 * M) == []  # recovering waits for a person to close it
    back = incidents.apply([change(at=T0 + 120 * M)])
    status = [e for e in back if e["topic"] == ev.INCIDENT_STATUS_CHANGED]
    assert [(e["previous"], e["status"], e["actor"]) for e in status] == [
        ("recovering", "responding", "system")
    ]
    assert incidents.get(incident_id).to_json()["status"] == "responding"


def test_per_hazard_close_after(platform: Platform, clock: ManualClock) -> None:
    from safecity.situation.correlate import HazardPolicy

    config = IncidentConfig(
        hazards={"heavy_rain": HazardPolicy(radius_km=40, close_after=timedelta(hours=3))}
    )
    incidents = Incidents(platform.store, platform.bus, clock, config)
    incidents.apply([change(), change(level=Crisis.none, previous=Crisis.alert, at=T0 + M)])
    assert incidents.tick(T0 + 2 * timedelta(hours=1)) == []
    assert _topics(incidents.tick(T0 + M + timedelta(hours=3)))[-1] == ev.INCIDENT_CLOSED


def test_lifecycle_steps_record_who_and_when(incidents: Incidents, clock: ManualClock) -> None:
    incident_id = incidents.apply([change()])[0]["incidentId"]
    clock.advance(2 * M)
    inc = incidents.transition(incident_id, "responding", "kim", note="pumps sent to 사당역").to_json()
    assert inc["status"] == "responding" and inc["statusChangedBy"] == "kim"
    assert inc["statusChangedAt"] == (T0 + 7 * M).isoformat()
    step = inc["timeline"][-1]
    assert (step["kind"], step["actor"], step["at"]) == ("status", "kim", (T0 + 7 * M).isoformat())
    assert step["detailKo"] == "상태 감지 → 대응 중; pumps sent to 사당역"
    with pytest.raises(Conflict) as back:
        incidents.transition(incident_id, "acknowledged", "kim")
    assert back.value.details == {"from": "responding", "to": "acknowledged"}
    assert "from responding to acknowledged" in back.value.message
    with pytest.raises(Conflict):
        incidents.transition(incident_id, "responding", "kim")
    with pytest.raises(BadRequest) as bad:
        incidents.transition(incident_id, "finished", "kim")
    assert bad.value.where == "status"
    incidents.transition(incident_id, "recovering", "lee")
    incidents.transition(incident_id, "responding", "lee")  # the situation worsened again
    closed = incidents.transition(incident_id, "closed", "lee").to_json()
    assert closed["closedBy"] == "lee" and closed["status"] == "closed"
    with pytest.raises(Conflict) as final:
        incidents.transition(incident_id, "dismissed", "lee", reason="x")
    assert final.value.details == {"from": "closed", "to": "dismissed"}
    with pytest.raises(NotFound):
        incidents.transition(999, "closed", "lee")
    assert [
        t["actor"] for t in incidents.get(incident_id).to_json()["timeline"] if t["kind"] == "status"
    ] == [
        "kim",
        "lee",
        "lee",
        "lee",
    ]


def test_dismiss_needs_a_reason_and_counts_in_rule_stats(incidents: Incidents, platform: Platform) -> None:
    incident_id = incidents.apply([change(), change(rule="kma.heavy_rain_1h", subject="ds:1/1h", at=T0 + M)])[
        0
    ]["incidentId"]
    other = incidents.apply([change(subject="ds:5", districts=(GANGNAM,), at=T0 + timedelta(hours=8))])
    before = counts(platform)
    with pytest.raises(BadRequest) as e:
        incidents.transition(incident_id, "dismissed", "kim", reason="  ")
    assert e.value.where == "reason"
    assert counts(platform) == before
    heard: list[Envelope] = []
    platform.bus.subscribe(
        (ev.INCIDENT_STATUS_CHANGED, ev.INCIDENT_CLOSED, ev.CRISIS_LEVEL_CHANGED),
        heard.extend,
        "test.dismissal",
    )
    with platform.store.engine.connect() as conn:
        since = outbox.head(conn)  # the dismissal's events, not the opening's
    out = incidents.transition(incident_id, "dismissed", "kim", reason="gauge clogged by leaves").to_json()
    assert platform.bus.drain()
    events = [{**e.data.to_json(), "topic": e.type} for e in heard if e.id > since]
    assert out["status"] == "dismissed" and out["dismissedReason"] == "gauge clogged by leaves"
    assert [e["topic"] for e in events][:2] == [ev.INCIDENT_STATUS_CHANGED, ev.INCIDENT_CLOSED]
    # Its district goes back to normal at once.
    assert [(e["district"], e["level"]) for e in events if e.get("scope") == "district"] == [(DONGJAK, 0)]
    stats = {s.rule: s.to_json() for s in incidents.rule_stats()}
    assert stats["kma.heavy_rain"]["conditionsFired"] == 2
    assert stats["kma.heavy_rain"]["incidentsOpened"] == 2
    assert stats["kma.heavy_rain"]["incidentsFed"] == 2
    assert stats["kma.heavy_rain"]["incidentsDismissed"] == 1
    assert stats["kma.heavy_rain"]["dismissedShare"] == 0.5
    assert stats["kma.heavy_rain_1h"]["incidentsOpened"] == 0
    assert stats["kma.heavy_rain_1h"]["incidentsDismissed"] == 1
    assert stats["kma.heavy_rain_1h"]["dismissReasons"] == [
        {
            "incidentId": incident_id,
            "reason": "gauge clogged by leaves",
            "at": (T0 + 5 * M).isoformat(),
            "by": "kim",
        }
    ]
    # A dismissed incident no longer holds its conditions: clearing them changes nothing.
    assert incidents.apply([change(level=Crisis.none, previous=Crisis.alert, at=T0 + 2 * M)]) == []
    assert other[0]["incidentId"] != incident_id


def test_manual_incident_joins_rules_and_takes_attachments(incidents: Incidents, platform: Platform) -> None:
    ids = sensing_ids(platform)
    opened = incidents.open_manual(
        ManualIncidentIn(
            hazard="river_flood",
            level="경계",
            title_ko="도림천 범람 제보",
            districts=[GWANAK],
            lon=126.9270,
            lat=37.4840,
            source_note="주민 전화 신고",
        ),
        "kim",
    ).to_json()
    incident_id = opened["id"]
    assert opened["titleEn"] == "도림천 범람 제보" and opened["level"] == 3 and opened["source"] == "manual"
    assert opened["openedBy"] == "kim" and opened["sourceNote"] == "주민 전화 신고"
    assert (
        opened["timeline"][0]["detailEn"] == "Reported: 도림천 범람 제보, Alert (reported by: 주민 전화 신고)"
    )
    # A river gauge nearby fires: it joins the reported incident; a lower level does not lower it.
    joined = incidents.apply(
        [
            change(
                rule="river.level",
                hazard="river_flood",
                subject="ds:7",
                level=Crisis.caution,
                districts=(GWANAK,),
                datastreams=(77,),
            )
        ]
    )
    assert ev.INCIDENT_OPENED not in _topics(joined)
    assert incidents.get(incident_id).to_json()["level"] == 3

    before = counts(platform)
    for kind, ref, error in (
        ("thing", 999, NotFound),
        ("datastream", ids["thing"] + 1000, NotFound),
        ("observation", "x", BadRequest),
        ("link", "ftp://x", BadRequest),
        ("note", 3, BadRequest),
    ):
        with pytest.raises(error) as e:
            incidents.attach(incident_id, AttachmentIn(kind=kind, ref=ref), "kim")
        assert e.value.where == "ref", kind
    with pytest.raises(NotFound):
        incidents.attach(424242, AttachmentIn(kind="note", note="x"), "kim")
    assert counts(platform) == before

    incidents.attach(incident_id, AttachmentIn(kind="thing", ref=ids["thing"]), "kim")
    incidents.attach(incident_id, AttachmentIn(kind="datastream", ref=str(ids["datastream"])), "kim")
    incidents.attach(
        incident_id, AttachmentIn(kind="observation", ref=ids["observation"], note="peak"), "lee"
    )
    incidents.attach(incident_id, AttachmentIn(kind="link", ref="https://news.example/dorimcheon"), "lee")
    incidents.attach(incident_id, AttachmentIn(kind="note", note="대피 안내 방송 완료"), "lee")
    with pytest.raises(Conflict):
        incidents.attach(incident_id, AttachmentIn(kind="thing", ref=ids["thing"]), "kim")
    inc = incidents.get(incident_id).to_json()
    assert inc["things"] == [ids["thing"]] and inc["observations"] == [ids["observation"]]
    assert ids["datastream"] in inc["datastreams"] and inc["links"] == ["https://news.example/dorimcheon"]
    entries = [t for t in inc["timeline"] if t["kind"] in ("attachment", "note")]
    assert [(t["actor"], t["detailKo"]) for t in entries] == [
        ("kim", f"센서 장비 {ids['thing']} 첨부"),
        ("kim", f"데이터스트림 {ids['datastream']} 첨부"),
        ("lee", f"관측 {ids['observation']} 첨부: peak"),
        ("lee", "링크 https://news.example/dorimcheon 첨부"),
        ("lee", "메모: 대피 안내 방송 완료"),
    ]
    updated = [p for topic, p in outbox_events(platform) if topic == ev.INCIDENT_UPDATED]
    assert updated[-1]["added"] == {"notes": ["대피 안내 방송 완료"]} and updated[-1]["actor"] == "lee"
    # Manual incidents are closed by people, not by tick.
    incidents.apply(
        [
            change(
                rule="river.level",
                hazard="river_flood",
                subject="ds:7",
                level=Crisis.none,
                previous=Crisis.caution,
                districts=(GWANAK,),
                at=T0 + M,
            )
        ]
    )
    assert incidents.tick(T0 + timedelta(days=1)) == []


def test_manual_incident_needs_a_title_and_a_place(incidents: Incidents, platform: Platform) -> None:
    before = counts(platform)
    cases: list[tuple[dict[str, Any], str]] = [
        ({"districts": [DONGJAK]}, "title_ko"),
        ({"title_en": "x"}, "districts"),
        ({"title_en": "x", "lon": 127.0}, "lat"),
    ]
    for extra, where in cases:
        with pytest.raises(BadRequest) as e:
            incidents.open_manual(ManualIncidentIn(hazard="fire", level=2, **extra), "kim")
        assert e.value.where == where
    assert counts(platform) == before


def test_manual_districts_are_checked_when_districts_are_loaded(
    incidents: Incidents, seoul: Platform
) -> None:
    before = counts(seoul)
    with pytest.raises(NotFound) as e:
        incidents.open_manual(
            ManualIncidentIn(hazard="fire", level=2, title_en="x", districts=[DONGJAK, "11999"]), "k"
        )
    assert e.value.where == "districts[1]"
    assert counts(seoul) == before
    # A point adds its district.
    inc = incidents.open_manual(
        ManualIncidentIn(
            hazard="fire", level=2, title_en="Fire at Gangnam-gu office", lon=127.0473, lat=37.5172
        ),
        "k",
    ).to_json()
    assert [a["code"] for a in inc["areas"]] == [GANGNAM] and shape(inc["geometry"]).is_valid


def test_events_reach_the_bus_after_commit(incidents: Incidents, platform: Platform) -> None:
    received: list[Any] = []
    platform.bus.subscribe(
        ev.INCIDENT_OPENED, lambda es: received.extend(e.data.to_json() for e in es), "test"
    )
    out = incidents.apply([change()])
    assert platform.bus.drain()
    assert [r["incidentId"] for r in received] == [out[0]["incidentId"]]
    assert received[0]["titleKo"] == "호우경보 — 11590" and received[0]["areas"] == [DONGJAK]


def test_restart_keeps_open_incidents_and_correlates_into_them(
    platform: Platform, clock: ManualClock
) -> None:
    first = Incidents(platform.store, platform.bus, clock)
    incident_id = first.apply([change(level=Crisis.caution)])[0]["incidentId"]
    manual = first.open_manual(
        ManualIncidentIn(hazard="gas", level=2, title_ko="가스 냄새", lon=127.0, lat=37.5), "k"
    )
    closed = first.apply([change(hazard="fire", rule="fire.smoke", subject="thing:9", districts=(NOWON,))])
    first.transition(closed[0]["incidentId"], "closed", "k")

    second = Incidents(platform.store, platform.bus, clock)
    out = second.apply(
        [
            change(subject="ds:2", districts=(GWANAK,), at=T0 + 30 * M),  # joins, and escalates it
            change(level=Crisis.none, previous=Crisis.caution, at=T0 + 40 * M),  # ds:1 is still held
        ]
    )
    assert ev.INCIDENT_OPENED not in _topics(out)
    inc = second.get(incident_id).to_json()
    assert [a["code"] for a in inc["areas"]] == [DONGJAK, GWANAK] and inc["level"] == 3
    assert {c["subject"]: c["level"] for c in inc["conditions"]} == {"ds:1": 0, "ds:2": 3}
    # The manual gas report is still open and still attracts a leak sensor 100 m away.
    gas = second.apply(
        [change(rule="gas.lel", hazard="gas", subject="ds:40", districts=(), lon=127.0009, lat=37.5004)]
    )
    assert ev.INCIDENT_OPENED not in _topics(gas)
    assert second.get(manual.id).conditions[0].subject == "ds:40"
    assert {lv.district for lv in second.levels()} == {GWANAK}


def test_an_earlier_change_arriving_later_moves_the_opening_back(
    incidents: Incidents, platform: Platform, clock: ManualClock
) -> None:
    """Gwanak's advisory at 21:00 arrives before Dongjak's at 20:10 (its gauge reconnected first after a
    restart): the incident opened at 20:10 by Dongjak's, as if the data had come in order."""
    late = T0 + 50 * M
    first = incidents.apply([change(subject="ds:2", districts=(GWANAK,), at=late, level=Crisis.caution)])
    incident_id = first[0]["incidentId"]
    assert first[0]["titleEn"] == "Heavy rain advisory — 11620"
    out = incidents.apply([change(subject="ds:1", districts=(DONGJAK,), at=T0, level=Crisis.caution)])
    updated = [e for e in out if e["topic"] == ev.INCIDENT_UPDATED]
    assert updated and updated[-1]["openedAt"] == T0.isoformat()
    assert updated[-1]["titleKo"] == "호우주의보 — 11590"

    # after a restart too: the register reads the moved opening back
    for reg in (incidents, Incidents(platform.store, platform.bus, clock)):
        inc = reg.get(incident_id).to_json()
        assert inc["openedAt"] == T0.isoformat() and inc["lastActivityAt"] == late.isoformat()
        assert (inc["titleKo"], inc["titleEn"]) == ("호우주의보 — 11590", "Heavy rain advisory — 11590")
        opened = [t for t in inc["timeline"] if t["kind"] == "opened"]
        assert len(opened) == 1 and opened[0]["at"] == T0.isoformat()
        assert opened[0]["detailEn"] == "Incident detected: Heavy rain advisory — 11590 (rule kma.heavy_rain)"

    # Both arriving in one batch, late one first: the announcement itself says the earlier opening.
    other = incidents.apply(
        [
            change(rule="kma.strong_wind", hazard="strong_wind", subject="ds:8", districts=(NOWON,), at=late),
            change(rule="kma.strong_wind", hazard="strong_wind", subject="ds:9", districts=(YONGSAN,), at=T0),
        ]
    )
    opened_event = next(e for e in other if e["topic"] == ev.INCIDENT_OPENED)
    assert sum(e["topic"] == ev.INCIDENT_OPENED for e in other) == 1
    assert opened_event["at"] == T0.isoformat() and opened_event["titleEn"].endswith("— 11170")
    assert incidents.get(opened_event["incidentId"]).to_json()["openedAt"] == T0.isoformat()

    # A later change never moves it.
    incidents.apply([change(subject="ds:3", districts=(GWANAK,), at=T0 + 5 * M, level=Crisis.caution)])
    assert incidents.get(incident_id).to_json()["openedAt"] == T0.isoformat()


def test_bad_changes_are_skipped_not_fatal(incidents: Incidents, platform: Platform) -> None:
    out = incidents.apply([change(hazard="volcano"), change()])
    assert out[0]["topic"] == ev.INCIDENT_OPENED
    assert counts(platform)["incidents"] == 1
    assert incidents.apply([]) == []


def test_concurrent_batches_and_requests_stay_consistent(incidents: Incidents, platform: Platform) -> None:
    # The bus dispatcher applies batches while request threads read and attach notes.
    import threading

    incident_id = incidents.apply([change()])[0]["incidentId"]
    errors: list[BaseException] = []

    def dispatcher(k: int) -> None:
        try:
            for i in range(10):
                incidents.apply(
                    [change(subject=f"ds:{k}-{i}", at=T0 + (k * 10 + i) * M, districts=(GWANAK,))]
                )
        except BaseException as e:  # noqa: BLE001 - reported by the assertion below
            errors.append(e)

    def operator() -> None:
        try:
            for i in range(10):
                incidents.attach(incident_id, AttachmentIn(kind="note", note=f"note {i}"), "kim")
                incidents.list(open_only=True)
        except BaseException as e:  # noqa: BLE001 - reported by the assertion below
            errors.append(e)

    threads = [threading.Thread(target=dispatcher, args=(k,)) for k in range(3)]
    threads.append(threading.Thread(target=operator))
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=60)
    assert errors == []
    inc = incidents.get(incident_id).to_json()
    assert len(inc["conditions"]) == 31 and len(incidents.list(open_only=True)) == 1
    assert sum(1 for t in inc["timeline"] if t["kind"] == "note") == 10
    # What memory says is what the store says.
    again = Incidents(platform.store, platform.bus, incidents.clock)
    assert again.levels() == incidents.levels()


def test_manual_districts_may_each_have_their_own_level(platform: Platform, clock: ManualClock) -> None:
    """An earthquake message's shaking differs per district: each district keeps its own level (the
    warnings tell each its own), the incident is at the highest, across a restart too."""
    first = Incidents(platform.store, platform.bus, clock, unbatched())
    with pytest.raises(BadRequest) as e:
        first.open_manual(
            ManualIncidentIn(hazard="earthquake", level=2, title_en="x", district_levels={GWANAK: 3}), "k"
        )
    assert e.value.where == f"district_levels[{GWANAK}]"
    with pytest.raises(ValueError):
        ManualIncidentIn(hazard="earthquake", level=4, title_en="x", district_levels={GWANAK: 5})
    import_layer(platform, MOIS_DISTRICTS, "districts")
    with pytest.raises(NotFound) as missing:
        first.open_manual(
            ManualIncidentIn(hazard="earthquake", level=4, title_en="x", district_levels={"11999": 2}), "k"
        )
    assert missing.value.where == "district_levels[11999]"
    opened = first.open_manual(
        ManualIncidentIn(
            hazard="earthquake",
            level=4,
            title_ko="지진",
            districts=[DONGJAK],  # at the incident's level
            district_levels={GWANAK: 4, NOWON: 2},
        ),
        "k",
    ).to_json()
    levels = {a["code"]: a["level"] for a in opened["areas"]}
    assert levels == {DONGJAK: 4, GWANAK: 4, NOWON: 2}
    assert opened["level"] == 4 and opened["baseLevel"] == 2
    assert "심각 2개 구, 주의 1개 구" in opened["timeline"][0]["detailKo"]
    assert {(lv.district, lv.level) for lv in first.levels()} == {(DONGJAK, 4), (GWANAK, 4), (NOWON, 2)}
    second = Incidents(platform.store, platform.bus, clock, unbatched())
    again = second.get(opened["id"]).to_json()
    assert {a["code"]: a["level"] for a in again["areas"]} == levels
    assert {(lv.district, lv.level) for lv in second.levels()} == {
        (DONGJAK, 4),
        (GWANAK, 4),
        (NOWON, 2),
    }
