# SPDX-License-Identifier: Apache-2.0
"""The guardian page in a real browser (Playwright driving Debian's Chromium, headless), against the
platform served for real on a manual clock: a guardian logs in on a phone-sized screen, starts the trip
home from the page, and sees the child arrive; a second child's trip deviates, the page shows it, and
with nobody acknowledging it is escalated to the operators. Screenshots under ``test-artifacts/e2e/``."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from safecity.care.settings import CareSettings
from safecity.settings import Settings
from tests.care.conftest import PASSWORD, CareEnv
from tests.care.test_checkins import _elderly, _incident
from tests.care.test_trips import HOME, ORIGIN, STEP_S, _along, _send
from tests.e2e.conftest import ARTIFACTS, browser  # noqa: F401 (the browser fixture)


def _trip(env: CareEnv, pid: int) -> dict[str, Any]:
    trips = env.call("mom", "GET", f"/care/people/{pid}/trips").json()
    return dict(trips[0])


def _refresh(page: Page) -> None:
    page.click("#refresh")


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_a_guardian_sees_the_child_arrive_and_a_deviation_escalate(
    roads: None,
    care_env: CareEnv,
    browser: Any,  # noqa: F811
    settings: Settings,
) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    env = care_env
    walker = env.child(name="김하늘", home=HOME)
    strayer = env.child(name="이바다", home=HOME)
    keys = {walker: env.device(walker), strayer: env.device(strayer)}
    for pid in (walker, strayer):
        _send(env, keys[pid], *ORIGIN)  # the trip starts from the latest position

    page = browser.new_page(viewport={"width": 390, "height": 844})  # a phone
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(f"{env.url}/care/guardian")
    page.evaluate("localStorage.setItem('safecity.lang', 'ko')")
    page.reload()
    page.fill("input[name=username]", "mom")
    page.fill("input[name=password]", PASSWORD)
    page.click("#login-form button[type=submit]")
    page.wait_for_selector(f"#people button[data-person='{walker}'].selected")
    expect(page.locator("#where")).to_contain_text("마지막 위치")
    expect(page.locator("#safety")).to_contain_text("교통사고 다발 지점이 없습니다")  # no hotspot imported
    page.wait_for_selector("path.me", state="attached")

    # the trip home, started from the page; the child walks the expected route
    page.click("#start-trip")
    page.wait_for_selector("#trip[data-status='active']")
    page.wait_for_selector("path.trip-route", state="attached")
    trip = _trip(env, walker)
    for lon, lat in _along(trip["route"]):
        env.clock.advance(timedelta(seconds=STEP_S))
        _send(env, keys[walker], lon, lat)
        env.care.trips.tick()
    _refresh(page)
    page.wait_for_selector("#trip[data-status='arrived']")
    expect(page.locator("#alerts .alert[data-kind='arrived']")).to_contain_text("집에 도착했습니다")
    page.screenshot(path=str(ARTIFACTS / "care-guardian-arrived.png"), full_page=True)

    # the second child: the trip deviates; the page says so, nobody acknowledges, the operators get it
    page.click(f"#people button[data-person='{strayer}']")
    page.wait_for_selector(f"#people button[data-person='{strayer}'].selected")
    page.wait_for_selector("#trip[data-status='none']")
    page.click("#start-trip")  # its last position is too old to start from: the page says so
    expect(page.locator("#trip-error")).to_contain_text("최근 10분")
    assert [e for e in errors if "400" not in e] == []
    errors.clear()  # the browser logs the expected 400
    _send(env, keys[strayer], *ORIGIN)
    page.click("#start-trip")
    page.wait_for_selector("#trip[data-status='active']")
    points = list(_along(_trip(env, strayer)["route"]))
    for lon, lat in points[:3]:
        env.clock.advance(timedelta(seconds=STEP_S))
        _send(env, keys[strayer], lon, lat)
    for k in range(1, 4):
        env.clock.advance(timedelta(seconds=STEP_S))
        _send(env, keys[strayer], points[2][0], points[2][1] + 0.0015 * k)
    _refresh(page)
    page.wait_for_selector("#trip[data-escalation='guardian'] [data-raised='deviation']")
    expect(page.locator("#ack")).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "care-guardian-deviation.png"), full_page=True)
    env.clock.advance(timedelta(seconds=CareSettings().trip_escalate_after_s))
    env.care.trips.tick()
    _refresh(page)
    page.wait_for_selector("#trip[data-escalation='operator']")
    expect(page.locator("#alerts .alert[data-kind='escalated']")).to_be_visible()
    page.click("#lang")
    expect(page.locator("#trip")).to_contain_text("passed to the control room")
    assert page.locator("h1").inner_text() == "Guardian"
    page.screenshot(path=str(ARTIFACTS / "care-guardian-escalated.png"), full_page=True)
    # the operators have the incident on their board
    assert any("#" + str(strayer) in (i.title_en or "") for i in env.platform.incidents.list())
    # a heat wave: mom is also the carer of an elderly neighbour living alone; the call list appears
    elder = _elderly(env, "박말순", carer="mom")
    _incident(env, "heat_wave")
    _refresh(page)
    task = page.locator("#checkins .checkin[data-checkin]")
    expect(task).to_have_count(1)
    expect(task).to_contain_text("박말순")
    expect(task).to_contain_text("119")  # the guidance read out on the call
    task.locator("button[data-outcome='ok']").click()
    expect(page.locator("#checkins-card")).to_be_hidden()
    assert env.care.checkins.tasks([elder], open_only=False)[0]["status"] == "done"
    assert errors == []
