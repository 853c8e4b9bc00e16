# SPDX-License-Identifier: Apache-2.0
"""The operations dashboard and the citizen page in a real browser (Python Playwright driving Debian's
Chromium, headless; never a downloaded browser). The dashboard at ``/`` shows the gauges on the map; the
heavy-rain storm of 8 August 2022 is posted at full speed; Dongjak turns yellow (주의) then orange (경계)
on the board and the map; an incident appears; a gauge's chart shows the KMA thresholds; the duty
officer opens the composer, sees the cell-broadcast preview and approves the drafted alert; its area
appears on the map; the citizen page shows it for a place inside the area and not for one outside; the
officer cancels it and the citizen page lifts it. Screenshots of the key states are saved under ``test-artifacts/e2e/``."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest

from safecity.auth.model import Role
from safecity.geo.importer import import_layer
from tests.conftest import LiveServer, weather_station
from tests.e2e.conftest import ARTIFACTS
from tests.geo.data import MOIS_DISTRICTS
from tests.situation.test_heavy_rain import DONGJAK, GAUGES, START

#: inside the storm's alert area (the Dongjak gauge) and well outside it (Jongno-gu, north of the river)
INSIDE = (126.9396, 37.5124)
OUTSIDE = (126.9790, 37.5800)


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

        page = browser.new_page(viewport={"width": 1920, "height": 1080})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(f"{base}/")
        page.evaluate("localStorage.setItem('safecity.lang', 'ko')")
        page.locator("#login-form").wait_for()
        assert page.locator("#room").is_hidden()  # no board under the login form
        page.fill("input[name=username]", "duty-officer")
        page.fill("input[name=password]", "duty-officer-password")
        page.click("button[type=submit]")
        page.wait_for_selector("#grid td.cell")  # the board with every district
        page.wait_for_selector("path.district")  # the map, drawn from the city's own district layer
        sensors = page.locator("path.sensor")
        sensors.nth(len(GAUGES) - 1).wait_for(timeout=15_000)
        assert sensors.count() == len(GAUGES)  # every gauge on the map
        page.screenshot(path=str(ARTIFACTS / "1-quiet.png"))
        # a language switch keeps the connection's state (it used to say "offline" while live)
        page.locator("#live.on").wait_for(timeout=15_000)
        page.click("#lang")
        assert page.locator("#live").inner_text() == "live"
        page.click("#lang")
        assert page.locator("#live").inner_text() == "실시간"
        assert "null" not in page.locator("body").inner_text()

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

        dongjak = page.locator("#grid td.dname", has_text="동작구")
        for i in range(12):  # to 19:00: Dongjak's advisory (주의, yellow)
            post(i)
        dongjak.and_(page.locator(".level-2")).wait_for(timeout=15_000)
        page.locator("path.district.level-2").first.wait_for(timeout=15_000)  # the map follows the board
        page.screenshot(path=str(ARTIFACTS / "2-yellow.png"))
        for i in range(12, 16):  # to 19:40: Dongjak's warning (경계, orange)
            post(i)
        dongjak.and_(page.locator(".level-3")).wait_for(timeout=15_000)
        page.locator("path.district.level-3").first.wait_for(timeout=15_000)
        page.locator("#incidents .item").first.wait_for()
        page.locator(".incident-pin.level-3").first.wait_for(timeout=15_000)
        page.screenshot(path=str(ARTIFACTS / "3-orange-incident.png"))

        # the incident: its timeline and lifecycle actions
        # (the storm's incident; the gauges' 2022 readings also look silent to the real clock: another one)
        page.locator("#incidents .item", has_text="호우").first.click()
        dialog = page.locator("#incident-dialog")
        dialog.locator(".timeline li").first.wait_for()
        assert "호우경보 기준" in dialog.locator(".timeline").inner_text()
        assert dialog.locator("button.step-acknowledged").is_enabled()
        dialog.locator("button.step-acknowledged").click()
        dialog.locator(".timeline li", has_text="duty-officer").first.wait_for(timeout=15_000)
        assert "null" not in dialog.inner_text()
        page.screenshot(path=str(ARTIFACTS / "4-incident.png"))
        dialog.locator(".dialog-head button").click()

        # a gauge's chart with the KMA thresholds it is judged by
        page.locator("path.sensor.level-3").first.click()
        chart = page.locator("#chart-panel")
        chart.locator("canvas").first.wait_for(timeout=15_000)
        # the property by its catalogue name in the reader's language, not its key "rainfall_10min"
        assert "10분 강우량 (mm)" in chart.locator("#chart-title").inner_text()
        legend = chart.locator(".u-legend").inner_text()
        for line in ("3시간 누적 ≥ 60", "3시간 누적 ≥ 90", "12시간 누적 ≥ 110", "12시간 누적 ≥ 180"):
            assert line in legend, legend
        assert "3시간 누적 (mm)" in legend  # the derived series the lines are compared with
        page.screenshot(path=str(ARTIFACTS / "5-sensor-chart.png"))
        chart.locator("#chart-close").click()

        # the composer: the CAP, both languages, the cell-broadcast text against its limit; approve
        # one draft per level band (issue 12): Dongjak's 경계 band is the one with 동작구
        dongjak_draft = page.locator("#drafts .item", has_text="동작구")
        dongjak_draft.locator("button.compose").first.click()
        composer = page.locator("#composer")
        composer.locator(".phone[data-lang=ko]").wait_for(timeout=15_000)
        assert "동작구" in composer.locator(".phone[data-lang=ko]").inner_text()
        assert composer.locator(".phone[data-lang=en]").inner_text().strip()
        counter = composer.locator(".lang-col[data-lang=ko] .counter").inner_text()
        assert counter.endswith("/ 90 자") and int(counter.split("/")[0]) <= 90
        assert "<alert" in (composer.locator("details.xml pre").text_content() or "")
        composer.locator("path.composer-area").first.wait_for(timeout=15_000)  # the target area on a map
        page.screenshot(path=str(ARTIFACTS / "6-composer.png"))
        composer.locator("button.approve").click()
        dongjak_draft.first.wait_for(state="detached", timeout=15_000)
        issued = c.get("/alerts", params={"state": "issued"}, headers=headers).json()["alerts"]
        issued = [a for a in issued if "11590" in a["districts"]]
        assert issued and issued[0]["decidedBy"] == "duty-officer"
        # the alert's area on the map, and in the list of alerts in force
        page.locator("path.alert-area").first.wait_for(timeout=15_000)
        page.locator("#issued .item").first.wait_for()
        page.screenshot(path=str(ARTIFACTS / "7-approved-area.png"))
        # the issued alert opens read-only: texts, CAP, its area on a map, deliveries per channel
        page.locator("#issued button.view").first.click()
        composer.locator(".deliveries tr[data-channel=sse]").wait_for(timeout=15_000)
        assert "읽기 전용" in page.locator("#composer-title").inner_text()
        assert composer.locator("button.approve").count() == 0
        assert composer.locator("textarea[name=instruction]").first.is_disabled()
        composer.locator("path.composer-area").first.wait_for(timeout=15_000)
        assert "<alert" in (composer.locator("details.xml pre").text_content() or "")
        assert "null" not in composer.inner_text()  # absent parts are left out, not written as "null"
        page.screenshot(path=str(ARTIFACTS / "7b-issued-read-only.png"))
        composer.locator(".dialog-head button").click()

        citizen = browser.new_page(viewport={"width": 390, "height": 844}, locale="ko-KR")
        citizen.on("pageerror", lambda e: errors.append(str(e)))
        citizen.goto(f"{base}/citizen?district=11590")  # 동작구: inside the alert's area
        citizen.locator("article.warning").first.wait_for(timeout=15_000)
        assert "동작구" in citizen.locator("article.warning h2").first.inner_text()
        citizen.screenshot(path=str(ARTIFACTS / "8-citizen-inside.png"), full_page=True)
        citizen.goto(f"{base}/citizen?lon={INSIDE[0]}&lat={INSIDE[1]}")  # a point inside the area
        citizen.locator("article.warning").first.wait_for(timeout=15_000)
        citizen.goto(f"{base}/citizen?lon={OUTSIDE[0]}&lat={OUTSIDE[1]}")  # a point outside it
        citizen.locator(".calm").wait_for(timeout=15_000)
        assert citizen.locator("article.warning").count() == 0
        citizen.goto(f"{base}/citizen?district=11110")  # 종로구: outside
        citizen.locator(".calm").wait_for(timeout=15_000)
        assert citizen.locator("article.warning").count() == 0
        citizen.screenshot(path=str(ARTIFACTS / "9-citizen-outside.png"))

        # the operator withdraws the alert: a CAP Cancel; the citizen inside the area sees it lifted
        page.locator("#issued button.cancel").first.click()
        composer.locator("textarea.reason").fill("시험 종료 / end of the exercise")
        composer.locator("button.confirm-cancel").click()
        page.locator("#issued .empty").wait_for(timeout=15_000)
        page.locator("path.alert-area").first.wait_for(state="detached", timeout=15_000)
        cancels = c.get("/alerts", params={"state": "issued"}, headers=headers).json()["alerts"]
        assert any(a["msgType"] == "Cancel" and issued[0]["identifier"] in a["references"] for a in cancels)
        citizen.goto(f"{base}/citizen?district=11590")
        citizen.locator(".calm").wait_for(timeout=15_000)
        assert citizen.locator("article.warning").count() == 0
        assert errors == []
