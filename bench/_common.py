# SPDX-License-Identifier: Apache-2.0
"""Shared set-up for the benchmarks: a platform in a temporary directory, a served app, stations."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

OM = "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def station(i: int) -> dict[str, Any]:
    return {
        "name": f"gauge {i}",
        "description": "",
        "Locations": [
            {
                "name": f"site {i}",
                "description": "",
                "encodingType": "application/geo+json",
                "location": {
                    "type": "Point",
                    "coordinates": [126.8 + (i % 40) * 0.01, 37.45 + (i // 40) * 0.005],
                },
            }
        ],
        "Datastreams": [
            {
                "name": f"gauge {i} level",
                "description": "",
                "observationType": OM,
                "unitOfMeasurement": {"name": "metre", "symbol": "m", "definition": "ucum:m"},
                "Sensor": {"name": "s", "description": "", "encodingType": "text/plain", "metadata": ""},
                "ObservedProperty": {
                    "name": "river_level_gauge",
                    "definition": "urn:safecity:def:observed-property:river_level_gauge",
                    "description": "",
                },
            }
        ],
    }


class Server:
    """``safecity serve`` as a separate process, as in production."""

    def __init__(self, data_dir: Path, **env: str) -> None:
        self.port = free_port()
        self.mqtt_port = free_port()
        self.env = {
            **os.environ,
            "SAFECITY_DATA_DIR": str(data_dir),
            "SAFECITY_PORT": str(self.port),
            "SAFECITY_MQTT__PORT": str(self.mqtt_port),
            "SAFECITY_LOG_LEVEL": "WARNING",
            **env,
        }
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = f"http://127.0.0.1:{self.port}"

    def admin(self, name: str, password: str) -> None:
        subprocess.run(
            [sys.executable, "-m", "safecity", "admin", "create", name],
            input=password.encode(),
            env=self.env,
            check=True,
            capture_output=True,
        )

    def __enter__(self) -> Server:
        log = os.environ.get("BENCH_SERVER_LOG")  # where to keep the server's log when debugging a bench
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "safecity", "serve"],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=open(log, "ab") if log else subprocess.DEVNULL,
        )
        # a loaded machine (several sessions on two cores) can take minutes to start the server
        deadline = time.monotonic() + float(os.environ.get("BENCH_SERVER_START_S", "60"))
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.2)
        raise RuntimeError("server did not start")

    def __exit__(self, *exc: object) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def token(url: str, user: str, password: str) -> dict[str, str]:
    r = httpx.post(url + "/auth/token", data={"username": user, "password": password})
    r.raise_for_status()
    return {"Authorization": f"Bearer {r.json()['access_token']}"}
