# SPDX-License-Identifier: Apache-2.0
"""The control room's view of an escalated safe-return trip (/care/operator) in a real browser
(Playwright driving Debian's Chromium, headless): a trip deviates, nobody acknowledges it, and the
operator, linked from the dashboard, sees the live track, the planned route and the nearest 119 units,
CCTV (imported from the public standard format) and police stations (the real OSM extract's);
the read of the track is a *use* recorded with the operator's reason and audited. Screenshots under
``test-artifacts/e2e/``."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from safecity.care.safety_points import CCTV_SOURCE, read_cctv_csv, read_osm, replace
from safecity.care.settings import CareSettings
from safecity.care.tables import access
from safecity.dispatch.model import StationIn, UnitIn, UnitType
from safecity.dispatch.service import Dispatch
from safecity.settings import Settings
from tests.care.conftest import PASSWORD, CareEnv
from tests.care.test_safety_points import OSM, standard_csv
from tests.care.test_trips import HOME, ORIGIN, STEP_S, _along, _send
from tests.e2e.conftest import ARTIFACTS, browser  # noqa: F401 (the browser fixture)


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_an_operator_sees_the_escalated_trip_with_track_route_and_units(
    roads: None,
    care_env: CareEnv,
    browser: Any,  # noqa: F811
    settings: Settings,
    tmp_path: Path,
) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    env = care_env
    # two 119 units at stations of this test (not real stations), one near the walk, one far
    dispatch = env.platform.services.get(Dispatch)
    for code, lon, lat in (("near", 126.9575, 37.5490), ("far", 126.9900, 37.5700)):
        dispatch.add_station(
            StationIn(code=code, name_ko=f"시험 {code}", name_en=f"test {code}", lon=lon, lat=lat)
        )
        dispatch.add_unit(UnitIn(callsign=f"구급-{code}", type=UnitType.ambulance, station=code), "test")
    pid = env.child(name="이바다", home=HOME)
    key = env.device(pid)
    _send(env, key, *ORIGIN)
    r = env.call("mom", "POST", f"/care/people/{pid}/trips", json={"destLon": HOME[0], "destLat": HOME[1]})
    assert r.status_code == 201, r.text
    points = list(_along(r.json()["route"]))
    for lon, lat in points[:3]:
        env.clock.advance(timedelta(seconds=STEP_S))
        _send(env, key, lon, lat)
    for k in range(1, 4):
        env.clock.advance(timedelta(seconds=STEP_S))
        _send(env, key, points[2][0], points[2][1] + 0.0015 * k)
    env.clock.advance(timedelta(seconds=CareSettings().trip_escalate_after_s))
    env.care.trips.tick()
    # a guardian is refused the control room's list
    assert env.call("mom", "GET", "/care/trips/escalated").status_code == 403
    (listed,) = env.call("op", "GET", "/care/trips/escalated").json()
    assert listed["personId"] == pid and "deviation" in listed["problems"] and listed["incidentId"]
    # the police stations of the real OSM extract; two cameras of this test in the public standard format
    now = env.clock.now()
    replace(env.platform.store, read_osm(OSM), f"({OSM.name})", now)
    cameras = standard_csv(
        tmp_path / "cctv.csv",
        [
            "마포구청,,공덕동 1,생활방범,4,,,30,2019-05,37.5478,126.9553,2026-10-01",
            "마포구청,,공덕동 2,어린이보호,2,,,30,2020-03,37.5520,126.9700,2026-10-01",
        ],
    )
    replace(env.platform.store, read_cctv_csv(cameras), f"{CCTV_SOURCE} cctv.csv", now)

    page = browser.new_page(viewport={"width": 1200, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(f"{env.url}/")
    page.evaluate("localStorage.setItem('safecity.lang', 'ko')")
    page.goto(f"{env.url}/care/operator")
    page.fill("input[name=username]", "op")
    page.fill("input[name=password]", PASSWORD)
    page.click("#login-form button[type=submit]")
    trip = page.locator(f"#trips button[data-trip='{listed['tripId']}']")
    expect(trip).to_contain_text("이바다")
    expect(trip).to_contain_text("경로 이탈")
    page.fill("#reason", "안심귀가 경로 이탈 대응 (시험)")
    trip.click()
    page.wait_for_selector(f"#trip[data-trip='{listed['tripId']}'] #last[data-fixes='7']")
    page.wait_for_selector("path.track", state="attached")
    page.wait_for_selector("path.trip-route", state="attached")
    units = page.locator("#units .unit")
    expect(units).to_have_count(2)
    expect(units.first).to_have_attribute("data-unit", "구급-near")  # nearest first
    cctv = page.locator("#cctv .cctv")
    expect(cctv).to_have_count(2)
    expect(cctv.first).to_have_attribute("data-cctv", "생활방범 CCTV 4대 · 공덕동 1")  # nearest first
    police = page.locator("#police .police")
    expect(police).to_have_count(2)
    expect(police.first).to_have_attribute("data-police", "마포경찰서 (Mapo Police Station)")
    expect(page.locator("#police")).to_contain_text("112")  # patrol cars are not connected
    page.wait_for_selector("path.police", state="attached")
    page.wait_for_selector("path.cctv", state="attached")
    page.screenshot(path=str(ARTIFACTS / "care-operator-trip-ko.png"), full_page=True)
    page.click("#lang")
    expect(page.locator("h1")).to_have_text("Safe-return control")
    page.wait_for_selector("#units .unit >> text=away")
    expect(page.locator("#trip")).to_contain_text("route deviation")
    page.screenshot(path=str(ARTIFACTS / "care-operator-trip-en.png"), full_page=True)

    # the reads were uses, recorded with the operator's reason, and audited
    with env.platform.store.engine.connect() as conn:
        uses = (
            conn.execute(
                access.select().where(
                    access.c.person_id == pid, access.c.action == "use", access.c.actor == "op"
                )
            )
            .mappings()
            .all()
        )
    assert uses and all(u["purpose"] == "안심귀가 경로 이탈 대응 (시험)" for u in uses)
    reads = env.platform.audit.search(action="personal.read", actor="op")
    assert any(r.target == f"care:person:{pid}:positions" for r in reads)
    assert errors == []


def test_the_dashboard_links_to_the_control_room_view(care_env: CareEnv) -> None:
    html = care_env.call(None, "GET", "/").text
    assert 'href="/care/operator"' in html
    assert care_env.call(None, "GET", "/care/operator").status_code == 200
