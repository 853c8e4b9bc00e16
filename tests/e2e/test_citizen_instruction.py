# SPDX-License-Identifier: Apache-2.0
"""The citizen page's warning card shows the alert's own <instruction> (what to do), in Korean and in
English, on a phone in Debian's Chromium: an operator's instruction ("반지하 주민은 즉시 지상으로
대피하십시오.") is on the card, and the hazard's guide lines the instruction repeats are not shown twice.
The screenshot goes to ``test-artifacts/e2e/``."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from safecity.auth.model import Role
from safecity.geo.importer import import_layer
from safecity.situation.incident_inputs import ManualIncidentIn
from tests.conftest import LiveServer
from tests.e2e.conftest import ARTIFACTS
from tests.geo.data import MOIS_DISTRICTS

PHONE = {"width": 390, "height": 844}
DONGJAK = "11590"
OWN = {
    "ko": "반지하 주민은 즉시 지상으로 대피하십시오.",
    "en": "People in semi-basement homes: go up to ground level now.",
}


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_the_warning_card_shows_the_alerts_own_instruction(live_server: LiveServer, browser: Any) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    platform = live_server.platform
    import_layer(platform, MOIS_DISTRICTS, "districts")
    platform.auth.create_user("duty-officer", "duty-officer-password", {Role.operator})
    body = ManualIncidentIn(
        hazard="heavy_rain", level=3, title_ko="호우", title_en="Heavy rain", districts=[DONGJAK]
    )
    platform.incidents.open_manual(body, "duty-officer")
    base = live_server.url
    with httpx.Client(base_url=base, timeout=60) as c:
        token = c.post("/auth/token", data={"username": "duty-officer", "password": "duty-officer-password"})
        headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        drafts: list[dict[str, Any]] = []
        for _ in range(120):  # the warning capability drafts on the bus
            drafts = c.get("/alerts", params={"state": "draft"}, headers=headers).json()["alerts"]
            if drafts:
                break
            time.sleep(0.5)
        (draft,) = drafts
        assert c.get("/alerts/current", params={"district": DONGJAK}).json()["warnings"] == []  # a draft
        edit = {lang: {"instruction": OWN[lang]} for lang in ("ko", "en")}
        assert c.patch(f"/alerts/{draft['identifier']}", json=edit, headers=headers).status_code == 200
        assert c.post(f"/alerts/{draft['identifier']}/approve", headers=headers).status_code == 200
        (w,) = c.get("/alerts/current", params={"district": DONGJAK, "lang": "ko"}).json()["warnings"]
        assert w["instruction"] == OWN["ko"]

    page = browser.new_page(viewport=PHONE)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{base}/")
    page.evaluate("localStorage.setItem('safecity.lang', 'ko')")
    page.goto(f"{base}/citizen?district={DONGJAK}")
    card = page.locator("#warnings article.warning").first
    card.wait_for(timeout=30_000)
    own = card.locator(".instruction")
    own.wait_for(timeout=10_000)
    assert "안내" in own.inner_text() and OWN["ko"] in own.inner_text()
    # each guide line once: the card's own instruction does not repeat the guide
    shown = [li.inner_text() for li in card.locator(".guide:not(.instruction) li").all()]
    guide = [line for line in shown if line]  # the lines past the fourth are folded away (no text)
    assert guide and all(card.inner_text().count(line) == 1 for line in guide)
    page.screenshot(path=str(ARTIFACTS / "citizen-instruction-ko.png"), full_page=True)

    page.click("#lang")  # in English
    page.locator("#warnings article.warning .instruction", has_text=OWN["en"]).wait_for(timeout=15_000)
    assert "Instructions" in page.locator("#warnings article.warning .instruction").first.inner_text()
    assert "null" not in page.locator("body").inner_text()
    assert errors == [], errors
