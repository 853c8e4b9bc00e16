# SPDX-License-Identifier: Apache-2.0
"""The earthquake chain on a real platform (SQLite and PostgreSQL, the in-process bus, the shipped rule
packs): accelerometer readings → situation's earthquake incident → the quake capability's assessment
attached to it (damage map, inspection list, cordons as evacuation zones, shelter demand, the event);
and a CAP earthquake message → its own incident with the same."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from safecity.core.events import Envelope
from safecity.geo import seoul
from safecity.geo.importer import import_layer
from safecity.quake.chain import QuakeChain, time_of_day
from safecity.quake.events import DAMAGE_ASSESSED
from safecity.quake.intensity import pga_gal
from safecity.quake.inventory import TimeOfDay
from safecity.situation.incident_model import Incident
from tests.conftest import Api

#: The demo's earthquake: M5.8 near Uiwang, 12 km south of the city (src/safecity/demo/scenarios).
MAGNITUDE, EPICENTRE, DEPTH_KM = 5.8, (127.00, 37.33), 10.0
#: Six accelerometers across the city (lon, lat).
SITES = ((126.98, 37.48), (127.06, 37.50), (126.90, 37.52), (127.03, 37.57), (126.93, 37.60), (127.09, 37.62))


def _kma_cap() -> bytes:
    """A constructed CAP 1.2 message in the shape KMA would send (no real KMA CAP earthquake message is
    public: ../shared/data/cap/PROVENANCE.md), with KMA's open-API field names, for the demo earthquake."""
    params = "".join(
        f"<parameter><valueName>{k}</valueName><value>{v}</value></parameter>"
        for k, v in (("mt", MAGNITUDE), ("lat", EPICENTRE[1]), ("lon", EPICENTRE[0]), ("dep", DEPTH_KM))
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
  <identifier>KMA-EQK-TEST-1</identifier>
  <sender>kma.go.kr</sender>
  <sent>2026-05-14T10:05:30+09:00</sent>
  <status>Actual</status>
  <msgType>Alert</msgType>
  <scope>Public</scope>
  <info>
    <language>ko-KR</language>
    <category>Geo</category>
    <event>지진</event>
    <urgency>Immediate</urgency>
    <severity>Severe</severity>
    <certainty>Observed</certainty>
    <headline>경기 의왕시 지역 규모 5.8 지진 발생 (가상)</headline>
    {params}
    <area><areaDesc>경기 의왕시</areaDesc></area>
  </info>
</alert>""".encode()


@pytest.fixture(autouse=True)
def small_inventory(monkeypatch: pytest.MonkeyPatch) -> None:
    # the published 592,463 buildings take seconds to generate: the same shares on 4,000 here
    monkeypatch.setenv("SAFECITY_QUAKE__BUILDINGS", "4000")


def _accelerometer(i: int, lon: float, lat: float) -> dict[str, Any]:
    return {
        "name": f"accelerometer {i}",
        "description": "strong-motion accelerometer",
        "Locations": [
            {
                "name": f"accelerometer {i} site",
                "description": "ground floor",
                "encodingType": "application/geo+json",
                "location": {"type": "Point", "coordinates": [lon, lat]},
            }
        ],
        "Datastreams": [
            {
                "name": f"accelerometer {i} PGA",
                "description": "peak ground acceleration of each 30 s",
                "observationType": "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement",
                "unitOfMeasurement": {"name": "gal", "symbol": "cm/s2", "definition": "ucum:cm/s2"},
                "Sensor": {
                    "name": "MEMS accelerometer",
                    "description": "triaxial",
                    "encodingType": "application/pdf",
                    "metadata": "https://example.org/acc.pdf",
                },
                "ObservedProperty": {
                    "name": "peak_ground_acceleration",
                    "definition": "urn:safecity:def:observed-property:peak_ground_acceleration",
                    "description": "Peak ground acceleration",
                },
            }
        ],
    }


def _km(a: tuple[float, float], b: tuple[float, float]) -> float:
    kx = 111.32 * math.cos(math.radians(a[1]))
    return math.hypot((a[0] - b[0]) * kx, (a[1] - b[1]) * 110.574)


def _platform_with_areas(api: Api) -> None:
    for kind, file in (("districts", seoul.DISTRICTS_FILE), ("dongs", seoul.DONGS_FILE)):
        with seoul.boundary_file(file) as path:
            import_layer(api.platform, path, kind)


def _settle(api: Api) -> None:
    p = api.platform
    for _ in range(5):
        while p.bus.pending():
            p.bus.drain()
        p.situation.tick(p.clock.now())
    while p.bus.pending():
        p.bus.drain()


def _earthquake_incident(api: Api) -> Incident:
    found = [i for i in api.platform.incidents.list() if i.hazard == "earthquake"]
    assert len(found) == 1, found
    return found[0]


def _events(api: Api, kind: str) -> list[Envelope]:
    seen: list[Envelope] = []
    api.platform.bus.subscribe(kind, seen.extend, f"test.{kind}")
    return seen


#: Two outdoor earthquake sites (school grounds) and a temporary housing gym.
SHELTERS = (
    ("earthquake_outdoor", "가상초등학교 운동장", "Demo primary school ground", (126.985, 37.485), 2000),
    ("earthquake_outdoor", "가상공원", "Demo park", (127.05, 37.56), 5000),
    ("temporary_housing", "가상체육관", "Demo gym", (126.99, 37.49), 300),
)


def _shelters(api: Api) -> None:
    for kind, ko, en, (lon, lat), capacity in SHELTERS:
        r = api.client.post(
            "/shelters",
            json={
                "kind": kind,
                "name_ko": ko,
                "name_en": en,
                "capacity": capacity,
                "geometry": {"type": "Point", "coordinates": [lon, lat]},
            },
            headers=api.headers,
        )
        assert r.status_code == 201, r.text


def test_readings_open_an_incident_that_gets_its_expected_damage(api: Api) -> None:
    _platform_with_areas(api)
    _shelters(api)
    # before any earthquake the citizen page shows no after-shaking card
    assert api.client.get("/quake/after-shaking?near=126.98,37.48").json()["earthquake"]["active"] is False
    api.platform.situation.start(ticker=False)
    assessed = _events(api, DAMAGE_ASSESSED)
    streams = []
    for i, site in enumerate(SITES):
        thing = api.create("/Things", _accelerometer(i, *site))
        streams.append(api.get(f"/Things({thing})/Datastreams").json()["value"][0]["@iot.id"])
    _settle(api)  # the rule engine binds the new streams before their readings come
    now = datetime.now(UTC).replace(microsecond=0)
    quiet, shaking = now - timedelta(seconds=60), now - timedelta(seconds=30)
    body = [
        {
            "Datastream": {"@iot.id": ds},
            "components": ["phenomenonTime", "result"],
            "dataArray": [
                [quiet.isoformat(), 0.3],
                [shaking.isoformat(), round(pga_gal(MAGNITUDE, _km(site, EPICENTRE), DEPTH_KM), 2)],
            ],
        }
        for ds, site in zip(streams, SITES, strict=True)
    ]
    r = api.post("/CreateObservations", body)
    assert r.status_code == 201, r.text
    _settle(api)

    incident = _earthquake_incident(api)
    r = api.client.get(f"/quake/incidents/{incident.id}", headers=api.headers)
    assert r.status_code == 200, r.text
    damage = r.json()
    assert damage["origin"] == "readings" and damage["earthquake"]["stations"] == len(SITES)
    # the source fitted to the readings alone lands near the real one
    assert _km((damage["earthquake"]["lon"], damage["earthquake"]["lat"]), EPICENTRE) < 25
    assert damage["generated"] is True and damage["buildings"] == 4000
    # the inspection list: collapse probability x occupants, most urgent first
    inspections = damage["inspections"]
    assert 0 < len(inspections) <= 20
    priorities = [b["priority"] for b in inspections]
    assert priorities == sorted(priorities, reverse=True)
    for b in inspections:
        # the figures are rounded: occupants to 0.1, probabilities to 1e-4
        rounding = 0.05 * b["collapseProbability"] + 5e-5 * b["occupants"] + 1e-3
        assert b["priority"] == pytest.approx(b["collapseProbability"] * b["occupants"], abs=rounding)
    # cordons are evacuation hazard zones: routes and shelter choices avoid them from now on
    # as many cordons as expected collapses (at most 10), around the likeliest
    assert 1 <= len(damage["cordons"]) <= min(10, damage["total"]["collapses"])
    zones = api.client.get("/ogcapi/collections/hazard-zones/items?hazard=collapse&limit=100").json()
    zone_ids = {f["id"] for f in zones["features"]}
    assert {c["zoneId"] for c in damage["cordons"]} <= zone_ids
    # shelter demand per dong against the open temporary housing there
    assert damage["shelterTotals"]["demand"] == pytest.approx(
        damage["total"]["shelter_demand"], rel=0.02, abs=1
    )
    assert all(len(s["code"]) == 10 for s in damage["shelterDemand"])
    # the damage map: a public OGC API collection, one feature per cell with buildings
    cells = api.client.get(
        f"/ogcapi/collections/quake-damage/items?incident_id={incident.id}&limit=1000"
    ).json()
    assert cells["numberMatched"] == damage["map"]["cells"] > 0
    assert sum(f["properties"]["buildings"] for f in cells["features"]) == 4000
    first = cells["features"][0]["properties"]
    assert sum(
        first[k] for k in ("p_none", "p_slight", "p_moderate", "p_extensive", "p_complete")
    ) == pytest.approx(1, abs=1e-3)
    # the incident carries the summary in Korean and English, and the bus the event
    notes = [e for e in api.platform.incidents.get(incident.id).timeline if e.actor == "quake"]
    assert (
        len(notes) == 1
        and "지진 피해 추정" in str(notes[0])
        and "Expected earthquake damage" in str(notes[0])
    )
    assert [e.data.incident_id for e in assessed] == [incident.id]  # type: ignore[attr-defined]

    # the citizen page (no login): what to do after the shaking, in both languages, and the nearest
    # outdoor earthquake sites from the chosen place, nearest first
    r = api.client.get("/quake/after-shaking?near=126.98,37.48")
    assert r.status_code == 200, r.text
    after = r.json()
    assert after["earthquake"]["active"] is True
    assert len(after["guide"]["ko"]["steps"]) == len(after["guide"]["en"]["steps"]) >= 5
    assert "safekorea.go.kr" in after["source"]["ko"] and "safekorea.go.kr" in after["source"]["en"]
    assert [s["nameEn"] for s in after["sites"]] == ["Demo primary school ground", "Demo park"]
    assert after["sites"][0]["distanceM"] < after["sites"][1]["distanceM"]
    assert api.client.get("/quake/after-shaking?near=500,1").status_code == 400
    # the walk out of each cordon leads to an outdoor site (or says why not: no road network here)
    assert len(damage["routes"]) == len(damage["cordons"])
    assert all(w["shelter"] is not None or w["reasonEn"] for w in damage["routes"])

    # a repeat changes nothing (at least once delivery; our own note coming back as IncidentUpdated)
    chain = api.platform.services.get(QuakeChain)
    assert chain.assess_incident(incident.id, shaking) is None
    _settle(api)
    assert len(assessed) == 1


def test_the_damage_is_for_operators_and_the_map_is_public(api: Api) -> None:
    r = api.client.get("/quake/incidents/1")
    assert r.status_code in (401, 403)
    r = api.client.get("/quake/incidents/999", headers=api.headers)
    assert r.status_code == 404 and "message_ko" in r.json()
    r = api.client.get("/ogcapi/collections/quake-damage")
    assert r.status_code == 200 and "지진" in r.json()["title"]


def test_a_cap_message_opens_its_incident_with_damage(api: Api) -> None:
    _platform_with_areas(api)
    r = api.client.post(
        "/quake/messages",
        content=_kma_cap(),
        headers={**api.headers, "Content-Type": "application/cap+xml"},
    )
    assert r.status_code == 201, r.text
    body = r.json()
    incident = api.platform.incidents.get(body["incidentId"])
    assert incident.hazard == "earthquake"
    assert body["damage"]["origin"] == "cap" and body["damage"]["total"]["buildings"] == 4000
    r = api.client.post("/quake/messages", content=b"<not-cap/>", headers=api.headers)
    assert r.status_code == 400


def test_hour_of_the_earthquake_sets_who_is_indoors() -> None:
    kst = 9
    at = datetime(2026, 5, 14, 3 - kst + 24, 0, tzinfo=UTC)  # 03:00 in Seoul
    assert time_of_day(at) is TimeOfDay.NIGHT
    assert time_of_day(datetime(2026, 5, 14, 14 - kst, 0, tzinfo=UTC)) is TimeOfDay.DAY
    assert time_of_day(datetime(2026, 5, 14, 18 - kst, 0, tzinfo=UTC)) is TimeOfDay.COMMUTE
