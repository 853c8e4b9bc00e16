# SPDX-License-Identifier: Apache-2.0
"""``/docs`` in a browser cut off from the Internet: every request outside the platform is refused, and
Swagger UI still renders the API's operations, with no console error.

With 150 or more tags and operations, Swagger UI (5.3x) renders the list virtually: only what is in
view is in the DOM. The test therefore scrolls, as a reader does, until the warning section appears."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import LiveServer


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_api_documentation_renders_offline(live_server: LiveServer, browser: Any) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    outside: list[str] = []

    def only_the_platform(route: Any) -> None:
        if route.request.url.startswith(live_server.url):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    context.route("**/*", only_the_platform)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(f"{live_server.url}/docs")
    page.locator(".opblock-tag").first.wait_for(timeout=20_000)
    warning = page.locator(".opblock-tag", has_text="warning")
    for _ in range(400):
        if warning.count():
            break
        page.mouse.wheel(0, 600)
        page.wait_for_timeout(25)
    warning.first.scroll_into_view_if_needed()
    page.locator(".opblock-summary-path", has_text="/alerts/current").first.wait_for(timeout=5_000)
    assert page.locator(".opblock-summary-path", has_text="/alerts/current").count() == 1
    assert outside == [] and errors == [], (outside, errors)
    context.close()
