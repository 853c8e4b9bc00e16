# SPDX-License-Identifier: Apache-2.0
"""``/docs`` works without the Internet: Swagger UI comes from static/vendor (the npm registry's
swagger-ui-dist, pinned in assets.toml), never from a CDN; without the files the page says how to get
them, in both languages. The browser check (no request leaves the server) is in tests/e2e/test_docs.py."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from safecity.web import assets
from tests.conftest import Api


def test_docs_page_loads_swagger_ui_from_this_server(api: Api) -> None:
    page = api.client.get("/docs")
    assert page.status_code == 200
    sources = re.findall(r"""(?:src|href)=["']([^"']+)["']""", page.text)
    assert "/static/vendor/swagger-ui-dist/swagger-ui-bundle.js" in sources
    assert "/static/vendor/swagger-ui-dist/swagger-ui.css" in sources
    assert not [s for s in sources if s.startswith(("http:", "https:", "//"))], sources
    assert "cdn.jsdelivr" not in page.text and "'/openapi.json'" in page.text
    for path in (
        "/static/vendor/swagger-ui-dist/swagger-ui-bundle.js",
        "/static/vendor/swagger-ui-dist/swagger-ui.css",
    ):
        r = api.client.get(path)
        assert r.status_code == 200 and len(r.content) > 10_000, path
    assert api.client.get("/docs/oauth2-redirect").status_code == 200
    pins = {p.name: p for p in assets.load_pins()}
    assert pins["swagger-ui-dist"].integrity.startswith("sha512-")


def test_without_the_files_the_docs_page_says_what_to_run(
    api: Api, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "vendor"
    empty.mkdir()
    monkeypatch.setattr(assets.missing, "__defaults__", (empty, assets.PINS))
    page = api.client.get("/docs").text
    assert "safecity assets fetch" in page and "라이브러리가 없습니다" in page and "swagger-ui-dist" in page
    # the dashboard does not use Swagger UI: only its own libraries count there
    monkeypatch.setattr(assets.missing, "__defaults__", (assets.VENDOR, assets.PINS))
    assert "assets-missing" not in api.client.get("/").text
