# SPDX-License-Identifier: Apache-2.0
"""Security headers, the pages' Content-Security-Policy (and pages that obey it), CORS, request ids."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html.parser import HTMLParser
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient

from safecity.app import build_platform, create_app
from safecity.hygiene.headers import content_security_policy
from safecity.settings import Settings

CSP = (
    "default-src 'self'; script-src 'self'; connect-src 'self'; img-src 'self' data: blob:; "
    "style-src 'self' 'unsafe-inline'; object-src 'none'; base-uri 'self'; frame-ancestors 'none'"
)


def _client(settings: Settings, **update: Any) -> Iterator[TestClient]:
    s = settings.model_copy(update=update)
    platform = build_platform(s)
    with TestClient(create_app(s, platform, start_services=False)) as c:
        yield c
    platform.store.close()


@pytest.fixture
def client(sqlite_settings: Settings) -> Iterator[TestClient]:
    yield from _client(sqlite_settings)


class _Scripts(HTMLParser):
    """Finds what a script-src 'self' policy would block: inline script bodies and on*= handlers."""

    def __init__(self) -> None:
        super().__init__()
        self.inline: list[str] = []
        self.handlers: list[str] = []
        self.sources: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name.lower().startswith("on"):
                self.handlers.append(f"<{tag} {name}={value!r}>")
            if name in ("href", "src") and value and tag in ("script", "link", "img"):
                self.sources.append(value)
        if tag == "script":
            self._in_script = True
            src = dict(attrs).get("src")
            if src is None:
                self.inline.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip() and self.inline:
            self.inline[-1] += data


def html_pages(app: FastAPI, client: TestClient) -> dict[str, str]:
    """Every GET route without path parameters that answers an HTML page (the API docs apart)."""
    pages: dict[str, str] = {}
    for route in iter_route_contexts(app.routes):
        methods = getattr(route, "methods", None) or set()
        path: str = getattr(route, "path", "")
        if "GET" not in methods or "{" in path:
            continue
        if path.startswith(("/docs", "/redoc")):
            continue
        if path.endswith("/stream"):
            continue  # event streams never end; they are not pages
        r = client.get(path)
        if r.status_code == 200 and r.headers["content-type"].startswith("text/html"):
            pages[path] = r.text
            assert r.headers["content-security-policy"] == CSP, path
    return pages


def test_every_page_carries_the_policy_and_has_no_inline_script(client: TestClient) -> None:
    app: FastAPI = client.app  # type: ignore[assignment]
    pages = html_pages(app, client)
    assert {"/", "/ops", "/citizen"} <= set(pages)
    problems: list[str] = []
    for path, html in pages.items():
        p = _Scripts()
        p.feed(html)
        problems += [f"{path}: inline <script> {body[:60]!r}" for body in p.inline]
        problems += [f"{path}: handler attribute {h}" for h in p.handlers]
        # every script, stylesheet and image the page loads comes from the platform itself
        problems += [f"{path}: loads {s}" for s in p.sources if re.match(r"^(https?:)?//", s)]
    assert problems == [], "\n".join(problems)


def test_security_headers_on_every_response(client: TestClient) -> None:
    for r in (client.get("/health"), client.get("/nope"), client.get("/situation"), client.get("/citizen")):
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["x-frame-options"] == "DENY"
        assert r.headers["referrer-policy"] == "strict-origin-when-cross-origin"
        assert "geolocation=(self)" in r.headers["permissions-policy"]
        assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
        assert "strict-transport-security" not in r.headers  # not behind HTTPS by default
    # the interactive API docs load Swagger UI from its CDN: their own policy, still no framing
    docs = client.get("/docs")
    assert docs.status_code == 200
    assert "cdn.jsdelivr.net" in docs.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in docs.headers["content-security-policy"]


def test_hsts_and_tile_server_when_configured(sqlite_settings: Settings) -> None:
    for c in _client(sqlite_settings, https=True, csp_img_sources=["https://tile.openstreetmap.org"]):
        r = c.get("/citizen")
        assert r.headers["strict-transport-security"].startswith("max-age=31536000")
        assert r.headers["content-security-policy"] == content_security_policy(
            ["https://tile.openstreetmap.org"]
        )
        assert (
            "img-src 'self' data: blob: https://tile.openstreetmap.org;"
            in r.headers["content-security-policy"]
        )


def test_cors_is_closed_by_default(client: TestClient) -> None:
    r = client.get("/alerts/current?district=11590", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in r.headers
    pre = client.options(
        "/subscriptions",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert "access-control-allow-origin" not in pre.headers


def test_cors_allows_only_the_listed_origins(sqlite_settings: Settings) -> None:
    for c in _client(sqlite_settings, cors_origins=["https://map.seoul.go.kr"]):
        ok = c.get("/health", headers={"Origin": "https://map.seoul.go.kr"})
        assert ok.headers["access-control-allow-origin"] == "https://map.seoul.go.kr"
        assert "x-request-id" in ok.headers["access-control-expose-headers"].lower()
        pre = c.options(
            "/subscriptions",
            headers={
                "Origin": "https://map.seoul.go.kr",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization, content-type",
            },
        )
        assert (
            pre.status_code == 200 and pre.headers["access-control-allow-origin"] == "https://map.seoul.go.kr"
        )
        other = c.get("/health", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers


def test_request_ids_are_returned_kept_when_sane_and_in_error_bodies(client: TestClient) -> None:
    r = client.get("/health")
    assert re.fullmatch(r"[0-9a-f]{32}", r.headers["x-request-id"])
    assert (
        client.get("/health", headers={"X-Request-ID": "gw-7f3a.42"}).headers["x-request-id"] == "gw-7f3a.42"
    )
    forged = client.get("/health", headers={"X-Request-ID": 'x" level=error msg="forged'})
    assert re.fullmatch(r"[0-9a-f]{32}", forged.headers["x-request-id"])
    # domain errors, validation errors and refusals all say which request they answer
    for r in (
        client.get("/situation", headers={"X-Request-ID": "req-401"}),
        client.get("/sta/v1.1/Things(0)", headers={"X-Request-ID": "req-404"}),
        client.post("/auth/token", data={}, headers={"X-Request-ID": "req-400"}),
    ):
        assert r.status_code >= 400
        assert r.json()["request_id"] == r.headers["x-request-id"] == r.request.headers["x-request-id"]


def test_a_crash_answers_json_with_the_request_id_and_logs_it(sqlite_settings: Settings) -> None:
    import structlog

    from safecity.auth.deps import allow
    from safecity.auth.model import Role

    platform = build_platform(sqlite_settings)
    app = create_app(sqlite_settings, platform, start_services=False)

    @app.get("/test/bug", dependencies=[allow(Role.public)])
    def bug() -> None:
        raise RuntimeError("a bug")

    with (
        TestClient(app, raise_server_exceptions=False) as c,
        structlog.testing.capture_logs(processors=[structlog.contextvars.merge_contextvars]) as logs,
    ):
        r = c.get("/test/bug", headers={"X-Request-ID": "crash-1"})
    platform.store.close()
    assert r.status_code == 500
    assert r.json()["request_id"] == "crash-1" == r.headers["x-request-id"]
    assert r.json()["code"] == "internal_error" and r.json()["message_ko"]
    assert any(e["event"] == "unhandled error" and e.get("request_id") == "crash-1" for e in logs)
