# SPDX-License-Identifier: Apache-2.0
"""The pages under their Content-Security-Policy in a real browser (Debian's Chromium, headless): the
browser reports no violation while each page loads and starts (scripts, styles, map images, the event
stream), so the policy blocks nothing the pages need and the pages need nothing the policy forbids."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import Any

import pytest

from safecity.settings import Settings
from tests.conftest import REQUIRE, LiveServer

#: collects every violation the page reports, from the first script on
_LISTEN = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', e => {
  window.__csp.push(e.violatedDirective + ' ' + (e.blockedURI || 'inline') + ' ' + (e.sourceFile || '') + ':' + e.lineNumber);
});
"""


@pytest.fixture
def browser() -> Iterator[Any]:
    chromium = shutil.which("chromium")
    if chromium is None:
        if REQUIRE:
            pytest.fail("chromium is not installed and SAFECITY_REQUIRE_SERVICES=1 (.ci/run installs it)")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu"])
        try:
            yield b
        finally:
            b.close()


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_pages_run_under_the_policy_without_violations(
    settings: Settings, live_server: LiveServer, browser: Any
) -> None:
    found: dict[str, list[str]] = {}
    for path in ("/", "/ops", "/citizen"):
        page = browser.new_page()
        page.add_init_script(_LISTEN)
        console: list[str] = []
        page.on(
            "console",
            lambda m, console=console: (
                console.append(m.text) if "Content Security Policy" in m.text else None
            ),
        )
        response = page.goto(live_server.url + path, wait_until="load")
        assert response is not None and response.status == 200
        assert "script-src 'self'" in response.headers["content-security-policy"]
        page.wait_for_timeout(1500)  # late scripts (the map, the first fetches) have run
        violations = page.evaluate("window.__csp") + console
        if violations:
            found[path] = violations
        page.close()
    assert found == {}, found
