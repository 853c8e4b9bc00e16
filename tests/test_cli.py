# SPDX-License-Identifier: Apache-2.0
"""The `safecity` command as scripts use it: exit codes, stdout for data, stderr for messages."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SAFECITY = [sys.executable, "-m", "safecity"]


def run(
    args: list[str], tmp_path: Path, stdin: str | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "SAFECITY_DATA_DIR": str(tmp_path), **env}
    full_env.pop("SAFECITY_STORE_URL", None)
    return subprocess.run(
        [*SAFECITY, *args], input=stdin, capture_output=True, text=True, env=full_env, timeout=120
    )


def test_admin_apikey_and_import(tmp_path: Path) -> None:
    r = run(["admin", "create", "chief"], tmp_path, stdin="a-long-password\n")
    assert r.returncode == 0, r.stderr
    r = run(["admin", "create", "chief"], tmp_path, stdin="a-long-password\n")
    assert r.returncode == 1 and "already exists" in r.stderr
    r = run(["admin", "create", "deputy"], tmp_path, SAFECITY_ADMIN_PASSWORD="short")
    assert r.returncode == 1 and "8 characters" in r.stderr
    r = run(["apikey", "create", "--thing", "1"], tmp_path)
    assert r.returncode == 1 and "Thing 1 does not exist" in r.stderr
    r = run(["apikey", "create", "--thing", "x"], tmp_path)
    assert r.returncode == 2
    missing = run(["import", "observations", str(tmp_path / "nope.csv")], tmp_path)
    assert missing.returncode == 2
    bad = tmp_path / "bad.csv"
    bad.write_text("when,what\n1,2\n")
    r = run(["import", "observations", str(bad)], tmp_path)
    assert r.returncode == 1 and "missing column" in r.stderr


def test_bad_setting_is_named(tmp_path: Path) -> None:
    r = run(["migrate"], tmp_path, SAFECITY_MODE="production")
    assert r.returncode == 2 and "SAFECITY_JWT_SECRET" in r.stderr


def test_serve_starts_every_capability_on_the_ports_it_is_given(tmp_path: Path) -> None:
    import signal
    import socket
    import time

    import httpx

    from tests.conftest import free_port

    port, mqtt_port = free_port(), free_port()
    env = {**os.environ, "SAFECITY_DATA_DIR": str(tmp_path), "SAFECITY_MQTT__PORT": str(mqtt_port)}
    env.pop("SAFECITY_STORE_URL", None)
    proc = subprocess.Popen(
        [*SAFECITY, "serve", "--port", str(port)], env=env, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=2)
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
                assert time.monotonic() < deadline, "safecity serve did not answer in 60 s"
                time.sleep(0.2)
        assert health.json()["status"] == "ok"
        root = httpx.get(f"http://127.0.0.1:{port}/sta/v1.1").json()
        mqtt = root["serverSettings"][
            "http://www.opengis.net/spec/iot_sensing/1.1/req/create-observations-via-mqtt/observations-creation"
        ]
        assert mqtt["endpoints"] == [f"mqtt://127.0.0.1:{mqtt_port}"]
        with socket.create_connection(("127.0.0.1", mqtt_port), timeout=5):
            pass  # the embedded broker listens where the settings say
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(30)
        err = proc.stderr.read() if proc.stderr else ""
        if proc.stderr:
            proc.stderr.close()
    # uvicorn shuts down gracefully, then re-raises the signal so the exit status reports it.
    assert code in (0, -signal.SIGTERM), err
    assert "Traceback" not in err, err
