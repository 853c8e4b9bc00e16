# SPDX-License-Identifier: Apache-2.0
"""The documented 16 KiB request-head limit holds in the server ``safecity serve`` runs (issue 13):
8 MB headers were accepted, because uvicorn served with httptools, which ignores h11's limit."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from safecity.app import create_app
from safecity.hygiene.head_limit import head_limited, server_options
from safecity.settings import MqttSettings, Settings
from tests.conftest import free_port


@pytest.fixture
def served(tmp_path: Path) -> Iterator[int]:
    settings = Settings(
        data_dir=tmp_path, mqtt=MqttSettings(enabled=False, port=free_port()), port=free_port()
    )
    app = create_app(settings, start_services=False)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=settings.port, **server_options(settings))
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
        time.sleep(0.05)
    try:
        yield settings.port
    finally:
        server.should_exit = True
        thread.join(10)
        app.state.platform.store.close()


def _ask(port: int, head: bytes, chunk: int = 0) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        if chunk:
            for i in range(0, len(head), chunk):  # a slow client, a piece at a time
                try:
                    s.sendall(head[i : i + chunk])
                except OSError:
                    break  # the server closed the connection
        else:
            with contextlib.suppress(OSError):
                s.sendall(head)
        answer = b""
        while True:
            try:
                part = s.recv(65536)
            except OSError:
                break
            if not part:
                break
            answer += part
            if b"\r\n\r\n" in answer:
                break
        return answer


def _head(header_bytes: int) -> bytes:
    return (
        b"GET /health HTTP/1.1\r\nHost: x\r\nX-Filler: "
        + b"a" * header_bytes
        + b"\r\nConnection: close\r\n\r\n"
    )


def test_a_head_over_the_limit_is_refused_with_431(served: int) -> None:
    assert _ask(served, _head(8 * 1024)).startswith(b"HTTP/1.1 200")
    assert _ask(served, _head(20 * 1024)).startswith(b"HTTP/1.1 431")
    many = b"GET /health HTTP/1.1\r\nHost: x\r\n" + b"X-A: b\r\n" * 3000 + b"\r\n"
    assert _ask(served, many).startswith(b"HTTP/1.1 431")


def test_a_slow_huge_head_is_cut_off_at_the_limit(served: int) -> None:
    answer = _ask(served, _head(8 * 1024 * 1024), chunk=64 * 1024)
    assert answer.startswith(b"HTTP/1.1 431")


def test_a_head_trickling_in_is_cut_off_in_time(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path, mqtt=MqttSettings(enabled=False, port=free_port()), port=free_port()
    )
    app = create_app(settings, start_services=False)
    options = {**server_options(settings), "http": head_limited(settings.http_max_header_bytes, 0.3)}
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=settings.port, **options))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
            time.sleep(0.05)
        with socket.create_connection(("127.0.0.1", settings.port), timeout=10) as s:
            s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: a")  # and then nothing more
            answer = s.recv(65536)  # the server answers once the head's time is up
        assert answer.startswith(b"HTTP/1.1 408")
        # a whole head in time is answered as usual on the same server
        assert _ask(settings.port, _head(100)).startswith(b"HTTP/1.1 200")
    finally:
        server.should_exit = True
        thread.join(10)
        app.state.platform.store.close()


def test_a_body_trickling_in_is_cut_off_and_a_whole_one_is_served(tmp_path: Path) -> None:
    """A client that sends its head and then a body byte by byte held a connection without end (the
    outside review's slow-body gap): the body must keep a minimum rate after its first seconds."""
    settings = Settings(
        data_dir=tmp_path, mqtt=MqttSettings(enabled=False, port=free_port()), port=free_port()
    )
    app = create_app(settings, start_services=False)
    options = {**server_options(settings), "http": head_limited(settings.http_max_header_bytes, 5, 0.3)}
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=settings.port, **options))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
            time.sleep(0.05)
        head = (
            b"POST /auth/token HTTP/1.1\r\nHost: x\r\n"  # a public route that reads its body
            b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\n"
        )
        with socket.create_connection(("127.0.0.1", settings.port), timeout=10) as s:
            s.sendall(head + b"username=a")  # and then nothing more
            answer = s.recv(65536)
        assert answer.startswith(b"HTTP/1.1 408") and b"request body too slow" in answer
        # a whole body in time gets the route's own answer (401: no such user), not a 408
        body = b"username=nobody&password=wrong"
        with socket.create_connection(("127.0.0.1", settings.port), timeout=10) as s:
            s.sendall(head.replace(b"1000", str(len(body)).encode()) + body)
            answer = s.recv(65536)
        assert answer.startswith(b"HTTP/1.1 401"), answer[:80]
    finally:
        server.should_exit = True
        thread.join(10)
        app.state.platform.store.close()
