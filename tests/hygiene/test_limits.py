# SPDX-License-Identifier: Apache-2.0
"""Body size, rate, stream and time limits at the HTTP edge, over real HTTP where the transport matters
(a chunked body, concurrent event streams). The edge does not depend on the store: SQLite only."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import structlog
import uvicorn
from fastapi import FastAPI
from fastapi.responses import StreamingResponse
from fastapi.testclient import TestClient

from safecity.app import build_platform, create_app
from safecity.auth.deps import allow
from safecity.auth.model import Role
from safecity.settings import Settings
from tests.conftest import weather_station


class EdgeClock:
    """The edge's monotonic clock, moved by the test instead of sleeping."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def _app(settings: Settings, edge_clock: EdgeClock | None = None, **limits: Any) -> tuple[FastAPI, Any]:
    s = settings.model_copy(update=limits)
    platform = build_platform(s)
    platform.auth.create_user("operator1", "operator-password", {Role.operator})
    app = create_app(s, platform, start_services=False, edge_clock=edge_clock or time.monotonic)
    return app, platform


@pytest.fixture
def edge_clock() -> EdgeClock:
    return EdgeClock()


@pytest.fixture
def client(sqlite_settings: Settings, edge_clock: EdgeClock) -> Iterator[TestClient]:
    app, platform = _app(sqlite_settings, edge_clock, rate_limit_per_s=1.0, rate_limit_burst=5)
    with TestClient(app) as c:
        yield c
    platform.store.close()


def _token(client: TestClient) -> dict[str, str]:
    r = client.post("/auth/token", data={"username": "operator1", "password": "operator-password"})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


class Live:
    """The app under uvicorn in a thread (real sockets)."""

    def __init__(self, app: FastAPI, port: int) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert time.monotonic() < deadline and self.thread.is_alive()
            time.sleep(0.02)

    def close(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def test_declared_body_over_the_limit_is_refused_naming_the_setting(sqlite_settings: Settings) -> None:
    app, platform = _app(sqlite_settings, max_body_bytes=50_000, max_body_bytes_other=2_000)
    with TestClient(app) as client:
        headers = _token(client)
        tid = client.post("/sta/v1.1/Things", json=weather_station(), headers=headers).json()["@iot.id"]
        ds = client.get(f"/sta/v1.1/Things({tid})/Datastreams", headers=headers).json()["value"][0]["@iot.id"]
        rows = [[f"2025-07-01T00:{m:02d}:{s:02d}Z", 1.0] for m in range(60) for s in range(60)]
        body = [
            {"Datastream": {"@iot.id": ds}, "components": ["phenomenonTime", "result"], "dataArray": rows}
        ]
        r = client.post("/sta/v1.1/CreateObservations", json=body, headers=headers)
        assert r.status_code == 413
        err = r.json()
        assert err["code"] == "payload_too_large" and err["setting"] == "SAFECITY_MAX_BODY_BYTES"
        assert "50000" in err["message"] and "본문" in err["message_ko"]
        assert err["request_id"] == r.headers["x-request-id"]
        # under the limit it is stored; nothing of the refused batch was
        body[0]["dataArray"] = rows[:100]
        r = client.post("/sta/v1.1/CreateObservations", json=body, headers=headers)
        assert r.status_code == 201 and len(r.json()) == 100
        count = client.get(f"/sta/v1.1/Datastreams({ds})/Observations?$count=true&$top=1", headers=headers)
        assert count.json()["@iot.count"] == 100
        # every other route has the small limit
        r = client.post("/auth/token", content=b"username=" + b"a" * 3_000 + b"&password=x")
        assert r.status_code == 413 and r.json()["setting"] == "SAFECITY_MAX_BODY_BYTES_OTHER"
    platform.store.close()


def test_a_chunked_body_is_cut_off_while_it_streams(sqlite_settings: Settings) -> None:
    """No Content-Length and an endless body: the 413 must come back while the client is still sending,
    which is only possible if the server counts the chunks as they arrive."""
    app, platform = _app(sqlite_settings, max_body_bytes=100_000)
    live = Live(app, sqlite_settings.port)
    sent = 0
    try:
        token = httpx.post(
            live.url + "/auth/token", data={"username": "operator1", "password": "operator-password"}
        ).json()["access_token"]
        with socket.create_connection(("127.0.0.1", live.port), timeout=10) as sock:
            sock.sendall(
                b"POST /sta/v1.1/CreateObservations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Authorization: Bearer " + token.encode() + b"\r\nTransfer-Encoding: chunked\r\n\r\n"
            )
            chunk = b"[" + b" " * 16_000
            answer = b""
            sock.settimeout(0.05)
            while sent < 50_000_000:
                try:
                    sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    sent += len(chunk)
                except (BrokenPipeError, ConnectionResetError):
                    break
                try:
                    answer += sock.recv(65536)
                except TimeoutError:
                    continue
                if b"\r\n\r\n" in answer:
                    break
            sock.settimeout(5)
            while b"}" not in answer:
                more = sock.recv(65536)
                if not more:
                    break
                answer += more
    finally:
        live.close()
        platform.store.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413"), answer[:300]
    assert b"SAFECITY_MAX_BODY_BYTES" in body
    assert sent < 5_000_000, sent  # refused long before the 50 MB the client was willing to send


def test_anonymous_clients_are_rate_limited_operators_are_not(
    client: TestClient, edge_clock: EdgeClock
) -> None:
    headers = _token(client)  # the login itself is one of the anonymous budget's 5
    for _ in range(20):
        assert client.get("/situation", headers=headers).status_code == 200
    for _ in range(4):
        assert client.get("/health").status_code == 200
    r = client.get("/health")
    assert r.status_code == 429
    assert int(r.headers["retry-after"]) >= 1
    err = r.json()
    assert err["code"] == "too_many_requests" and "SAFECITY_RATE_LIMIT_PER_S" in err["message"]
    assert "다시 시도" in err["message_ko"] and err["request_id"]
    # operators keep working while the anonymous budget is spent
    assert client.get("/situation", headers=headers).status_code == 200
    edge_clock.advance(0.5)  # half a token: still refused
    assert client.get("/health").status_code == 429
    edge_clock.advance(0.6)  # one token a second
    assert client.get("/health").status_code == 200
    assert client.get("/health").status_code == 429


def test_made_up_credentials_do_not_escape_the_rate_limit(client: TestClient) -> None:
    for _ in range(6):
        r = client.get("/health", headers={"Authorization": "Bearer made-up"})
        assert r.status_code == 401
    # the failed attempts were charged: no anonymous budget left
    assert client.get("/health").status_code == 429


def test_open_event_streams_per_client_are_capped(sqlite_settings: Settings) -> None:
    app, platform = _app(sqlite_settings, sse_max_per_client=2)
    live = Live(app, sqlite_settings.port)
    try:
        with httpx.Client(base_url=live.url, timeout=10) as c:
            with c.stream("GET", "/alerts/stream") as one, c.stream("GET", "/alerts/stream") as two:
                assert one.status_code == two.status_code == 200
                three = c.get("/alerts/stream")
                assert three.status_code == 429 and three.json()["code"] == "too_many_streams"
                assert "SAFECITY_SSE_MAX_PER_CLIENT" in three.json()["message"]
            # closed streams free their places
            deadline = time.monotonic() + 10
            while True:
                with c.stream("GET", "/alerts/stream") as again:
                    if again.status_code == 200:
                        break
                assert time.monotonic() < deadline, "closed streams were never released"
                time.sleep(0.1)
    finally:
        live.close()
        platform.store.close()


def test_slow_handlers_get_503_imports_and_started_streams_are_not_cut(sqlite_settings: Settings) -> None:
    app, platform = _app(sqlite_settings, request_timeout_s=0.5, import_timeout_s=5.0)

    # the test's own routes: a handler that hangs, an import that is slow but within its budget, and a
    # stream that starts at once and runs past the short budget
    @app.get("/test/slow", dependencies=[allow(Role.public)])
    def slow() -> dict[str, str]:
        time.sleep(2.0)
        return {"late": "yes"}

    @app.post("/test/import", dependencies=[allow(Role.public)])
    async def slow_import() -> dict[str, str]:
        await asyncio.sleep(1.0)
        return {"imported": "yes"}

    @app.get("/test/export", dependencies=[allow(Role.public)])
    async def export() -> StreamingResponse:
        async def rows() -> Any:
            for i in range(4):
                await asyncio.sleep(0.3)
                yield f"row {i}\n"

        return StreamingResponse(rows(), media_type="text/plain")

    with (
        TestClient(app) as client,
        structlog.testing.capture_logs(processors=[structlog.contextvars.merge_contextvars]) as logs,
    ):
        # the handler answers 200 after 2 s; a 503 means the 0.5 s budget cut it (how fast is bench work)
        r = client.get("/test/slow", headers={"X-Request-ID": "slow-req-1"})
        assert r.status_code == 503 and r.headers["retry-after"]
        err = r.json()
        assert err["code"] == "timeout" and "SAFECITY_REQUEST_TIMEOUT_S" in err["message"]
        assert err["request_id"] == "slow-req-1" and "응답" in err["message_ko"]
        # the log line of that request carries its id
        assert any(e.get("request_id") == "slow-req-1" and e["event"] == "request timed out" for e in logs)
        assert client.post("/test/import").json() == {"imported": "yes"}
        r = client.get("/test/export")
        assert r.status_code == 200 and r.text.count("row") == 4
    platform.store.close()
