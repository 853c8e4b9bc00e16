# SPDX-License-Identifier: Apache-2.0
"""Clients that stream observations to a server that may die under them, and keep a ledger.

An observation is *acknowledged* when the server said it has it: a 2xx answer to the
``CreateObservations`` request that carried it (HTTP), or the PUBACK of its QoS 1 publish (MQTT). A
client whose server went away waits until the test says the server is back (``up``), then sends again
everything not acknowledged, as a device or gateway would.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
import orjson
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

#: One observation: (datastream id, phenomenon time, result).
Obs = tuple[int, datetime, float]


@dataclass
class Ledger:
    """What was sent and acknowledged; shared by every client of one run."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    acked: set[tuple[int, datetime]] = field(default_factory=set)
    #: HTTP batches (index -> its observations) and which were acknowledged
    batches: dict[int, list[Obs]] = field(default_factory=dict)
    acked_batches: set[int] = field(default_factory=set)
    http_requests: int = 0
    http_errors: int = 0
    mqtt_publishes: int = 0
    failures: list[str] = field(default_factory=list)

    def ack(self, items: list[Obs]) -> None:
        with self.lock:
            self.acked.update((ds, t) for ds, t, _ in items)

    def count(self) -> int:
        with self.lock:
            return len(self.acked)


class HttpGateway(threading.Thread):
    """Posts its batches in order as ``CreateObservations``; on a failure waits for ``up`` and retries."""

    def __init__(
        self, url: str, headers: dict[str, str], batches: list[int], ledger: Ledger, up: threading.Event
    ) -> None:
        super().__init__(name="http-gateway", daemon=True)
        self.url = url
        self.headers = headers
        self.batch_ids = batches
        self.ledger = ledger
        self.up = up

    def run(self) -> None:
        client = httpx.Client(base_url=self.url, headers=self.headers, timeout=60)
        try:
            for b in self.batch_ids:
                rows = self.ledger.batches[b]
                body = _data_array(rows)
                while True:
                    self.up.wait()
                    try:
                        r = client.post("/sta/v1.1/CreateObservations", content=body)
                    except httpx.HTTPError:
                        with self.ledger.lock:
                            self.ledger.http_errors += 1
                        client.close()
                        client = httpx.Client(base_url=self.url, headers=self.headers, timeout=60)
                        time.sleep(0.05)
                        continue
                    finally:
                        with self.ledger.lock:
                            self.ledger.http_requests += 1
                    if r.status_code == 201:
                        answers = r.json()
                        bad = [a for a in answers if a == "error"]
                        if bad:
                            self.ledger.failures.append(f"batch {b}: {len(bad)} rows refused: {r.headers}")
                        self.ledger.ack(rows)
                        with self.ledger.lock:
                            self.ledger.acked_batches.add(b)
                        break
                    if r.status_code >= 500:
                        time.sleep(0.1)
                        continue
                    self.ledger.failures.append(f"batch {b}: HTTP {r.status_code} {r.text[:300]}")
                    return
        finally:
            client.close()


def _data_array(rows: list[Obs]) -> bytes:
    groups: dict[int, list[list[Any]]] = {}
    for ds, t, v in rows:
        groups.setdefault(ds, []).append([t.isoformat(), v])
    return orjson.dumps(
        [
            {"Datastream": {"@iot.id": ds}, "components": ["phenomenonTime", "result"], "dataArray": arr}
            for ds, arr in groups.items()
        ]
    )


class MqttDevice(threading.Thread):
    """One device publishing its observations with QoS 1 under its own API key.

    Acknowledged = PUBACK received. When the connection drops it stops, waits for ``up`` and reconnects
    with a new session, publishing again everything without a PUBACK.
    """

    def __init__(
        self,
        port: int,
        key: str,
        client_id: str,
        items: list[Obs],
        ledger: Ledger,
        up: threading.Event,
        rate: float = 100.0,
    ) -> None:
        super().__init__(name=f"mqtt-{client_id}", daemon=True)
        self.port = port
        self.key = key
        self.client_id = client_id
        self.items = items
        self.ledger = ledger
        self.up = up
        self.acked: set[int] = set()  # indexes into items
        self.rate = rate  # publishes per second: a sensor reports at its pace, not all at once
        self.rounds = 0

    def run(self) -> None:
        while len(self.acked) < len(self.items):
            self.up.wait()
            self.rounds += 1
            try:
                self._round()
            except (OSError, ConnectionError):
                time.sleep(0.1)

    def _round(self) -> None:
        lock = threading.Condition()
        mids: dict[int, int] = {}
        gone = threading.Event()
        connected = threading.Event()

        early: set[int] = set()  # PUBACKs that came before publish() returned their mid

        def settle(i: int) -> None:
            self.acked.add(i)
            ds, t, _ = self.items[i]
            with self.ledger.lock:
                self.ledger.acked.add((ds, t))

        def on_publish(c: Any, u: Any, mid: int, rc: Any, props: Any) -> None:
            # paho calls this holding its own message lock, so publish() must not be called under ours
            with lock:
                i = mids.pop(mid, None)
                if i is None:
                    early.add(mid)
                else:
                    settle(i)
                lock.notify_all()

        def on_connect(c: Any, u: Any, flags: Any, rc: Any, props: Any) -> None:
            if not rc.is_failure:
                connected.set()

        def on_disconnect(c: Any, u: Any, flags: Any, rc: Any, props: Any) -> None:
            gone.set()
            with lock:
                lock.notify_all()

        client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"{self.client_id}-{self.rounds}", clean_session=True
        )
        client.username_pw_set("device", self.key)
        client.max_inflight_messages_set(200)
        client.on_publish = on_publish
        client.on_connect = on_connect
        client.on_disconnect = on_disconnect
        client.connect("127.0.0.1", self.port, keepalive=30)
        client.loop_start()
        try:
            # paho queues publishes made before CONNACK but then loses count of what is in flight
            if not connected.wait(10):
                return
            todo = [i for i in range(len(self.items)) if i not in self.acked]
            next_at = time.monotonic()
            for i in todo:
                if gone.is_set():
                    break
                next_at += 1 / self.rate
                delay = next_at - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                ds, t, v = self.items[i]
                payload = orjson.dumps({"phenomenonTime": t.isoformat(), "result": v})
                info = client.publish(f"v1.1/Datastreams({ds})/Observations", payload, qos=1)
                with lock:
                    if info.mid in early:
                        early.discard(info.mid)
                        settle(i)
                    else:
                        mids[info.mid] = i
                with self.ledger.lock:
                    self.ledger.mqtt_publishes += 1
            with lock:
                lock.wait_for(lambda: not mids or gone.is_set(), timeout=120)
        finally:
            client.loop_stop()
            client.disconnect()
