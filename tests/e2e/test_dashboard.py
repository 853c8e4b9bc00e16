# SPDX-License-Identifier: Apache-2.0
"""The operations dashboard and the citizen page in a real browser (Python Playwright driving Debian's
Chromium, headless; never a downloaded browser): the storm turns districts yellow, orange and red on the
board, the duty officer approves the drafted alert in the dashboard, and the citizen page shows it for a
district inside the alert area and not for one outside. Screenshots of the key states are saved under
``test-artifacts/e2e/``."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from safecity.auth.model import Role
from safecity.geo.importer import import_layer
from tests.conftest import REQUIRE, LiveServer, weather_station
from tests.geo.data import MOIS_DISTRICTS
from tests.situation.test_heavy_rain import DONGJAK, GAUGES, START

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "e2e"


@pytest.fixture
def browser() -> Iterator[Any]:
    chromium = shutil.which("chromium")
    if chromium is None:
        if REQUIRE:
            pytest.fail("chromium is not installed and SAFECITY_REQUIRE_SERVICES=1 (.ci/run installs it)")
        pytest.skip("chromium is not installed (apt-get install chromium fonts-nanum)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu"])
        try:
            yield b
        finally:
            b.close()


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_storm_on_the_dashboard_then_the_alert_on_the_citizen_page(
    live_server: LiveServer, browser: Any
) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    platform = live_server.platform
    import_layer(platform, MOIS_DISTRICTS, "districts")
    platform.auth.create_user("duty-officer", "duty-officer-password", {Role.operator})
    base = live_server.url
    with httpx.Client(base_url=base, timeout=30) as c:
        token = c.post("/auth/token", data={"username": "duty-officer", "password": "duty-officer-password"})
        headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        streams = []
        for name, lon, lat, _code, _ in GAUGES:
            tid = c.post("/sta/v1.1/Things", json=weather_station(name, lon, lat), headers=headers).json()[
                "@iot.id"
            ]
            streams.append(
                c.get(f"/sta/v1.1/Things({tid})/Datastreams", headers=headers).json()["value"][0]["@iot.id"]
            )

        page = browser.new_page(viewport={"width": 1600, "height": 1000})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{base}/ops")
        page.fill("input[name=username]", "duty-officer")
        page.fill("input[name=password]", "duty-officer-password")
        page.click("button[type=submit]")
        page.wait_for_selector("#grid .cell")  # the board with every district
        page.wait_for_selector(".leaflet-overlay-pane path, .leaflet-overlay-pane canvas")  # the map
        page.screenshot(path=str(ARTIFACTS / "1-quiet.png"))

        def post(i: int) -> None:
            when = START + timedelta(minutes=10 * (i + 1))
            body = [
                {
                    "Datastream": {"@iot.id": ds},
                    "components": ["phenomenonTime", "result"],
                    "dataArray": [[when.isoformat(), DONGJAK[i] * factor]],
                }
                for ds, (*_, factor) in zip(streams, GAUGES, strict=True)
            ]
            assert c.post("/sta/v1.1/CreateObservations", json=body, headers=headers).status_code == 201

        dongjak = page.locator("#grid .cell", has_text="동작구")
        for i in range(12):  # to 19:00: Dongjak's advisory (주의, yellow)
            post(i)
        dongjak.and_(page.locator(".level-2")).wait_for(timeout=15_000)
        page.screenshot(path=str(ARTIFACTS / "2-yellow.png"))
        for i in range(12, 16):  # to 19:40: Dongjak's warning (경계, orange)
            post(i)
        dongjak.and_(page.locator(".level-3")).wait_for(timeout=15_000)
        page.locator("#incidents .item").first.wait_for()
        page.screenshot(path=str(ARTIFACTS / "3-orange-incident.png"))

        # approve the drafted alert in the dashboard
        approve = page.locator("#drafts button.primary").first
        approve.wait_for(timeout=15_000)
        approve.click()
        page.locator("#drafts .empty").wait_for(timeout=15_000)
        page.screenshot(path=str(ARTIFACTS / "4-approved.png"))
        issued = c.get("/alerts", params={"state": "issued"}, headers=headers).json()["alerts"]
        assert issued and issued[0]["decidedBy"] == "duty-officer"
        assert "11590" in issued[0]["districts"]

        citizen = browser.new_page(viewport={"width": 420, "height": 900}, locale="ko-KR")
        citizen.on("pageerror", lambda e: errors.append(str(e)))
        citizen.goto(f"{base}/citizen?district=11590")  # 동작구: inside the alert's area
        citizen.locator("article.warning").first.wait_for(timeout=15_000)
        assert "동작구" in citizen.locator("article.warning h2").first.inner_text()
        citizen.screenshot(path=str(ARTIFACTS / "5-citizen-inside.png"), full_page=True)
        citizen.goto(f"{base}/citizen?district=11110")  # 종로구: outside
        citizen.locator(".calm").wait_for(timeout=15_000)
        assert citizen.locator("article.warning").count() == 0
        citizen.screenshot(path=str(ARTIFACTS / "6-citizen-outside.png"))
        assert errors == []
