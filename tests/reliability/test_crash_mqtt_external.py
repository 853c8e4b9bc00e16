# SPDX-License-Identifier: Apache-2.0
"""Through an external Mosquitto, nothing the broker acknowledged to a device is lost (issue 15).

The test starts its own Mosquitto on a free port with a per-client queue of only 10 messages (its default
is 1000; beyond it Mosquitto drops QoS 1 messages it has already acknowledged to their publisher: the
benchmark lost 5,373 of 10,000 that way). A device publishes a burst of single observations at QoS 1,
faster than the server stores them; once part is stored, the test holds a lock that stops the server's
commits, waits until the broker has acknowledged every publish, kills the server with SIGKILL and starts it
again on the same data. Then every observation Mosquitto acknowledged is stored exactly
once with the value sent, because the server

* announces the largest Receive Maximum, so the burst waits in the broker's in-flight window for it
  (never dropped) rather than in the 10-message queue;
* acknowledges a message to the broker only after its observation is committed, on a persistent session
  (a stable client id, clean start off): what was in flight when it died is sent again on reconnect;
* stores a repeat (the same Datastream and phenomenonTime) once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy.engine import Connection

from tests.reliability.harness import Server, start_mosquitto, thing

pytestmark = [pytest.mark.reliability, pytest.mark.mosquitto]

GAUGES = 20
TOTAL = 6000
BASE = datetime(2025, 3, 1, tzinfo=UTC)


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[int]:
    """A Mosquitto of this test's own, on a free port, with a 10-message queue per client."""
    proc, port = start_mosquitto(tmp_path, max_queued=10)
    try:
        yield port
    finally:
        proc.terminate()
        proc.wait(10)


@contextmanager
def hold_writes(conn: Connection) -> Iterator[None]:
    """Keep every other writer from committing observations until the block ends (then roll back)."""
    if conn.dialect.name == "sqlite":
        conn = conn.execution_options(sqlite_immediate=True)  # BEGIN IMMEDIATE: the write lock
    with conn.begin() as tx:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("LOCK TABLE sta_observations IN SHARE ROW EXCLUSIVE MODE")
        yield
        tx.rollback()


def value(k: int) -> float:
    return round(k * 0.001, 3)


def test_sigkill_while_storing_a_burst_loses_nothing(mosquitto: int, new_store: Any, tmp_path: Path) -> None:
    server = Server(
        tmp_path / "server",
        new_store(),
        SAFECITY_MQTT__URL=f"mqtt://127.0.0.1:{mosquitto}",
    )
    gauges = [
        thing(f"gauge {i}", "rainfall_1min", ("millimetre", "mm"), 126.91 + i * 0.001, 37.49)
        for i in range(GAUGES)
    ]
    streams = server.init(gauges)["streams"]
    server.start()
    device = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="burst-device")
    device.max_inflight_messages_set(1000)
    device.max_queued_messages_set(0)
    acked: set[int] = set()
    lock = threading.Lock()

    def on_publish(client: mqtt.Client, userdata: object, mid: int, reason: object, props: object) -> None:
        with lock:
            acked.add(mid)

    device.on_publish = on_publish
    device.connect("127.0.0.1", mosquitto)
    device.loop_start()
    try:
        # The server is subscribed once a first observation comes through.
        first = device.publish(
            f"v1.1/Datastreams({streams[0]})/Observations",
            orjson.dumps({"phenomenonTime": (BASE - timedelta(days=1)).isoformat(), "result": -1.0}),
            qos=1,
        )
        first.wait_for_publish(30)
        deadline = time.monotonic() + 60
        while server.count() < 1:
            assert time.monotonic() < deadline, f"the server never stored the first message:\n{server.tail()}"
            time.sleep(0.1)
        sent = {}
        for k in range(TOTAL):
            ds = streams[k % GAUGES]
            when = BASE + timedelta(minutes=k // GAUGES)
            info = device.publish(
                f"v1.1/Datastreams({ds})/Observations",
                orjson.dumps({"phenomenonTime": when.isoformat(), "result": value(k)}),
                qos=1,
            )
            sent[info.mid] = (ds, when, value(k))
        # Let the server store part of the burst, then stop its commits (a lock held on the observations),
        # so that however fast this machine is, the rest is in flight to it, unacknowledged, at the kill.
        deadline = time.monotonic() + 120
        while server.count() - 1 < TOTAL // 10:
            assert time.monotonic() < deadline, f"the burst is not being stored:\n{server.tail()}"
            time.sleep(0.02)
        with server.store() as conn, hold_writes(conn):
            stored_at_kill = server.count() - 1
            # Every publish is at the broker (acknowledged to the device) before the kill: while the
            # server is away, the broker queues only 10 more for its session (the broker's limit).
            deadline = time.monotonic() + 60
            while len(acked) < TOTAL + 1:
                assert time.monotonic() < deadline, f"Mosquitto acknowledged only {len(acked)} publishes"
                time.sleep(0.05)
            server.kill()
        assert stored_at_kill < TOTAL
        server.start()
        deadline = time.monotonic() + 180
        while server.count() < TOTAL + 1 and time.monotonic() < deadline:
            time.sleep(0.2)
        stored = server.stored()
        lost = [(ds, when) for ds, when, _ in sent.values() if (ds, when) not in stored]
        duplicated = [key for key, values in stored.items() if len(values) > 1]
        wrong = [(ds, when) for ds, when, v in sent.values() if stored.get((ds, when), [v]) != [v]]
        print(
            f"sent {TOTAL + 1}, acknowledged by Mosquitto {len(acked)}, stored at the kill {stored_at_kill + 1}, "
            f"stored {len(stored)}, lost {len(lost)}, duplicated {len(duplicated)}"
        )
        assert not lost, f"{len(lost)} acknowledged observations lost, e.g. {lost[:3]}:\n{server.tail()}"
        assert not duplicated and not wrong
        assert len(stored) == TOTAL + 1
    finally:
        device.disconnect()
        device.loop_stop()
        server.stop()
