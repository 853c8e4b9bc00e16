# SPDX-License-Identifier: Apache-2.0
"""The judged scenario of issue 4, end to end: a heavy-rain evening over three Seoul districts, posted
through the SensorThings API as gauges would, evaluated by the shipped KMA pack, seen on the board and
as ONE incident, and cleared and closed after the rain stops. On both stores.

The series is shaped on the published figures of 8 August 2022 (KMA: 141.5 mm in one hour at the
Dongjak/Sindaebang-dong AWS, the heaviest hourly rainfall ever recorded in Seoul; 381.5 mm that day):
the Dongjak gauge's peak hour below is exactly 141.5 mm (20:00-21:00), the evening total 348 mm. It is
not the AWS record itself, which is not in ../shared/data. Gwanak gets 3/4 of it, Gangnam 1/2 (factors
that keep every sum exact in binary floating point, so the thresholds are met exactly where the
arithmetic says).

Hand-computed crossings (10-minute values; a window (t - W, t]; KMA 호우주의보 3 h >= 60 or 12 h >= 110,
호우경보 3 h >= 90 or 12 h >= 180, 극한호우 1 h >= 50 and 3 h >= 90, or 1 h >= 72; clear_after 30 min;
lifted once the 30-min sum has been <= 0.5 mm for 10 min):
  Dongjak x1:    19:00 advisory (3 h = 26 + 40 = 66.0); 19:40 warning (3 h = 96.5);
                 20:10 extreme (1 h = 48 - 7 + 21.5 = 62.5, 3 h = 133.5); 22:50 back to warning;
                 00:30 next day lifted (30 min (23:50, 00:20] = 0.5 since 00:20), although the 12-h sum
                 (274 mm) would hold 호우경보 until 09:00 without the lift.
  Gwanak x0.75:  19:20 advisory (3 h = 80.5 x 0.75 = 60.375); 20:10 warning (3 h = 133.5 x 0.75 = 100.125);
                 20:20 extreme (1 h = 79 x 0.75 = 59.25, 3 h = 115.875); 00:30 next day lifted
                 (30 min = 0.375 since 00:20).
  Gangnam x0.5:  20:10 advisory (3 h = 66.75); 20:40 extreme (1 h = 57.25, 3 h = 98.5; the warning is
                 skipped); 00:30 next day lifted (30 min = 0.25 since 00:20).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from fastapi.testclient import TestClient

from safecity.app import Platform, build_platform, create_app
from safecity.auth.model import Role
from safecity.core.clock import ManualClock
from safecity.geo import areas
from safecity.geo.importer import import_layer
from safecity.settings import Settings
from tests.conftest import weather_station
from tests.geo.data import MOIS_DISTRICTS

KST = timezone(timedelta(hours=9))
START = datetime(2022, 8, 8, 17, 0, tzinfo=KST)
#: 10-minute rainfall at Dongjak from 17:10 to 24:00 KST, then dry until the next noon.
DONGJAK = [
    *(2.0, 3.0, 4.0, 5.0, 6.0, 6.0),  # 17:10-18:00, 26 mm
    *(5.0, 6.0, 6.5, 7.0, 7.5, 8.0),  # 18:10-19:00, 40 mm
    *(7.0, 7.5, 8.0, 8.0, 8.5, 9.0),  # 19:10-20:00, 48 mm
    *(21.5, 24.0, 26.0, 25.5, 23.0, 21.5),  # 20:10-21:00, 141.5 mm
    *(15.0, 13.0, 10.5, 9.0, 8.0, 6.5),  # 21:10-22:00, 62 mm
    *(5.5, 5.0, 4.0, 3.5, 3.0, 2.0),  # 22:10-23:00, 23 mm
    *(2.0, 1.5, 1.5, 1.0, 1.0, 0.5),  # 23:10-24:00, 7.5 mm
    *([0.0] * 72),  # dry until 12:00 the next day
]
GAUGES = (
    # name, lon, lat, district code (MOIS), factor
    ("Dongjak AWS", 126.9396, 37.5124, "11590", 1.0),
    ("Gwanak AWS", 126.9515, 37.4784, "11620", 0.75),
    ("Gangnam AWS", 127.0473, 37.5172, "11680", 0.5),
)


def kst(hhmm: str, day: int = 8) -> datetime:
    h, m = map(int, hhmm.split(":"))
    return datetime(2022, 8, day, h, m, tzinfo=KST)


@pytest.fixture
def storm(settings: Settings) -> Iterator[tuple[Platform, TestClient, dict[str, str], ManualClock]]:
    clock = ManualClock(START)
    platform = build_platform(settings, clock)
    import_layer(platform, MOIS_DISTRICTS, "districts")
    app = create_app(settings, platform, start_services=False)
    platform.auth.create_user("duty-officer", "duty-officer-password", {Role.operator})
    platform.situation.start(ticker=False)
    with TestClient(app) as client:
        r = client.post("/auth/token", data={"username": "duty-officer", "password": "duty-officer-password"})
        headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
        yield platform, client, headers, clock
    platform.situation.stop()
    platform.bus.stop()
    platform.store.close()


def deliver(platform: Platform) -> None:
    """What the dispatcher thread does in production: deliver every committed event."""
    while platform.bus.pending():
        platform.bus.drain()


def levels(board: dict[str, Any]) -> dict[str, int]:
    return {d["code"]: d["levels"].get("heavy_rain", 0) for d in board["districts"] if d["code"] in CODES}


CODES = {g[3] for g in GAUGES}


def test_heavy_rain_evening_is_one_incident_that_escalates_and_closes(storm: Any) -> None:
    platform, client, headers, clock = storm
    streams = []
    for name, lon, lat, code, _ in GAUGES:
        with platform.store.engine.connect() as conn:
            assert areas.area_at(conn, lon, lat, "district").code == code  # type: ignore[union-attr]
        r = client.post("/sta/v1.1/Things", json=weather_station(name, lon, lat), headers=headers)
        assert r.status_code == 201, r.text
        tid = r.json()["@iot.id"]
        ds = client.get(f"/sta/v1.1/Things({tid})/Datastreams", headers=headers).json()["value"][0]["@iot.id"]
        streams.append(ds)
    deliver(platform)

    seen: dict[str, dict[str, int]] = {}  # KST "HH:MM" -> district levels after that step
    for i, value in enumerate(DONGJAK):
        when = START + timedelta(minutes=10 * (i + 1))
        clock.set(when)
        body = [
            {
                "Datastream": {"@iot.id": ds},
                "components": ["phenomenonTime", "result"],
                "dataArray": [[when.isoformat(), value * factor]],
            }
            for ds, (*_, factor) in zip(streams, GAUGES, strict=True)
        ]
        r = client.post("/sta/v1.1/CreateObservations", json=body, headers=headers)
        assert r.status_code == 201, r.text
        deliver(platform)
        platform.situation.tick(when)
        board = client.get("/situation", headers=headers).json()
        seen[when.astimezone(KST).strftime("%d %H:%M")] = levels(board)

    def at(hhmm: str, day: int = 8) -> dict[str, int]:
        return seen[f"{day:02d} {hhmm}"]

    # caution (주의) = 2, alert (경계) = 3, serious (심각) = 4; Dongjak 11590, Gwanak 11620, Gangnam 11680
    assert at("18:50") == {"11590": 0, "11620": 0, "11680": 0}
    assert at("19:00") == {"11590": 2, "11620": 0, "11680": 0}
    assert at("19:20") == {"11590": 2, "11620": 2, "11680": 0}
    assert at("19:40") == {"11590": 3, "11620": 2, "11680": 0}
    assert at("20:00") == {"11590": 3, "11620": 2, "11680": 0}
    assert at("20:10") == {"11590": 4, "11620": 3, "11680": 2}
    assert at("20:20") == {"11590": 4, "11620": 4, "11680": 2}
    assert at("20:40") == {"11590": 4, "11620": 4, "11680": 4}
    assert at("22:50")["11590"] == 3  # the extreme hour has left the 1-hour window for 30 min
    # the rain stops at 24:00: every level falls 30 min later (lift), not when the 12-h sum runs out
    assert at("00:20", 9) == {"11590": 3, "11620": 3, "11680": 2}
    assert at("00:30", 9) == {"11590": 0, "11620": 0, "11680": 0}

    # one situation, not an alert storm: a single heavy-rain incident over the three districts
    incidents = client.get("/incidents", params={"hazard": "heavy_rain"}, headers=headers).json()
    items = incidents["incidents"]
    assert len(items) == 1, items
    incident = client.get(f"/incidents/{items[0]['id']}", headers=headers).json()
    assert {a["code"] for a in incident["areas"]} == CODES
    assert incident["source"] == "rule"
    fired = [
        (e["at"], e["level"], e["data"].get("subject") if e["data"] else None)
        for e in incident["timeline"]
        if e["kind"] == "fired" and e["rule"] == "kma.heavy_rain"
    ]
    first = min(fired)
    assert datetime.fromisoformat(first[0]) == kst("19:00")  # opened by Dongjak's advisory
    assert first[1] == 2
    # the level went to serious and, once the rain had gone for the configured time, the incident closed
    assert max(e["level"] or 0 for e in incident["timeline"]) == 4
    # after the last condition cleared (00:30) the incident closes once close_after (1 h) has passed
    assert incident["status"] == "closed", incident["status"]
    assert incident["closedBy"] == "system"
    closed_at = datetime.fromisoformat(incident["closedAt"])
    assert kst("01:30", 9) <= closed_at <= kst("01:40", 9)
    # what the timeline says is bilingual
    assert any("호우" in e["detailKo"] and "rain" in e["detailEn"].lower() for e in incident["timeline"])


def test_board_stream_and_derived_series(storm: Any) -> None:
    platform, client, headers, clock = storm
    r = client.post(
        "/sta/v1.1/Things", json=weather_station("Dongjak AWS", 126.9396, 37.5124), headers=headers
    )
    tid = r.json()["@iot.id"]
    ds = client.get(f"/sta/v1.1/Things({tid})/Datastreams", headers=headers).json()["value"][0]["@iot.id"]
    deliver(platform)
    rows = [[(START + timedelta(minutes=10 * (i + 1))).isoformat(), v] for i, v in enumerate(DONGJAK[:24])]
    clock.set(START + timedelta(hours=4))
    r = client.post(
        "/sta/v1.1/CreateObservations",
        json=[{"Datastream": {"@iot.id": ds}, "components": ["phenomenonTime", "result"], "dataArray": rows}],
        headers=headers,
    )
    assert r.status_code == 201
    deliver(platform)
    derived = client.get("/situation/derived", headers=headers).json()
    gauge = derived["rainfall"]["gauges"][0]
    # at 21:00: 1 h = 141.5 (20:10-21:00), 3 h = 48 + 141.5 + 40 = 229.5, 6 h... all 4 h = 255.5
    assert gauge["sums"]["1h"] == 141.5
    assert gauge["sums"]["3h"] == 229.5
    assert gauge["sums"]["6h"] == 255.5
    district = derived["rainfall"]["districts"][0]
    assert district["district"] == "11590" and district["max"]["1h"] == 141.5
    board = client.get("/situation", headers=headers).json()
    assert board["level"]["level"] == 4 and board["level"]["nameKo"] == "심각"
    # KMA's 극한호우 and Seoul's own 침수 예보 (141.5 mm in the hour, over its 55 mm)
    by_rule = {c["rule"]: c for c in board["conditions"]}
    assert set(by_rule) == {"kma.heavy_rain", "seoul.inundation_forecast"}
    assert by_rule["kma.heavy_rain"]["stageKo"] == "극한호우"
    assert by_rule["seoul.inundation_forecast"]["stageKo"] == "침수 예보 기준"
    assert board["sensors"]["total"] == 1
    assert len(board["incidents"]) == 1 and board["incidents"][0]["timeline"]
    assert {d["code"] for d in board["districts"]} >= {"11590", "11680"}  # every district, quiet ones too
    # the board is for the situation room
    assert client.get("/situation").status_code == 401


def test_replaying_the_past_through_the_store_gives_the_same_incident_as_live(storm: Any) -> None:
    """A bulk import of yesterday's data, sent in one go and out of order, ends where live data does."""
    platform, client, headers, clock = storm
    r = client.post(
        "/sta/v1.1/Things", json=weather_station("Dongjak AWS", 126.9396, 37.5124), headers=headers
    )
    tid = r.json()["@iot.id"]
    ds = client.get(f"/sta/v1.1/Things({tid})/Datastreams", headers=headers).json()["value"][0]["@iot.id"]
    deliver(platform)
    rows = [[(START + timedelta(minutes=10 * (i + 1))).isoformat(), v] for i, v in enumerate(DONGJAK[:30])]
    clock.set(START + timedelta(days=1))
    late_first = rows[15:] + rows[:15]  # the later half arrives first, then the earlier half (late data)
    for part in (late_first[:15], late_first[15:]):
        r = client.post(
            "/sta/v1.1/CreateObservations",
            json=[
                {"Datastream": {"@iot.id": ds}, "components": ["phenomenonTime", "result"], "dataArray": part}
            ],
            headers=headers,
        )
        assert r.status_code == 201
        deliver(platform)
    board = client.get("/situation", headers=headers).json()
    # at 22:00 (the last row): 1 h (21:00, 22:00] = 62 < 72 and 3 h = 48 + 141.5 + 62 = 251.5 -> the
    # extreme level needs 1 h >= 50: 62 >= 50 and 3 h >= 90 -> still serious, as live data would say
    assert board["conditions"][0]["level"] == 4
    incident = board["incidents"][0]
    times = sorted(e["at"] for e in incident["timeline"] if e["rule"] == "kma.heavy_rain" and e["level"])
    # the late half revealed the earlier crossings, dated on the data's own time
    assert datetime.fromisoformat(times[0]) == kst("19:00")
