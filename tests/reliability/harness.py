# SPDX-License-Identifier: Apache-2.0
"""A real ``safecity serve`` process that a test can SIGKILL and start again on the same data.

Shared by the crash tests: the server (own data dir, free HTTP and MQTT ports, a store of its own), the
one-off set-up steps (admin, districts, device keys; run as separate processes like an operator would),
and direct reads of the store to count what was really written.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import func, select

from safecity.sensing.tables import observations
from safecity.settings import Settings
from safecity.store import open_store
from safecity.warning.delivery_tables import deliveries
from tests.conftest import free_port, service_missing

OM = "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement"
ADMIN = ("reliability-admin", "reliability-password-1")
SETUP = Path(__file__).with_name("_setup.py")
#: Two districts as rectangles (real MOIS codes, approximate shapes): enough for district × hazard levels.
DISTRICTS = {
    "type": "FeatureCollection",
    "features": [
        {
            "type": "Feature",
            "properties": {"SIG_CD": code, "SIG_KOR_NM": ko, "SIG_ENG_NM": en},
            "geometry": {
                "type": "Polygon",
                "coordinates": [[[126.90, s], [126.98, s], [126.98, n], [126.90, n], [126.90, s]]],
            },
        }
        for code, ko, en, s, n in (
            ("11590", "동작구", "Dongjak-gu", 37.48, 37.52),
            ("11620", "관악구", "Gwanak-gu", 37.44, 37.48),
        )
    ],
}


class Server:
    """``safecity serve`` as a separate process; ``kill`` is SIGKILL, ``start`` again reuses the data."""

    def __init__(
        self, data_dir: Path, store_url: str | None, command: Sequence[str] = ("serve",), **env: str
    ) -> None:
        """``command``: the arguments after ``safecity`` (``worker --role ingest`` for one role)."""
        self.command = list(command)
        self.data_dir = data_dir
        self.store_url = store_url
        self.port = free_port()
        self.mqtt_port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("SAFECITY_")},
            "SAFECITY_DATA_DIR": str(data_dir),
            "SAFECITY_PORT": str(self.port),
            "SAFECITY_MQTT__PORT": str(self.mqtt_port),
            # SAFECITY_FAULT_LOG_LEVEL=INFO: the servers' logs say when each role was taken and started
            "SAFECITY_LOG_LEVEL": os.environ.get("SAFECITY_FAULT_LOG_LEVEL", "WARNING"),
            # the alert receivers of the crash tests run on this machine (an allowed internal network)
            "SAFECITY_WEBHOOK_ALLOW_NETWORKS": '["127.0.0.0/8"]',
            **env,
        }
        if store_url:
            self.env["SAFECITY_STORE_URL"] = store_url
        self.log = data_dir.parent / f"{data_dir.name}-server.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def init(self, things: Sequence[dict[str, Any]] = (), keys: int = 0) -> dict[str, list[Any]]:
        """Admin, the two districts, ``things`` and device keys for the first ``keys`` of them, in one
        separate process before the server starts; returns the ids and keys (see ``_setup.py``)."""
        root = self.data_dir.parent
        districts = root / f"{self.data_dir.name}-districts.geojson"
        districts.write_text(json.dumps(DISTRICTS, ensure_ascii=False), encoding="utf-8")
        spec = root / f"{self.data_dir.name}-setup.json"
        spec.write_text(
            json.dumps(
                {
                    "user": ADMIN[0],
                    "password": ADMIN[1],
                    "districts": str(districts),
                    "things": list(things),
                    "keys": keys,
                },
                ensure_ascii=False,
            ),
            encoding="utf-8",
        )
        done = subprocess.run(
            [sys.executable, str(SETUP), str(spec)], env=self.env, capture_output=True, text=True, timeout=300
        )
        if done.returncode != 0:
            raise RuntimeError(f"set-up failed: {done.stderr[-3000:]}")
        out: dict[str, list[Any]] = json.loads(done.stdout.strip().splitlines()[-1])
        return out

    def start(self, timeout: float = 60.0) -> None:
        assert self.proc is None or self.proc.poll() is not None
        self.starts += 1
        with self.log.open("ab") as log:
            log.write(f"--- start {self.starts} ---\n".encode())
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "safecity", *self.command], env=self.env, stdout=log, stderr=log
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.tail()}")
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        # not left running: an orphan server would load the machine for every later test
        self.proc.kill()
        self.proc.wait(10)
        raise RuntimeError(f"server did not start within {timeout} s:\n{self.tail()}")

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as in a power cut of the process (not of the machine)."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)

    def tail(self, n: int = 4000) -> str:
        try:
            return self.log.read_text(encoding="utf-8", errors="replace")[-n:]
        except OSError:
            return ""

    def token(self) -> dict[str, str]:
        r = httpx.post(self.url + "/auth/token", data={"username": ADMIN[0], "password": ADMIN[1]})
        r.raise_for_status()
        return {"Authorization": f"Bearer {r.json()['access_token']}"}

    def health(self) -> dict[str, Any]:
        r = httpx.get(self.url + "/health", timeout=10)
        r.raise_for_status()
        body: dict[str, Any] = r.json()
        return body

    def wait_drained(self, timeout: float = 60.0) -> None:
        """Until every committed event reached the rules (the outbox is empty twice in a row)."""
        deadline = time.monotonic() + timeout
        empty = 0
        while time.monotonic() < deadline:
            empty = empty + 1 if self.health()["outboxPending"] == 0 else 0
            if empty >= 2:
                return
            time.sleep(0.2)
        raise AssertionError(f"outbox not drained within {timeout} s")

    @contextmanager
    def store(self) -> Iterator[Any]:
        """A connection to the server's store, read directly (what is really there, not what the API says)."""
        settings = Settings(data_dir=self.data_dir, store_url=self.store_url)
        engine = open_store(settings).engine
        try:
            with engine.connect() as conn:
                yield conn
        finally:
            engine.dispose()

    def stored(self) -> dict[tuple[int, datetime], list[float]]:
        """Every stored observation's (datastream, phenomenon time) and its results (one when unique)."""
        out: dict[tuple[int, datetime], list[float]] = {}
        with self.store() as conn:
            rows = conn.execute(
                select(
                    observations.c.datastream_id, observations.c.phenomenon_time, observations.c.result_number
                )
            )
            for ds, t, v in rows:
                out.setdefault((int(ds), t), []).append(float(v))
        return out

    def count(self) -> int:
        with self.store() as conn:
            return int(conn.execute(select(func.count()).select_from(observations)).scalar_one())


def thing(name: str, prop: str, unit: tuple[str, str], lon: float, lat: float) -> dict[str, Any]:
    """A Thing with its Location and one Datastream (deep insert)."""
    return {
        "name": name,
        "description": "reliability test",
        "Locations": [
            {
                "name": name,
                "description": "",
                "encodingType": "application/geo+json",
                "location": {"type": "Point", "coordinates": [lon, lat]},
            }
        ],
        "Datastreams": [
            {
                "name": f"{name} {prop}",
                "description": "",
                "observationType": OM,
                "unitOfMeasurement": {"name": unit[0], "symbol": unit[1], "definition": f"ucum:{unit[1]}"},
                "Sensor": {"name": "s", "description": "", "encodingType": "text/plain", "metadata": ""},
                "ObservedProperty": {
                    "name": prop,
                    "definition": f"urn:safecity:def:observed-property:{prop}",
                    "description": "",
                },
            }
        ],
    }


def secret(n: int) -> str:
    """The webhook secret of subscriber ``n`` (at least 16 characters, as subscriptions require)."""
    return f"secret-{n}-of-the-reliability-test"


class Receiver:
    """Subscribers' webhook endpoints, ``/hook/<n>`` signed with ``secret(n)``, as a real HTTP server.

    ``failing``: answer 503 (the subscriber's system is down) until set False. ``hold``: take each
    request (record its key) and keep the answer back until :meth:`release`, as a slow system does.
    A key is accepted once; a repeat is answered 200 and counted at the wire, not accepted again.
    """

    def __init__(self, *, failing: bool = True, hold: bool = False) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.failing = failing
        self.lock = threading.Lock()
        self.released = threading.Event()
        if not hold:
            self.released.set()
        self.accepted: dict[str, int] = {}  # Idempotency-Key -> subscriber number
        self.wire: Counter[str] = Counter()  # requests per key, once the receiver takes requests
        self.refused = 0
        self.bad_signature: list[str] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                key = self.headers.get("Idempotency-Key", "")
                n = int(self.path.rsplit("/", 1)[-1])
                expected = "sha256=" + hmac.new(secret(n).encode(), body, hashlib.sha256).hexdigest()
                with receiver.lock:
                    if receiver.failing:
                        receiver.refused += 1
                        self.send_response(503)
                        self.end_headers()
                        return
                    if not hmac.compare_digest(self.headers.get("X-Safecity-Signature", ""), expected):
                        receiver.bad_signature.append(key)
                        self.send_response(401)
                        self.end_headers()
                        return
                    receiver.wire[key] += 1
                    receiver.accepted.setdefault(key, n)
                receiver.released.wait(60)
                try:
                    self.send_response(200)
                    self.end_headers()
                except OSError:  # the sender died while we held the answer back
                    pass

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def release(self) -> None:
        self.released.set()

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
        self.server.shutdown()
        self.server.server_close()


def delivery_rows(server: Server) -> list[tuple[str, int | None, str, str]]:
    """(alert identifier, subscription, status, idempotency key) of every webhook delivery in the store."""
    with server.store() as conn:
        rows = conn.execute(
            select(
                deliveries.c.identifier,
                deliveries.c.subscription_id,
                deliveries.c.status,
                deliveries.c.idempotency_key,
            ).where(deliveries.c.channel == "webhook")
        ).all()
    return [(r[0], r[1], r[2], r[3]) for r in rows]


def wait_for(what: str, predicate: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def start_mosquitto(directory: Path, max_queued: int) -> tuple[subprocess.Popen[bytes], int]:
    """A Mosquitto of the test's own on a free port (config and log in ``directory``), answering once it
    accepts a connection. ``max_queued`` is its queue per client session (0: unlimited); the caller
    terminates the process."""
    binary = shutil.which("mosquitto") or (
        "/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None
    )
    if binary is None:
        service_missing("the mosquitto binary (apt install mosquitto)")
    assert binary is not None
    port = free_port()
    conf = directory / "mosquitto.conf"
    conf.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\nmax_queued_messages {max_queued}\n",
        encoding="utf-8",
    )
    with (directory / "mosquitto.log").open("wb") as log:  # the broker keeps its own descriptor
        proc = subprocess.Popen([binary, "-c", str(conf)], stdout=log, stderr=log)
    deadline = time.monotonic() + 20
    while True:
        probe = mqtt.Client(CallbackAPIVersion.VERSION2)
        try:
            probe.connect("127.0.0.1", port)
            probe.disconnect()
            return proc, port
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                raise RuntimeError("mosquitto did not start") from None
            time.sleep(0.1)
