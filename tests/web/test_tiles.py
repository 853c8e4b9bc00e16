# SPDX-License-Identifier: Apache-2.0
"""A deployment's tile server: off by default (the pages load nothing from another host); when set, the
pages name it for their scripts and the Content-Security-Policy admits exactly its origin."""

from __future__ import annotations

from fastapi.testclient import TestClient

from safecity.app import build_platform, create_app
from safecity.settings import Settings


def _get(settings: Settings, path: str) -> tuple[str, str]:
    platform = build_platform(settings)
    try:
        with TestClient(create_app(settings, platform, start_services=False)) as c:
            r = c.get(path)
            assert r.status_code == 200
            return r.text, r.headers["content-security-policy"]
    finally:
        platform.store.close()


def test_no_tiles_by_default(sqlite_settings: Settings) -> None:
    for path in ("/", "/citizen"):
        page, csp = _get(sqlite_settings, path)
        assert "safecity-tiles" not in page
        assert "img-src 'self' data: blob:;" in csp


def test_a_configured_tile_server_reaches_the_pages_and_the_policy(sqlite_settings: Settings) -> None:
    s = sqlite_settings.model_copy(
        update={
            "map_tile_url": "https://tiles.example.go.kr:8443/base/{z}/{x}/{y}.png",
            "map_tile_attribution": '© Seoul "base" map',
        }
    )
    for path in ("/", "/citizen"):
        page, csp = _get(s, path)
        assert (
            '<meta name="safecity-tiles" content="https://tiles.example.go.kr:8443/base/{z}/{x}/{y}.png" '
            'data-attribution="© Seoul &quot;base&quot; map"></head>'
        ) in page
        assert "img-src 'self' data: blob: https://tiles.example.go.kr:8443;" in csp
