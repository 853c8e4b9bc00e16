# SPDX-License-Identifier: Apache-2.0
"""A flood forecast's targeted warning (one alert, an <area> per district, a circle per place at risk) on
the citizen page, on a phone in Debian's Chromium: a citizen inside the *second* area's circle sees it,
with its Korean 호우 guidance and its areas drawn on the map; one between the circles sees nothing. The
screenshot goes to ``test-artifacts/e2e/``."""

from __future__ import annotations

from typing import Any

import pytest

from safecity.geo.importer import import_layer
from safecity.warning.targeted import TargetedAlerts
from tests.conftest import LiveServer
from tests.e2e.conftest import ARTIFACTS
from tests.geo.data import MOIS_DISTRICTS
from tests.warning.test_point_alerts import offset
from tests.warning.test_targeted import BETWEEN, HOMES, warning

PHONE = {"width": 390, "height": 844}


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_a_citizen_in_any_of_the_circles_sees_the_warning(live_server: LiveServer, browser: Any) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    platform = live_server.platform
    import_layer(platform, MOIS_DISTRICTS, "districts")
    targeted = platform.services.get(TargetedAlerts)
    (ident,) = targeted.warn("flood-forecast", warning())
    platform.warnings.issue(ident, "duty-officer")  # as an operator approves it
    base = live_server.url

    page = browser.new_page(viewport=PHONE)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{base}/")  # the origin first, to choose the page's language
    page.evaluate("localStorage.setItem('safecity.lang', 'ko')")
    lon, lat = offset(*HOMES, 50)  # by the semi-basement homes: the second area's circle
    page.goto(f"{base}/citizen?lon={lon}&lat={lat}")
    card = page.locator("#warnings article.warning").first
    card.wait_for(timeout=30_000)
    text = card.inner_text()
    assert "호우 침수 예측" in text and "반지하 주택" in text, text
    assert "지상으로 대피할 준비를 하십시오" in text  # the warning's own action, not only the general guide
    assert "null" not in page.locator("body").inner_text()
    # its two areas drawn: two circles (Leaflet paths) in the alert's colour on the map
    drawn = page.evaluate("document.querySelectorAll('.leaflet-overlay-pane path').length")
    assert drawn >= 2
    page.screenshot(path=str(ARTIFACTS / "citizen-targeted-warning.png"), full_page=True)

    page.goto(f"{base}/citizen?lon={BETWEEN[0]}&lat={BETWEEN[1]}")  # between the circles: not in it
    page.locator("#warnings .calm").wait_for(timeout=30_000)
    assert page.locator("#warnings article.warning").count() == 0
    assert errors == [], errors
