# SPDX-License-Identifier: Apache-2.0
"""Backup and restore on both stores, taken while the server keeps ingesting.

A platform lives through the start of the heavy-rain evening of the situation test (real HTTP, the real
rule pack): an incident opens, the duty officer approves the drafted alert. A writer thread then keeps
posting CreateObservations over HTTP while ``backup`` runs. The backup is restored into a fresh data
directory (SQLite) or a fresh database (PostgreSQL), a platform is started on it, and every observation
acknowledged before the backup began is there, with the incident, the issued alert, the operator's
login and the road network file.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, select, text

from safecity.app import Platform, build_platform, create_app
from safecity.auth.model import Role
from safecity.core.clock import ManualClock
from safecity.core.errors import Conflict
from safecity.geo.importer import import_layer
from safecity.geo.roads.graph import graph_path
from safecity.geo.roads.osm import read_osm
from safecity.sensing import tables as t
from safecity.settings import Settings
from safecity.store.backup import MANIFEST, BackupError, backup, read_manifest, restore, verify
from tests.conftest import PG_ADMIN_URL, weather_station
from tests.geo.data import MOIS_DISTRICTS
from tests.geo.roads.osm_data import GONGDEOK
from tests.situation.test_heavy_rain import DONGJAK, GAUGES, START

_OBS_ID = re.compile(r"/Observations\((\d+)\)$")


@dataclass
class Writer:
    """Posts batches of observations until stopped; remembers when each batch was acknowledged."""

    url: str
    headers: dict[str, str]
    datastream: int
    batch: int = 50
    acked: list[tuple[float, list[int]]] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        i = 0
        with httpx.Client(base_url=self.url, headers=self.headers, timeout=30) as client:
            while not self.stop.is_set():
                rows = [
                    [(START + timedelta(seconds=i + k)).isoformat(), float((i + k) % 7)]
                    for k in range(self.batch)
                ]
                i += self.batch
                body = [
                    {
                        "Datastream": {"@iot.id": self.datastream},
                        "components": ["phenomenonTime", "result"],
                        "dataArray": rows,
                    }
                ]
                r = client.post("/sta/v1.1/CreateObservations", json=body)
                if r.status_code != 201:
                    self.failures.append(f"{r.status_code} {r.text[:200]}")
                    continue
                ids = []
                for link in r.json():
                    m = _OBS_ID.search(link)
                    if m is None:
                        self.failures.append(f"row not stored: {link}")
                    else:
                        ids.append(int(m.group(1)))
                self.acked.append((time.monotonic(), ids))

    def acked_before(self, instant: float) -> set[int]:
        return {i for at, ids in self.acked if at < instant for i in ids}


class Server:
    def __init__(self, settings: Settings, platform: Platform) -> None:
        app = create_app(settings, platform, start_services=False)
        self.url = f"http://127.0.0.1:{settings.port}"
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=settings.port, log_level="warning", lifespan="off")
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert time.monotonic() < deadline and self.thread.is_alive(), "uvicorn did not start"
            time.sleep(0.02)

    def close(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@dataclass
class City:
    settings: Settings
    platform: Platform
    server: Server
    headers: dict[str, str]
    incident_id: int
    alert: dict[str, Any]
    writer_stream: int


def _deliver(platform: Platform, clock: ManualClock) -> None:
    while platform.bus.pending():
        platform.bus.drain()
    while platform.delivery.run_once(clock.now()):
        pass


@pytest.fixture
def city(settings: Settings) -> Iterator[City]:
    """The storm's first hours through the real API: an incident and an approved (issued) alert."""
    clock = ManualClock(START)
    platform = build_platform(settings, clock)
    import_layer(platform, MOIS_DISTRICTS, "districts")
    read_osm(GONGDEOK).graph.save(graph_path(settings.data_dir))
    platform.auth.create_user("duty-officer", "duty-officer-password", {Role.operator})
    platform.situation.start(ticker=False)
    platform.warnings.start()
    server = Server(settings, platform)
    try:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            r = client.post(
                "/auth/token", data={"username": "duty-officer", "password": "duty-officer-password"}
            )
            headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
            client.headers.update(headers)
            streams = []
            for name, lon, lat, _code, _ in [*GAUGES, ("Writer AWS", 126.99, 37.55, "", 0.0)]:
                r = client.post("/sta/v1.1/Things", json=weather_station(name, lon, lat))
                assert r.status_code == 201, r.text
                tid = r.json()["@iot.id"]
                streams.append(
                    client.get(f"/sta/v1.1/Things({tid})/Datastreams").json()["value"][0]["@iot.id"]
                )
            _deliver(platform, clock)
            issued: list[dict[str, Any]] = []
            for i, value in enumerate(DONGJAK[:15]):  # 17:10 .. 19:30: Dongjak's advisory opens the incident
                when = START + timedelta(minutes=10 * (i + 1))
                clock.set(when)
                body = [
                    {
                        "Datastream": {"@iot.id": ds},
                        "components": ["phenomenonTime", "result"],
                        "dataArray": [[when.isoformat(), value * factor]],
                    }
                    for ds, (*_, factor) in zip(streams, GAUGES, strict=False)
                ]
                assert client.post("/sta/v1.1/CreateObservations", json=body).status_code == 201
                _deliver(platform, clock)
                platform.situation.tick(when)
                _deliver(platform, clock)
                for d in client.get("/alerts", params={"state": "draft"}).json()["alerts"]:
                    r = client.post(f"/alerts/{d['identifier']}/approve")
                    assert r.status_code == 200, r.text
                    issued.append(r.json())
                _deliver(platform, clock)
            incidents = client.get("/incidents", params={"hazard": "heavy_rain"}).json()["incidents"]
            assert len(incidents) == 1 and issued, (incidents, issued)
        yield City(settings, platform, server, headers, int(incidents[0]["id"]), issued[0], streams[-1])
    finally:
        server.close()
        platform.situation.stop()
        platform.bus.stop()
        platform.store.close()


@pytest.fixture
def fresh(settings: Settings, tmp_path: Path) -> Iterator[Settings]:
    """Settings for an empty place to restore into: a new data directory, and on PostgreSQL a new database."""
    data_dir = tmp_path / "restored"
    if settings.is_embedded_store:
        yield settings.model_copy(update={"data_dir": data_dir})
        return
    name = f"safecity_r_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    url = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql+psycopg", "postgresql") + f"/{name}"
    try:
        yield settings.model_copy(update={"data_dir": data_dir, "store_url": url})
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


def test_online_backup_while_ingesting_restores_everything_acknowledged(
    city: City, fresh: Settings, tmp_path: Path
) -> None:
    writer = Writer(city.server.url, city.headers, city.writer_stream)
    thread = threading.Thread(target=writer.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while len(writer.acked) < 5:
        assert time.monotonic() < deadline and not writer.failures, writer.failures
        time.sleep(0.01)
    began = time.monotonic()
    dest = tmp_path / "backup"
    manifest = backup(city.settings, dest)
    ended = time.monotonic()
    # keep writing a little after the backup, then stop
    target = len(writer.acked) + 3
    while len(writer.acked) < target and time.monotonic() < deadline:
        time.sleep(0.01)
    writer.stop.set()
    thread.join(timeout=30)
    assert writer.failures == []
    before = writer.acked_before(began)
    after = {i for at, ids in writer.acked if at > ended for i in ids}
    assert len(before) >= 250 and after, (len(before), len(after))
    during = sum(len(ids) for at, ids in writer.acked if began <= at <= ended)
    print(
        f"backup {ended - began:.3f} s; observations acknowledged before {len(before)}, during {during}, "
        f"after {len(after)}; in the backup {manifest.tables['sta_observations']}"
    )

    files = {f.path for f in manifest.files}
    assert MANIFEST not in files and "data/roads/roads.npz" in files
    assert ("safecity.db" if city.settings.is_embedded_store else "safecity.pgdump") in files
    assert manifest.tables["situation_incidents"] == 1 and manifest.schema_revision
    assert read_manifest(dest).tables == manifest.tables

    restore(fresh, dest)
    restored = build_platform(fresh)
    try:
        with restored.store.engine.connect() as conn:
            ids = set(conn.execute(select(t.observations.c.id)).scalars())
            writer_rows = dict(
                conn.execute(
                    select(t.observations.c.id, t.observations.c.result_number).where(
                        t.observations.c.datastream_id == city.writer_stream
                    )
                ).all()
            )
        # every acknowledged observation from before the backup began, with its value
        assert before <= ids, f"{len(before - ids)} acknowledged observations missing"
        assert len(ids) == manifest.tables["sta_observations"]
        assert all(writer_rows[i] is not None for i in before)
        # the backup is one instant: what the writer acknowledged after it ended is not there
        assert not (after & ids)
        assert (fresh.data_dir / "roads" / "roads.npz").read_bytes() == graph_path(
            city.settings.data_dir
        ).read_bytes()
        app = create_app(fresh, restored, start_services=False)
        with TestClient(app) as client:
            r = client.post(
                "/auth/token", data={"username": "duty-officer", "password": "duty-officer-password"}
            )
            assert r.status_code == 200, r.text  # the operator's account came back with the data
            headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
            incident = client.get(f"/incidents/{city.incident_id}", headers=headers)
            assert incident.status_code == 200 and incident.json()["hazard"] == "heavy_rain"
            alert = client.get(f"/alerts/{city.alert['identifier']}", headers=headers)
            assert alert.status_code == 200, alert.text
            assert alert.json()["state"] == "issued" and alert.json()["msgType"] == "Alert"
    finally:
        restored.bus.stop()
        restored.store.close()


def test_restore_refuses_a_damaged_backup_and_an_occupied_data_dir(
    settings: Settings, fresh: Settings, tmp_path: Path
) -> None:
    platform = build_platform(settings)
    platform.auth.create_user("chief", "chief-password-long", {Role.admin})
    read_osm(GONGDEOK).graph.save(graph_path(settings.data_dir))
    platform.store.close()
    dest = tmp_path / "backup"
    backup(settings, dest)
    with pytest.raises(BackupError, match="not an empty folder"):
        backup(settings, dest)  # never over an earlier backup

    # one flipped byte in the road network: refused, and nothing is written
    graph = dest / "data" / "roads" / "roads.npz"
    original = graph.read_bytes()
    graph.write_bytes(original[:100] + bytes([original[100] ^ 0xFF]) + original[101:])
    with pytest.raises(BackupError, match=r"data/roads/roads\.npz: checksum does not match"):
        restore(fresh, dest)
    assert not fresh.data_dir.exists() or not any(fresh.data_dir.iterdir())
    graph.write_bytes(original)
    verify(dest)

    # a data directory (or database) already in use is not overwritten without --force
    restore(fresh, dest)
    with pytest.raises(Conflict, match="not empty"):
        restore(fresh, dest)
    restore(fresh, dest, force=True)
    again = build_platform(fresh)
    try:
        assert again.auth.authenticate_user("chief", "chief-password-long").name == "chief"
    finally:
        again.store.close()


def _cli(args: list[str], s: Settings) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SAFECITY_DATA_DIR": str(s.data_dir)}
    env.pop("SAFECITY_STORE_URL", None)
    if s.store_url:
        env["SAFECITY_STORE_URL"] = s.store_url
    return subprocess.run(
        [sys.executable, "-m", "safecity", *args], capture_output=True, text=True, env=env, timeout=300
    )


def test_backup_and_restore_commands(settings: Settings, fresh: Settings, tmp_path: Path) -> None:
    platform = build_platform(settings)
    platform.auth.create_user("chief", "chief-password-long", {Role.admin})
    platform.store.close()
    dest = tmp_path / "nightly"
    r = _cli(["backup", str(dest), "--json"], settings)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["tables"]["auth_users"] == 1
    assert "backup of" in r.stderr and str(dest) in r.stderr
    r = _cli(["restore", str(dest), "--verify"], fresh)
    assert r.returncode == 0 and "verified" in r.stderr, r.stderr
    r = _cli(["restore", str(dest)], fresh)
    assert r.returncode == 0, r.stderr
    r = _cli(["restore", str(dest)], fresh)
    assert r.returncode == 1 and r.stderr.splitlines()[-1].startswith("error: ") and "--force" in r.stderr
    (dest / MANIFEST).write_text("{}")
    r = _cli(["restore", str(dest), "--force"], fresh)
    assert r.returncode == 1 and "manifest" in r.stderr, r.stderr


def test_backups_kept_in_the_data_dir_are_not_backed_up_again(settings: Settings) -> None:
    build_platform(settings).store.close()
    (settings.data_dir / "dem").mkdir()
    (settings.data_dir / "dem" / "dem.json").write_text('{"crs": "EPSG:5186"}')
    first = backup(settings, settings.data_dir / "backups" / "one")
    second = backup(settings, settings.data_dir / "backups" / "two")
    # the Web Push key is kept too: subscribed browsers need the same key after a restore
    kept = ["data/dem/dem.json", "data/webpush-vapid.pem"]
    assert sorted(f.path for f in first.files if f.path.startswith("data/")) == kept
    assert sorted(f.path for f in second.files if f.path.startswith("data/")) == kept
