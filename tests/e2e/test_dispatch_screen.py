# SPDX-License-Identifier: Apache-2.0
"""The dispatcher's screen in a real browser (Python Playwright driving Debian's Chromium, headless):
a dispatcher logs in, takes a call, reads the recommendation, sends it with one click, and the unit
board, the map and the golden-time KPIs follow. Screenshots under ``test-artifacts/e2e/``."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from safecity.auth.model import Role
from safecity.dispatch.model import CallIn
from safecity.dispatch.service import Dispatch
from safecity.geo.importer import import_layer
from safecity.geo.roads.graph import graph_path
from safecity.geo.roads.osm import read_osm
from tests.conftest import SHARED, LiveServer
from tests.dispatch.conftest import STATIONS, UNITS
from tests.dispatch.test_hospitals import HOSPITALS
from tests.e2e.conftest import ARTIFACTS
from tests.geo.data import MOIS_DISTRICTS

OSM = SHARED / "data" / "roads" / "osm_seoul_gongdeok_cheongpa.osm"


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_take_a_call_accept_and_everything_follows(live_server: LiveServer, browser: Any) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    platform = live_server.platform
    import_layer(platform, MOIS_DISTRICTS, "districts")
    read_osm(OSM).graph.save(graph_path(platform.settings.data_dir))
    platform.auth.create_user("boss", "boss-password", {Role.admin})
    platform.auth.create_user("disp", "disp-password", {Role.dispatcher})
    base = live_server.url
    with httpx.Client(base_url=base, timeout=60) as c:
        token = c.post("/auth/token", data={"username": "boss", "password": "boss-password"})
        admin = {"Authorization": f"Bearer {token.json()['access_token']}"}
        for s in STATIONS:
            assert c.post("/dispatch/stations", json=s, headers=admin).status_code == 201
        for u in UNITS:
            assert c.post("/dispatch/units", json=u, headers=admin).status_code == 201
        for h in HOSPITALS:
            assert c.post("/dispatch/hospitals", json=h, headers=admin).status_code == 201

        page = browser.new_page(viewport={"width": 1600, "height": 1000})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(f"{base}/dispatch/screen")
        page.evaluate("localStorage.setItem('safecity.lang', 'ko')")
        page.reload()
        page.fill("input[name=username]", "disp")
        page.fill("input[name=password]", "disp-password")
        page.click("#login-form button[type=submit]")
        page.wait_for_selector("#units tr[data-unit='공덕구급1'][data-status='available']")
        page.wait_for_selector("#cover[data-share]")
        expect(page.locator("path.reach")).to_have_count(3, timeout=30_000)
        before_text = page.locator("#cover").get_attribute("data-share") or "nan"
        before = float(before_text)
        assert before > 0

        # a call for chest pain in 공덕동, by address
        page.select_option("#call-type", "ems_chest_pain")
        page.fill("#call-address", "마포구 공덕동")
        page.click("#call-form button[type=submit]")
        page.wait_for_selector("#rec .pick")
        picked = page.locator("#rec .pick").first.get_attribute("data-pick")
        assert picked and "구급" in picked
        assert "분" in page.locator("#rec").inner_text()  # its road time, explained in Korean
        page.wait_for_selector("#calls .item[data-call]")
        # where the patient would go: by road time among those with a free place, explained in Korean
        first = page.locator("#hospitals .item[data-hospital]").first
        expect(first).to_contain_text("추천", timeout=30_000)
        expect(first).to_contain_text("도로")
        nearest = first.get_attribute("data-hospital")
        page.screenshot(path=str(ARTIFACTS / "dispatch-recommendation.png"))
        # the dispatcher hears that ED is full and says so: it drops to the end, no longer recommended
        first.locator("input[name=capacity]").fill("0")
        first.locator("button[type=submit]").click()
        expect(page.locator("#hospitals .item[data-hospital]").last).to_have_attribute(
            "data-hospital", nearest or "", timeout=30_000
        )
        expect(page.locator("#hospitals .item[data-hospital]").last).to_have_attribute("data-free", "0")
        expect(page.locator("#hospitals .item[data-hospital]").last).to_contain_text("만원")

        # one click sends it: the board, the map and the coverage follow
        page.click("#accept")
        page.wait_for_selector(f"#units tr[data-unit='{picked}'][data-status='dispatched']")
        page.wait_for_selector("path.unit-dispatched", state="attached")
        # the map's 7-minute reach of the available ambulances: one fewer
        expect(page.locator("#cover")).to_have_attribute("data-available", "2", timeout=30_000)
        expect(page.locator("path.reach")).to_have_count(2, timeout=30_000)
        assert float(page.locator("#cover").get_attribute("data-share") or "nan") <= before

        # the unit reports on scene from its terminal; the KPI table counts the arrival
        call = c.get("/dispatch/calls", headers=admin).json()[0]
        for status in ("en_route", "on_scene"):
            r = c.post(f"/dispatch/units/{picked}/status", json={"status": status}, headers=admin)
            assert r.status_code == 200, r.text
        page.click("#lang")  # English, and a refresh
        row = page.locator(f"#kpis tr[data-kpi='{call['district']}/ems_chest_pain']")
        expect(row).to_contain_text("1/1", timeout=30_000)
        expect(row).to_contain_text("Chest pain")
        expect(row).to_contain_text("Mapo-gu")  # the district by name, not its code
        # stations by name, the coverage badge in the page's language
        expect(page.locator("#units td[data-station]").first).to_contain_text("119 centre")
        expect(page.locator("#cover")).to_contain_text("Residents within 7 min")
        assert page.locator("h1").inner_text() == "119 dispatch"
        page.screenshot(path=str(ARTIFACTS / "dispatch-after.png"))

        # an earthquake's predicted collapse, suggested by the platform: marked as a prediction to confirm
        platform.services.get(Dispatch).receive_call(
            CallIn.model_validate(
                {
                    "type": "rescue_collapse",
                    "lon": 126.9600,
                    "lat": 37.5470,
                    "note": "지진 피해 추정: 붕괴 가능성 30% (예측, 확인 필요) / "
                    "earthquake damage estimate: collapse probability 30% (a prediction, to be confirmed)",
                }
            ),
            "quake",
            source="quake",
            status="suggested",
            ref="quake:1:B-1",
        )
        page.click("#lang")  # Korean, and a refresh
        suggested = page.locator("#calls [data-suggested]")
        expect(suggested).to_contain_text("예측, 확인 필요", timeout=30_000)
        expect(page.locator("#calls")).to_contain_text("예측 (확인 필요)")
        assert errors == []
