# SPDX-License-Identifier: Apache-2.0
"""The operations dashboard (``/``, ``/ops`` redirects there) and the citizen page: their locally served
assets (no CDN, no inline script or handler, so a ``script-src 'self'`` policy holds), both languages,
the demo-geography label, and the bilingual message when the vendored libraries are missing."""

from __future__ import annotations

import re
import shutil
from importlib.resources import files as resource_files
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from safecity.app import build_platform, create_app
from safecity.settings import Settings
from safecity.web import assets
from tests.conftest import Api

PAGES = ("/", "/citizen", "/about")
SCRIPTS = (
    "common.js",
    "ops.js",
    "ops-map.js",
    "ops-chart.js",
    "ops-dialogs.js",
    "ops-alert-view.js",
    "citizen.js",
    "citizen-subscribe.js",
)
#: an inline handler attribute (onclick=..., onload=...) or a javascript: URL
INLINE_HANDLER = re.compile(r"""\son[a-z]+\s*=|javascript:""", re.IGNORECASE)


def test_dashboard_page_and_assets_are_served_locally(api: Api) -> None:
    page = api.client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    html = page.text
    # every script is an external module of this server; nothing inline, nothing from another host
    assert re.findall(r"<script[^>]*>\s*</script>", html) == [
        '<script type="module" src="/static/ops.js"></script>'
    ]
    assert "http://" not in html and "https://" not in html
    for link in ('href="/citizen"', 'href="/docs"', 'href="/alerts/feed.atom"'):
        assert link in html
    js = api.client.get("/static/ops.js")
    assert js.status_code == 200 and js.headers["content-type"].startswith("text/javascript")
    common = api.client.get("/static/common.js").text
    assert '"/static/vendor/leaflet/leaflet-src.esm.js"' in common
    assert '"/static/vendor/uplot/uPlot.esm.js"' in common
    leaflet = api.client.get("/static/vendor/leaflet/leaflet-src.esm.js")
    assert leaflet.status_code == 200 and "export" in leaflet.text
    uplot = api.client.get("/static/vendor/uplot/uPlot.esm.js")
    assert uplot.status_code == 200 and "export { uPlot as default }" in uplot.text
    assert api.client.get("/static/vendor/leaflet/leaflet.css").status_code == 200
    assert api.client.get("/static/vendor/uplot/uPlot.min.css").headers["content-type"].startswith("text/css")
    assert (
        api.client.get("/static/vendor/leaflet/images/marker-icon.png").headers["content-type"] == "image/png"
    )
    # only the listed files: no path reaches anything else on disk
    for path in (
        "/static/vendor/../../settings.py",
        "/static/vendor/leaflet/leaflet.js.map",
        "/static/vendor/leaflet/MANIFEST.json",
        "/static/vendor/x",
        "/static/assets.toml",
    ):
        assert api.client.get(path).status_code == 404
    # both languages are in the page's code
    assert "재난안전 상황판" in js.text and "Disaster safety situation room" in js.text


def test_ops_redirects_to_the_dashboard(api: Api) -> None:
    r = api.client.get("/ops", follow_redirects=False)
    assert r.status_code == 308 and r.headers["location"] == "/"


@pytest.mark.parametrize("path", PAGES)
def test_no_inline_script_anywhere(api: Api, path: str) -> None:
    html = api.client.get(path).text
    for script in re.findall(r"<script\b[^>]*>(.*?)</script>", html, flags=re.DOTALL):
        assert script.strip() == "", f"{path}: inline script"
    assert all(" src=" in tag for tag in re.findall(r"<script\b[^>]*>", html))
    assert not INLINE_HANDLER.search(html), f"{path}: inline event handler"
    for name in SCRIPTS:
        js = api.client.get(f"/static/{name}").text
        # scripts build elements and attach listeners, never HTML strings or handler attributes
        for sink in (
            "innerHTML",
            "outerHTML",
            "insertAdjacentHTML",
            "document.write",
            'setAttribute("on',
            "javascript:",
        ):
            assert sink not in js, f"{name}: {sink}"


def test_citizen_page_needs_no_login(api: Api) -> None:
    page = api.client.get("/citizen")
    assert page.status_code == 200 and '<script type="module" src="/static/citizen.js"></script>' in page.text
    js = api.client.get("/static/citizen.js").text + api.client.get("/static/citizen-subscribe.js").text
    for used in (
        "/alerts/current",
        "/shelters",
        "/evacuation/route",
        "/subscriptions",
        "/alerts/stream",
        "geolocation",
    ):
        assert used in js
    assert "우리 동네 재난 경보" in js and "Warnings for my area" in js


def test_the_demo_city_is_labelled_approximate(api: Api, settings: Settings) -> None:
    assert "Approximate demo geography" not in api.client.get("/").text
    # a platform started on the demo's generated city (the setting `safecity demo` turns on)
    demo = build_platform(settings.model_copy(update={"demo_geography": True}))
    try:
        with TestClient(create_app(demo.settings, demo, start_services=False)) as client:
            for path in ("/", "/citizen"):
                page = client.get(path).text
                assert "데모용 근사 지리" in page and "Approximate demo geography" in page
    finally:
        demo.bus.stop()
        demo.store.close()


def test_missing_libraries_are_named_in_both_languages(
    api: Api, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert "assets-missing" not in api.client.get("/").text
    # an empty vendor folder: what a checkout looks like before `make`
    empty = tmp_path / "vendor"
    empty.mkdir()
    monkeypatch.setattr(assets, "VENDOR", empty)
    monkeypatch.setattr(assets.missing, "__defaults__", (empty, assets.PINS))
    monkeypatch.setattr(assets.served, "__defaults__", (empty, assets.PINS))
    for path in ("/", "/citizen"):
        page = api.client.get(path).text
        assert "assets-missing" in page and "safecity assets fetch" in page
        assert (
            "라이브러리가 없습니다" in page and "libraries are missing" in page and "leaflet, uplot" in page
        )
    r = api.client.get("/static/vendor/leaflet/leaflet-src.esm.js")
    assert r.status_code == 404 and "safecity assets fetch" in r.json()["message"]
    # the files come back (copied, as `safecity assets fetch` would extract them): the message goes
    shutil.copytree(
        Path(str(resource_files("safecity.web") / "static" / "vendor")), empty, dirs_exist_ok=True
    )
    assert "assets-missing" not in api.client.get("/").text
