# SPDX-License-Identifier: Apache-2.0
"""Point incidents (a fire, a gas leak, a failing structure) warn the circle around the point, never a
whole district by code, and their texts name the place in words, never an internal key."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import pytest
import shapely

from safecity.settings import Settings
from safecity.situation.incident_inputs import ManualIncidentIn
from safecity.situation.incident_model import (
    IncidentArea,
    IncidentCondition,
    IncidentDetail,
    IncidentLocation,
    TimelineEntry,
)
from safecity.situation.lifecycle import Status
from safecity.situation.model import Crisis, Site
from safecity.warning.bands import Step
from safecity.warning.cap.xml import from_xml
from safecity.warning.drafting import IncidentFacts, Place, draft_info
from safecity.warning.incident_view import view_of, words_for_keys
from safecity.warning.recipients import alert_area
from safecity.warning.wording import load_wordings
from tests.warning.test_alert_api import XSD, Ctx, _ctx

LEAK = (126.9780, 37.5665)  # 서울시청 앞, 중구 (11140)


def offset(lon: float, lat: float, east_m: float) -> tuple[float, float]:
    return lon + east_m / (111_320.0 * math.cos(math.radians(lat))), lat


@pytest.fixture
def auto_ctx(settings: Settings) -> Iterator[Ctx]:
    yield from _ctx(
        settings.model_copy(update={"cap_xsd": XSD}).with_warning(auto_levels=[3, 4], auto_evacuate=True)
    )


def subscribe(ctx: Ctx, name: str, area: dict[str, Any]) -> int:
    body = {
        "kind": "person",
        "name": name,
        "language": "ko",
        "channels": [{"channel": "email", "address": f"{name}@example.test"}],
        "areas": [area],
    }
    r = ctx.client.post("/subscriptions", json=body, headers=ctx.headers)
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def test_a_gas_leak_reaches_the_circle_and_nothing_2_km_away(auto_ctx: Ctx) -> None:
    ctx = auto_ctx
    near = subscribe(ctx, "near", {"kind": "point", "lon": offset(*LEAK, 300)[0], "lat": LEAK[1]})
    far = subscribe(ctx, "far", {"kind": "point", "lon": offset(*LEAK, 2000)[0], "lat": LEAK[1]})
    body = ManualIncidentIn.model_validate(
        {
            "hazard": "gas",
            "level": 3,
            "title_ko": "가스 누출",
            "title_en": "Gas leak",
            "lon": LEAK[0],
            "lat": LEAK[1],
        }
    )
    ctx.platform.incidents.open_manual(body, "duty-officer")
    ctx.deliver()
    (alert,) = ctx.client.get("/alerts", params={"state": "issued"}, headers=ctx.headers).json()["alerts"]
    cap = from_xml(ctx.client.get(f"/alerts/{alert['identifier']}.xml").content)
    for info in cap.infos:
        (area,) = info.areas
        assert area.circles and not area.polygons and not area.geocodes  # the circle, no district code
    targets = {r.subscription_id for r in ctx.platform.warnings.recipients_of(cap, [])}
    assert near in targets and far not in targets
    # the citizen page: a location 2 km away (same district, 중구) sees nothing; 300 m away sees it
    lon_far, lat_far = offset(*LEAK, 2000)
    circle = alert_area(cap)
    assert circle is not None and not circle.covers(shapely.Point(lon_far, lat_far))
    assert ctx.client.get("/alerts/current", params={"lon": lon_far, "lat": lat_far}).json()["warnings"] == []
    assert ctx.client.get("/alerts/current", params={"district": "11140"}).json()["warnings"] == []
    lon_near, lat_near = offset(*LEAK, 300)
    assert (
        len(ctx.client.get("/alerts/current", params={"lon": lon_near, "lat": lat_near}).json()["warnings"])
        == 1
    )


def test_the_text_names_the_facility_and_no_internal_key() -> None:
    incident = IncidentDetail(
        id=7,
        hazard="fire",
        hazard_ko="화재",
        hazard_en="Fire",
        level=Crisis.alert,
        base_level=0,
        status=Status.detected,
        title_ko="smoke_obscuration 급상승",
        title_en="smoke_obscuration rising",
        description=None,
        source="rule",
        source_note=None,
        rule=None,
        location=IncidentLocation(
            LEAK[0], LEAK[1], 400, Site(name_ko="을지로 센터빌딩", name_en="Euljiro Center Building")
        ),
        opened_at=None,
        opened_by=None,
        last_activity_at=None,
        cleared_at=None,
        status_changed_at=None,
        status_changed_by=None,
        closed_at=None,
        closed_by=None,
        dismissed_reason=None,
        created_at=None,
        updated_at=None,
        areas=(IncidentArea("11140", "중구", "Jung-gu", 3),),
        lift_within_s=None,
        official=False,
        conditions=(
            IncidentCondition(
                rule=None,
                subject=None,
                level=3,
                since=None,
                stage_ko="화재 경보",
                stage_en="Fire alarm",
                districts=("11140",),
                official=False,
                lift_within_s=None,
                site=None,
            ),
        ),
        timeline=(
            TimelineEntry(
                id=1,
                at=None,
                recorded_at=None,
                kind="fired",
                actor=None,
                rule=None,
                level=3,
                detail_ko="smoke_obscuration 12 %/m",
                detail_en="smoke_obscuration 12 %/m",
                data=None,
            ),
        ),
    )
    view = view_of(incident)
    assert view.site is not None and view.site.radius_km == 0.4 and view.site.name_ko == "을지로 센터빌딩"
    assert view.details[3] == ("연기 감광률 12 %/m", "smoke obscuration 12 %/m")
    assert "smoke_obscuration" not in view.title_ko + view.title_en
    assert view.levels() == {"11140": Crisis.alert}
    assert words_for_keys("unknown_sensor_key high", "en") == "unknown sensor key high"
    # the alert's headline and area name the building and the circle
    step = Step("Alert", Crisis.alert, ("11140",), None, lowering=False)
    facts = IncidentFacts(
        7,
        "fire",
        step.level,
        "open",
        "화재 경보",
        "Fire alarm",
        [Place("11140", "중구", "Jung-gu", None)],
        *view.details[3],
        centre=(view.site.lon, view.site.lat),
        radius_km=view.site.radius_km,
        site_ko=view.site.name_ko,
        site_en=view.site.name_en,
    )
    for lang, name in (("ko", "을지로 센터빌딩 반경 0.4km"), ("en", "Euljiro Center Building within 0.4 km")):
        info = draft_info(facts, load_wordings(["ko", "en"])[lang], ["대피하십시오."], None, "Alert")
        assert name in info["headline"] and info["area"][0]["areaDesc"] == name, info
        assert "smoke_obscuration" not in str(info)
