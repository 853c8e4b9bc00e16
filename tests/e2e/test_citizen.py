# SPDX-License-Identifier: Apache-2.0
"""The citizen page on a phone (390x844, Debian's Chromium): a storm over Gongdeok (Mapo-gu) raises a heavy
rain incident; the operator approves its alert. A citizen standing inside the storm sees the most severe
warning first, with the steps for during the event, and the walking route to the nearest *flood-safe*
shelter drawn on the map (a nearer shelter safe only from earthquakes is passed over). A citizen outside
it (Jongno-gu) sees nothing: no warning, no route. The page's ordering and incident threading are also
run in the browser on a mixed set. Screenshots go to ``test-artifacts/e2e/``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from shapely.geometry import Point

from safecity.auth.model import Role
from safecity.evacuation.tables import shelters
from safecity.geo.importer import import_layer
from safecity.geo.roads.graph import graph_path
from safecity.warning.guides import guide_for
from tests.conftest import LiveServer, weather_station
from tests.e2e.conftest import ARTIFACTS
from tests.geo.data import MOIS_DISTRICTS
from tests.geo.roads.osm_data import gongdeok
from tests.situation.test_heavy_rain import DONGJAK, START

#: a street corner in Gongdeok (Mapo-gu), on the road network, where the storm's gauge stands
INSIDE = (126.9575, 37.5475)
#: Jongno-gu, north of the river, far from the storm
OUTSIDE = (126.9790, 37.5800)
PHONE = {"width": 390, "height": 844}


def _shelter(live: LiveServer, name: str, lon: float, lat: float, safe_from: list[str]) -> None:
    row = {
        "kind": "temporary_housing",
        "name_ko": name,
        "name_en": name,
        "capacity": 200,
        "occupancy": 0,
        "is_open": True,
        "safe_from": safe_from,
        "geom": Point(lon, lat),
        "updated_at": datetime.now(UTC),
    }
    with live.platform.store.engine.begin() as conn:
        conn.execute(shelters.insert().values(**row))


def _storm(c: httpx.Client, headers: dict[str, str]) -> None:
    """The 8 August 2022 rain at Dongjak, replayed on a gauge in Gongdeok until the 경계 level (19:40)."""
    body = weather_station("Gongdeok AWS", *INSIDE)
    body["properties"] = {"district": "마포구", "sigungu_code": "11440"}
    tid = c.post("/sta/v1.1/Things", json=body, headers=headers).json()["@iot.id"]
    ds = c.get(f"/sta/v1.1/Things({tid})/Datastreams", headers=headers).json()["value"][0]["@iot.id"]
    rows = [[(START + timedelta(minutes=10 * (i + 1))).isoformat(), DONGJAK[i]] for i in range(16)]
    for i in range(0, len(rows), 4):
        batch = [
            {
                "Datastream": {"@iot.id": ds},
                "components": ["phenomenonTime", "result"],
                "dataArray": rows[i : i + 4],
            }
        ]
        assert c.post("/sta/v1.1/CreateObservations", json=batch, headers=headers).status_code == 201


def _approve_drafts(c: httpx.Client, headers: dict[str, str]) -> list[dict[str, Any]]:
    """Approve every draft, as the duty officer would; the issued alerts."""
    import time

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        drafts = c.get("/alerts", params={"state": "draft"}, headers=headers).json()["alerts"]
        if drafts:
            break
        time.sleep(0.2)
    for d in drafts:
        assert c.post(f"/alerts/{d['identifier']}/approve", headers=headers).status_code == 200
    issued: list[dict[str, Any]] = c.get("/alerts", params={"state": "issued"}, headers=headers).json()[
        "alerts"
    ]
    return issued


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_phone_citizen_inside_the_storm_sees_the_warning_and_the_way_to_a_flood_safe_shelter(
    live_server: LiveServer, browser: Any
) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    platform = live_server.platform
    import_layer(platform, MOIS_DISTRICTS, "districts")
    gongdeok().save(graph_path(platform.settings.data_dir))
    # the nearer shelter keeps people safe from earthquakes only; the flood-safe one is farther
    _shelter(live_server, "지진옥외대피장소 (가까움)", 126.9582, 37.5480, ["earthquake"])
    _shelter(live_server, "수해 임시주거시설", 126.9540, 37.5440, ["flood", "earthquake"])
    platform.auth.create_user("duty-officer", "duty-officer-password", {Role.operator})
    base = live_server.url
    with httpx.Client(base_url=base, timeout=30) as c:
        token = c.post("/auth/token", data={"username": "duty-officer", "password": "duty-officer-password"})
        headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        _storm(c, headers)
        issued = _approve_drafts(c, headers)
    assert any("11440" in a["districts"] for a in issued), issued

    page = browser.new_page(viewport=PHONE, locale="ko-KR", is_mobile=True, has_touch=True)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    # Chromium's own note that a private (Playwright) profile has no Push API: the page falls back, by design
    private = "does not support the Push API in incognito"
    page.on(
        "console", lambda m: errors.append(m.text) if m.type == "error" and private not in m.text else None
    )
    page.goto(f"{base}/about")
    page.evaluate("localStorage.setItem('safecity.lang', 'ko')")

    page.goto(f"{base}/citizen?lon={INSIDE[0]}&lat={INSIDE[1]}")
    first = page.locator("#warnings article.warning").first
    first.wait_for(timeout=15_000)
    levels = [
        int(c.split("level-")[1].split()[0])
        for c in page.locator("#warnings article.warning").evaluate_all("els => els.map(e => e.className)")
    ]
    assert levels == sorted(levels, reverse=True) and levels[0] >= 3, levels  # the most severe first
    assert "호우" in first.locator("h2").inner_text()
    # the steps shown are the guide's during-the-event steps, none of its preparation steps
    guide = guide_for("heavy_rain", "general", "ko")
    shown = [li.strip() for li in first.locator(".guide li").all_text_contents()]
    assert shown and all(shown)
    assert shown[0] in guide.during, shown[:2]
    assert not set(shown) & set(guide.before), set(shown) & set(guide.before)
    # the route: on foot to the flood-safe shelter, drawn on the map
    route = page.locator("#route")
    route.locator(".shelter-name").wait_for(timeout=15_000)
    assert route.locator(".shelter-name").inner_text() == "수해 임시주거시설"
    page.locator("path.evac-route").wait_for(timeout=15_000)
    assert "홍수" in route.inner_text()  # says which hazard the shelter is safe from
    page.screenshot(path=str(ARTIFACTS / "citizen-phone-inside.png"), full_page=True)
    page.evaluate("document.getElementById('map').scrollIntoView()")
    page.screenshot(path=str(ARTIFACTS / "citizen-phone-route-map.png"))

    # subscribe to this place (headless Chromium has no push service: the page falls back to its live
    # stream and says so), see the subscription, delete it
    page.click("#subscribe")
    page.locator("#my-subscriptions li").first.wait_for(timeout=15_000)
    assert "페이지 알림" in page.locator("#my-subscriptions").inner_text()
    assert "열려 있을 때만" in page.locator("#subscribed").inner_text()
    page.locator("#my-subscriptions button.delete-sub").first.click()
    page.locator("#my-subs").wait_for(state="hidden", timeout=15_000)
    assert "해지" in page.locator("#subscribed").inner_text()

    # English: the same warning and the same route, in English
    page.click("#lang")
    page.locator("#route .shelter-name").wait_for()
    page.locator("#route h2", has_text="The way to the nearest shelter").wait_for()
    assert page.locator("#live").inner_text() in ("live", "offline")  # not left in Korean by the switch
    page.click("#lang")

    page.goto(f"{base}/citizen?lon={OUTSIDE[0]}&lat={OUTSIDE[1]}")
    page.locator("#warnings .calm").wait_for(timeout=15_000)
    assert page.locator("article.warning").count() == 0
    assert page.locator("#route").is_hidden()
    assert page.locator("path.evac-route").count() == 0
    page.screenshot(path=str(ARTIFACTS / "citizen-phone-outside.png"), full_page=True)

    # the page's own ordering and threading, run by the browser on a mixed set
    order = page.evaluate(
        """import('/static/citizen.js').then((m) => [
            [{level: 2, severity: 'Moderate', sent: '2'}, {level: 4, severity: 'Extreme', sent: '1'},
             {level: 3, severity: 'Severe', sent: '3'}, {level: 3, severity: 'Severe', sent: '4'}]
              .sort(m.bySeverity).map((w) => `${w.level}/${w.sent}`),
            m.threads([
              {identifier: 'c', references: 'x,b,t'}, {identifier: 'z'}, {identifier: 'b', references: 'x,a,t'},
              {identifier: 'a'}]).map((x) => `${x.latest.identifier}:${x.earlier.map((e) => e.identifier).join('')}`),
        ])"""
    )
    assert order == [["4/1", "3/4", "3/3", "2/2"], ["c:ba", "z:"]], order
    assert errors == [], errors
