# SPDX-License-Identifier: Apache-2.0
"""Logging never stalls the server and stays bounded (issue 13).

With console logging to a stderr nobody reads fast enough, a request that logged a lot (a 500's
traceback, a batch of rejected rows) once blocked every HTTP request and MQTT message while it was written.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest
import structlog

from safecity.core.logging import (
    MAX_TRACEBACK_CHARS,
    MAX_VALUE_CHARS,
    configure_logging,
    flush_logs,
    get_logger,
    log_budget,
)
from tests.conftest import free_port, weather_station

SAFECITY = [sys.executable, "-m", "safecity"]


@pytest.fixture
def stderr_lines(capsys: pytest.CaptureFixture[str]) -> Iterator[pytest.CaptureFixture[str]]:
    """Background JSON logging to the captured stderr; the defaults restored afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    configure_logging("INFO", json=True, background=True)
    try:
        yield capsys
    finally:
        flush_logs()
        structlog.reset_defaults()
        root.handlers, root.level = handlers, level


def _lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, object]]:
    flush_logs()
    return [orjson.loads(line) for line in capsys.readouterr().err.splitlines()]


def test_a_json_error_line_keeps_its_traceback_bounded(stderr_lines: pytest.CaptureFixture[str]) -> None:
    log = get_logger("test")

    def recurse(n: int) -> int:
        return recurse(n + 1)

    try:
        recurse(0)
    except RecursionError:
        log.exception("unhandled error", body="x" * 100_000)
    (line,) = _lines(stderr_lines)
    assert line["level"] == "error"
    exception = str(line["exception"])
    assert exception.startswith("Traceback") and "RecursionError" in exception
    assert len(exception) <= MAX_TRACEBACK_CHARS + 100
    assert len(str(line["body"])) < MAX_VALUE_CHARS + 100


def test_one_request_writes_a_bounded_number_of_lines(stderr_lines: pytest.CaptureFixture[str]) -> None:
    log = get_logger("test")
    with log_budget(3):
        for i in range(50):
            log.warning("row rejected", row=i)
    log.info("after the request")
    lines = _lines(stderr_lines)
    assert [line.get("row") for line in lines[:3]] == [0, 1, 2]
    assert lines[3]["event"] == "further log lines of this request are suppressed"
    assert [line["event"] for line in lines[4:]] == ["after the request"]


def test_library_log_lines_share_the_writer(stderr_lines: pytest.CaptureFixture[str]) -> None:
    logging.getLogger("amqtt.broker").warning("client %s refused", "c1")
    (line,) = _lines(stderr_lines)
    assert line == {**line, "logger": "amqtt.broker", "event": "client c1 refused", "level": "warning"}


def test_a_stderr_nobody_reads_does_not_stall_the_server(tmp_path: Path) -> None:
    """``safecity serve`` with console logging into a pipe that is never read: once the pipe is full,
    writing blocks. Requests that log (rejected rows) keep coming; /health must still answer at once."""
    port, mqtt_port = free_port(), free_port()
    env = {
        **os.environ,
        "SAFECITY_DATA_DIR": str(tmp_path),
        "SAFECITY_PORT": str(port),
        "SAFECITY_MQTT__PORT": str(mqtt_port),
        "SAFECITY_ADMIN_PASSWORD": "a-long-password",
    }
    env.pop("SAFECITY_STORE_URL", None)
    made = subprocess.run([*SAFECITY, "admin", "create", "chief"], env=env, capture_output=True, timeout=120)
    assert made.returncode == 0, made.stderr
    proc = subprocess.Popen([*SAFECITY, "serve"], env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                httpx.get(f"{base}/health", timeout=2)
                break
            except httpx.TransportError:
                assert proc.poll() is None and time.monotonic() < deadline, "safecity serve did not start"
                time.sleep(0.2)
        with httpx.Client(base_url=base, timeout=10) as client:
            token = client.post(
                "/auth/token", data={"username": "chief", "password": "a-long-password"}
            ).json()["access_token"]
            auth = {"Authorization": f"Bearer {token}"}
            r = client.post("/sta/v1.1/Things", json=weather_station(), headers=auth)
            assert r.status_code == 201, r.text
            ds = client.get("/sta/v1.1/Datastreams", headers=auth).json()["value"][0]["@iot.id"]
            # each request logs a warning quoting five rejected rows: ~2 KB, 300 KB in all, far more
            # than a pipe holds (64 KB)
            bad_rows = [[f"not a time {'x' * 400} {i}", 1.0] for i in range(5)]
            body = [
                {
                    "Datastream": {"@iot.id": ds},
                    "components": ["phenomenonTime", "result"],
                    "dataArray": bad_rows,
                }
            ]
            for _ in range(150):
                assert client.post("/sta/v1.1/CreateObservations", json=body, headers=auth).status_code == 201
        started = time.monotonic()
        assert httpx.get(f"{base}/health", timeout=10).status_code == 200
        assert time.monotonic() - started < 5.0
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
        if proc.stderr:
            proc.stderr.close()
