# SPDX-License-Identifier: Apache-2.0
"""Issue 19's demo criterion in Debian's Chromium: an earthquake message (KMA's shape) comes in; the
operator's situation room shows, without anyone asking, the earthquake panel with the damage totals, the
buildings to inspect first (and their markers), and the damage map cells; the citizen page, on a phone near
the epicentre, shows what to do after the shaking and the nearest *outdoor* earthquake sites, nearest first
(a gym for temporary housing is not one). How long the panel took is printed, never asserted. Screenshots
go to ``test-artifacts/e2e/``."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from safecity.auth.model import Role
from safecity.geo import seoul
from safecity.geo.importer import import_layer
from tests.conftest import LiveServer
from tests.e2e.conftest import ARTIFACTS
from tests.quake.test_chain import SHELTERS, _kma_cap

#: a citizen a few hundred metres from the first outdoor site (a school ground in Gwanak-gu)
NEAR = (126.9835, 37.4870)


@pytest.fixture(autouse=True)
def small_inventory(monkeypatch: pytest.MonkeyPatch) -> None:
    # the published 592,463 buildings take seconds to generate: the same shares on 4,000 here
    monkeypatch.setenv("SAFECITY_QUAKE__BUILDINGS", "4000")


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_the_operator_sees_the_damage_and_the_citizen_the_nearest_outdoor_sites(
    live_server: LiveServer, browser: Any
) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    platform = live_server.platform
    for kind, file in (("districts", seoul.DISTRICTS_FILE), ("dongs", seoul.DONGS_FILE)):
        with seoul.boundary_file(file) as path:
            import_layer(platform, path, kind)
    platform.auth.create_user("duty-officer", "duty-officer-password", {Role.operator})
    base = live_server.url
    with httpx.Client(base_url=base, timeout=60) as c:
        token = c.post("/auth/token", data={"username": "duty-officer", "password": "duty-officer-password"})
        headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        for kind, ko, en, (lon, lat), capacity in SHELTERS:
            body = {
                "kind": kind,
                "name_ko": ko,
                "name_en": en,
                "capacity": capacity,
                "geometry": {"type": "Point", "coordinates": [lon, lat]},
            }
            assert c.post("/shelters", json=body, headers=headers).status_code == 201

        page = browser.new_page(viewport={"width": 1600, "height": 1000})
        errors: list[str] = []
        failed: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
        page.goto(f"{base}/")
        page.evaluate("localStorage.setItem('safecity.lang', 'ko')")
        page.fill("input[name=username]", "duty-officer")
        page.fill("input[name=password]", "duty-officer-password")
        page.click("button[type=submit]")
        page.wait_for_selector("#grid td.cell")
        assert page.locator("#quake-card").is_hidden()  # no earthquake, no panel

        began = time.monotonic()
        r = c.post(
            "/quake/messages", content=_kma_cap(), headers={**headers, "Content-Type": "application/cap+xml"}
        )
        assert r.status_code == 201, r.text
        # the room shows it by itself: the panel, the inspection list, its markers and the damage cells
        page.locator("#quake-inspect tbody tr").first.wait_for(timeout=60_000)
        page.locator("path.quake-cell").first.wait_for(timeout=30_000)
        page.locator("path.quake-inspect").first.wait_for(timeout=30_000)
        shown_after = time.monotonic() - began
        print(
            f"earthquake panel with its inspection list and damage map {shown_after:.1f} s after the message"
        )
        card = page.locator("#quake-card").inner_text()
        assert "지진 피해 추정" in card and "규모 5.8" in card and "우선 점검 건물" in card
        assert "생성된 가상 건물" in card  # a generated inventory says so
        assert page.locator("#quake-inspect tbody tr").count() >= 1
        assert "null" not in card and "NaN" not in card and "undefined" not in card
        page.screenshot(path=str(ARTIFACTS / "quake-1-room.png"))
        assert errors == [], errors
        # the only refusal allowed: the incident's damage asked for while it was still being computed
        assert all(f.startswith("404 ") and "/quake/incidents/" in f for f in failed), failed

        phone = browser.new_page(viewport={"width": 390, "height": 844})
        phone.goto(f"{base}/citizen?lon={NEAR[0]}&lat={NEAR[1]}")
        sites = phone.locator("#quake-sites li")
        sites.first.wait_for(timeout=30_000)
        after = phone.locator("#quake-after").inner_text()  # the phone's browser speaks English
        assert "After the M5.8 earthquake" in after and "Nearest outdoor earthquake sites" in after
        names = [sites.nth(i).inner_text() for i in range(sites.count())]
        assert names[0].startswith("Demo primary school ground")  # the nearest outdoor site first
        assert any(n.startswith("Demo park") for n in names) and not any("gym" in n for n in names)
        assert " m" in names[0] or " km" in names[0]  # with its distance
        body = phone.locator("body").inner_text()
        assert "null" not in body and "undefined" not in body and "NaN" not in body
        phone.screenshot(path=str(ARTIFACTS / "quake-2-citizen.png"), full_page=True)
        # in Korean too
        phone.click("#lang")
        phone.locator("#quake-after", has_text="가까운 지진옥외대피장소").wait_for(timeout=15_000)
        assert phone.locator("#quake-sites li").first.inner_text().startswith("가상초등학교 운동장")
