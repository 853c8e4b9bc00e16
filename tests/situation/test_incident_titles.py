# SPDX-License-Identifier: Apache-2.0
"""Incidents that follow the situation: titles from the current stage and areas, area growth published in
batches (a falling level at once), an earthquake as one incident, an official stage as its own incident,
a point incident's cordon and facility. On both stores."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from safecity.app import Platform
from safecity.core.clock import ManualClock
from safecity.geo import seoul
from safecity.geo.importer import import_layer
from safecity.situation import events as ev
from safecity.situation.incidents import Incidents
from safecity.situation.model import ConditionChange, Crisis, Site
from safecity.situation.titles import Area, area_phrase, incident_title
from tests.geo.data import MOIS_DISTRICTS
from tests.situation.incident_data import DONGJAK, GANGNAM, GWANAK, NOWON, T0, YONGSAN, change

M = timedelta(minutes=1)
#: the 25 districts, MOIS codes
ALL = [d.code for d in seoul.districts()]
#: 강서 양천 구로 영등포 금천 동작 관악: the south-west band of 8 August 2022, and 서초
SOUTH_WEST = ["11500", "11470", "11530", "11560", "11545", "11590", "11620", "11650"]


@pytest.fixture
def incidents(platform: Platform) -> Incidents:
    import_layer(platform, MOIS_DISTRICTS, "districts")
    return Incidents(platform.store, platform.bus, ManualClock(T0 + 5 * M))


def _updates(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in events if e["topic"] == ev.INCIDENT_UPDATED]


# --- titles ----------------------------------------------------------------------------------------------


def test_area_phrase_names_few_districts_and_a_part_of_the_city_for_many() -> None:
    by_code = {d.code: d for d in seoul.districts()}

    def areas(codes: list[str]) -> list[Area]:
        out = []
        for c in codes:
            p = by_code[c].polygon.centroid
            out.append(Area(c, by_code[c].name_ko, by_code[c].name_en, (p.x, p.y)))
        return out

    assert area_phrase([]) == ("", "")
    assert area_phrase(areas([GWANAK, DONGJAK])) == ("동작구, 관악구", "Dongjak-gu, Gwanak-gu")
    assert area_phrase(areas(SOUTH_WEST)) == ("서울 남서부 8개 구", "8 districts of south-west Seoul")
    # 노원 도봉 강북 중랑: the north-east
    assert area_phrase(areas(["11350", "11320", "11305", "11260"])) == (
        "서울 북동부 4개 구",
        "4 districts of north-east Seoul",
    )
    assert area_phrase(areas(ALL[:20])) == ("서울 전역", "all of Seoul")
    # codes outside the regions it knows: a count
    assert area_phrase([Area(f"2611{i}", "x", "x", None) for i in range(4)]) == ("4개 지역", "4 areas")


def test_incident_title_by_hazard() -> None:
    place = ("서울 전역", "all of Seoul")
    assert incident_title("heavy_rain", "극한호우", "Extreme rainfall", place) == (
        "극한호우 — 서울 전역",
        "Extreme rainfall — all of Seoul",
    )
    # an earthquake is over when its level is known: named for after the shaking
    assert incident_title("earthquake", "진도 VI", "Intensity VI", place) == (
        "지진 흔들림 관측: 진도 VI — 서울 전역",
        "Earthquake shaking recorded: Intensity VI — all of Seoul",
    )
    site = Site(
        "충정아파트", "Chungjeong Apartment", "서울특별시 서대문구 충현동", "Chunghyeon-dong, Seodaemun-gu"
    )
    assert incident_title("facility", "붕괴 위험", "Collapse danger", ("서대문구", "Seodaemun-gu"), site) == (
        "붕괴 위험 — 충정아파트 (서대문구)",
        "Collapse danger — Chungjeong Apartment (Seodaemun-gu)",
    )


def test_the_title_follows_the_current_stage_and_areas(incidents: Incidents) -> None:
    opened = incidents.apply([change(subject="ds:0", districts=(SOUTH_WEST[0],), level=Crisis.caution)])
    incident_id = opened[0]["incidentId"]
    assert opened[0]["titleKo"] == "호우주의보 — 강서구"
    # the band fills: the storm is named after its highest stage and where it is now, once the growth
    # is published (30 min after the opening, the heavy-rain batch interval)
    out = incidents.apply(
        [
            change(subject=f"ds:{i}", districts=(code,), at=T0 + M, level=Crisis.alert)
            for i, code in enumerate(SOUTH_WEST)
        ]
    )
    assert [e for e in _updates(out) if "titleKo" in e] == []
    (upd,) = _updates(incidents.tick(T0 + 30 * M))
    assert (upd["titleKo"], upd["titleEn"]) == (
        "호우경보 — 서울 남서부 8개 구",
        "Heavy rain warning — 8 districts of south-west Seoul",
    )
    assert incidents.get(incident_id).title_ko == "호우경보 — 서울 남서부 8개 구"
    # one district at 극한호우: the title says 극한호우 over the districts at that stage
    incidents.apply(
        [
            change(
                subject="ds:5",
                districts=(DONGJAK,),
                at=T0 + 32 * M,
                level=Crisis.serious,
                previous=Crisis.alert,
            )
        ]
    )
    assert _updates(incidents.tick(T0 + 60 * M))[-1]["titleKo"] == "호우 심각 — 동작구"
    # after a restart the register keeps the current title
    again = Incidents(incidents.store, incidents.bus, incidents.clock)
    assert again.get(incident_id).title_ko == "호우 심각 — 동작구"


# --- batching --------------------------------------------------------------------------------------------


def test_area_growth_is_published_in_batches_and_a_fall_at_once(incidents: Incidents) -> None:
    def heat(**kw: Any) -> ConditionChange:
        return change(
            rule="kma.heat_wave",
            hazard="heat_wave",
            stage_ko="폭염주의보 기준",
            stage_en="Heat advisory",
            **kw,
        )

    first = incidents.apply([heat(subject="ds:0", districts=(ALL[0],), level=Crisis.caution)])
    incident_id = first[0]["incidentId"]
    # 17 more districts over 1 h 40 min: published after the 2-h batch interval, not one update each
    updates = []
    for i in range(1, 18):
        out = incidents.apply(
            [heat(subject=f"ds:{i}", districts=(ALL[i],), at=T0 + 6 * i * M, level=Crisis.caution)]
        )
        updates += [e for e in _updates(out) if "areas" in e["added"]]
    assert updates == []
    inc = incidents.get(incident_id)
    assert [a.code for a in inc.areas] == [ALL[0]]
    # the board's district levels do not wait
    assert len({lv.district for lv in incidents.levels()}) == 18
    assert incidents.tick(T0 + 119 * M) == []
    (upd,) = _updates(incidents.tick(T0 + 120 * M))
    assert upd["added"]["areas"] == sorted(ALL[1:18])
    # the 18 lowest codes lie around the centre (종로 … 강서), 20 would be "서울 전역"
    assert upd["titleKo"] == "폭염주의보 기준 — 서울 중심부 18개 구"
    assert len(incidents.get(incident_id).areas) == 18
    # a district whose level falls is published at once, inside the batch interval
    out = incidents.apply(
        [
            heat(
                subject="ds:3",
                districts=(ALL[3],),
                at=T0 + 121 * M,
                level=Crisis.none,
                previous=Crisis.caution,
            )
        ]
    )
    (upd,) = _updates(out)
    assert upd["added"]["levels"] == [{"area": ALL[3], "level": 0}]
    levels = {a.code: a.level for a in incidents.get(incident_id).areas}
    assert levels[ALL[3]] == 0 and levels[ALL[4]] == 2


# --- one earthquake, official stages, point incidents -----------------------------------------------------


def test_an_earthquake_is_one_incident_with_all_its_districts(incidents: Incidents) -> None:
    def quake(**kw: Any) -> ConditionChange:
        return change(
            rule="kma.earthquake_intensity",
            hazard="earthquake",
            stage_ko="진도 VI",
            stage_en="Intensity VI",
            **kw,
        )

    out = incidents.apply(
        [quake(subject=f"ds:{i}", districts=(code,), level=Crisis.alert) for i, code in enumerate(ALL)]
    )
    assert sum(e["topic"] == ev.INCIDENT_OPENED for e in out) == 1
    (listed,) = incidents.list(open_only=True)
    inc = incidents.get(listed.id)
    assert len(inc.areas) == 25
    assert (inc.title_ko, inc.title_en) == (
        "지진 흔들림 관측: 진도 VI — 서울 전역",
        "Earthquake shaking recorded: Intensity VI — all of Seoul",
    )


def test_an_official_stage_is_its_own_incident(incidents: Incidents) -> None:
    jamsu = incidents.apply(
        [
            change(
                rule="seoul.jamsu_bridge",
                subject="ds:2",
                districts=("11650",),
                level=Crisis.caution,
                hazard="river_flood",
            )
        ]
    )
    gauge = Site("한강대교 수위계", "Hangang Bridge gauge")
    official = incidents.apply(
        [
            change(
                rule="hrfco.hangang_bridge",
                subject="ds:1",
                districts=(YONGSAN,),
                at=T0 + 10 * M,
                level=Crisis.caution,
                stage_ko="홍수주의보 수위",
                stage_en="Flood advisory stage",
                official=True,
                site=gauge,
                hazard="river_flood",
            )
        ]
    )
    opened = [e for e in official if e["topic"] == ev.INCIDENT_OPENED]
    assert len(opened) == 1 and opened[0]["incidentId"] != jamsu[0]["incidentId"]
    assert opened[0]["titleKo"] == "홍수주의보 수위 — 한강대교 수위계 (용산구)"
    # the Jamsu closure rising later does not join the official incident, nor the other way round
    more = incidents.apply(
        [
            change(
                rule="seoul.jamsu_bridge",
                subject="ds:3",
                districts=(YONGSAN,),
                at=T0 + 20 * M,
                hazard="river_flood",
            )
        ]
    )
    assert ev.INCIDENT_OPENED not in [e["topic"] for e in more]
    assert {i.id for i in incidents.list(open_only=True)} == {
        jamsu[0]["incidentId"],
        opened[0]["incidentId"],
    }
    assert incidents.get(opened[0]["incidentId"]).official is True


def test_a_point_incident_carries_its_cordon_and_facility(incidents: Incidents) -> None:
    site = Site(
        "충정아파트", "Chungjeong Apartment", "서울특별시 서대문구 충현동", "Chunghyeon-dong, Seodaemun-gu"
    )
    out = incidents.apply(
        [
            change(
                rule="facility.structural_management",
                hazard="facility",
                subject="ds:7",
                districts=("11410",),
                level=Crisis.serious,
                stage_ko="붕괴 위험 (허용치 2배 초과)",
                stage_en="Collapse danger (twice the allowable value)",
                lon=126.9612,
                lat=37.5630,
                site=site,
                lift_within_s=3600.0,
            )
        ]
    )
    inc = incidents.get(out[0]["incidentId"])
    assert inc.location is not None and inc.location.to_json() == {
        "lon": 126.9612,
        "lat": 37.5630,
        "radiusM": 300.0,
        "nameKo": "충정아파트",
        "nameEn": "Chungjeong Apartment",
        "addressKo": "서울특별시 서대문구 충현동",
        "addressEn": "Chunghyeon-dong, Seodaemun-gu",
    }
    assert inc.title_ko == "붕괴 위험 (허용치 2배 초과) — 충정아파트 (서대문구)"
    assert inc.lift_within_s == 3600.0
    # an area incident has no cordon
    rain = incidents.get(
        incidents.apply([change(subject="ds:9", districts=(NOWON,), lon=127.06, lat=37.65)])[0]["incidentId"]
    )
    assert rain.location is None or rain.location.radius_m is None
    assert GANGNAM not in [a.code for a in rain.areas]


def test_batching_resumes_after_a_restart_where_it_stood(incidents: Incidents) -> None:
    incidents.apply([change(subject="ds:0", districts=(DONGJAK,), level=Crisis.caution)])
    incidents.apply([change(subject="ds:1", districts=(GWANAK,), at=T0 + 10 * M, level=Crisis.caution)])
    # the platform restarts with 관악구 waiting for the 30-min batch of the opening at T0
    again = Incidents(incidents.store, incidents.bus, incidents.clock)
    assert again.tick(T0 + 29 * M) == []
    (upd,) = _updates(again.tick(T0 + 30 * M))
    assert upd["added"]["areas"] == [GWANAK]
