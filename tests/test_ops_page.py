# SPDX-License-Identifier: Apache-2.0
"""The operations dashboard's page and its locally served assets (no CDN)."""

from __future__ import annotations

import re

from tests.conftest import Api


def test_dashboard_page_and_assets_are_served_locally(api: Api) -> None:
    page = api.client.get("/ops")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    html = page.text
    # every script is an external module of this server; nothing inline, nothing from another host
    assert re.findall(r"<script[^>]*>\s*</script>", html) == [
        '<script type="module" src="/static/ops.js"></script>'
    ]
    assert "http://" not in html and "https://" not in html
    js = api.client.get("/static/ops.js")
    assert js.status_code == 200 and js.headers["content-type"].startswith("text/javascript")
    assert '"/static/vendor/leaflet/leaflet-src.esm.js"' in js.text
    leaflet = api.client.get("/static/vendor/leaflet/leaflet-src.esm.js")
    assert leaflet.status_code == 200 and "export" in leaflet.text
    assert api.client.get("/static/vendor/leaflet/leaflet.css").status_code == 200
    assert (
        api.client.get("/static/vendor/leaflet/images/marker-icon.png").headers["content-type"] == "image/png"
    )
    # only the listed files: no path reaches anything else on disk
    for path in (
        "/static/vendor/../../settings.py",
        "/static/vendor/leaflet/leaflet.js.map",
        "/static/vendor/x",
    ):
        assert api.client.get(path).status_code == 404
    # both languages are in the page's code
    assert "재난안전 상황판" in js.text and "Disaster safety situation room" in js.text


def test_citizen_page_needs_no_login(api: Api) -> None:
    page = api.client.get("/citizen")
    assert page.status_code == 200 and '<script type="module" src="/static/citizen.js"></script>' in page.text
    js = api.client.get("/static/citizen.js").text
    assert "/alerts/current" in js and "/shelters" in js and "/subscriptions" in js
    assert "우리 동네 재난 경보" in js and "Warnings for my area" in js


def test_the_demo_city_is_labelled_approximate(api: Api) -> None:
    assert "Approximate demo geography" not in api.client.get("/ops").text
    api.client.app.state.settings = api.client.app.state.settings.model_copy(update={"demo_geography": True})  # type: ignore[attr-defined]
    page = api.client.get("/ops").text
    assert "데모용 근사 지리" in page and "Approximate demo geography" in page
