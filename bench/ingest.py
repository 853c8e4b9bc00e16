# SPDX-License-Identifier: Apache-2.0
"""Ingest throughput into the embedded store.

(a) CreateObservations over HTTP in batches, (b) MQTT publishes to the embedded broker, each printed with
the ratio to a raw ``executemany`` of the same rows into the same table in the same run (the ceiling
SQLite sets on this machine). Targets (issue 15): (a) >= 100,000 obs/s and >= 40 % of raw; (b) >= 20,000
obs/s.

Measurements start once the server has warmed up (its start-up workers, the earthquake inventory
among them, have run) and after one batch of each kind; the bearer-token and HTTP Basic runs alternate
(``--rounds`` each) on the same server, so that neither pays the other's warm-up or a later, larger
table (the first, token, run used to pay both: the "token twice as slow as Basic" of issue 15). Each
figure comes with the server's CPU time per observation (user + system, all its threads), which the
machine's load changes much less than the wall-clock rate.

    .venv/bin/python bench/ingest.py [--http-obs 300000] [--batch 10000] [--shape all-streams|one-stream]
        [--mqtt-obs 60000] [--mqtt-url mqtt://127.0.0.1:1883]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import orjson
from _common import Server, station, token

from safecity.sensing.observation_writes import OBSERVATION_COLUMNS
from safecity.store.sqlite import SQLITE_TUNING

#: Days after 2024-01-01 where the MQTT runs and the raw baseline write: past every HTTP round's days
#: (ROUND_DAYS per round and mode, up to 10 rounds) and still in the past, so that no run's rows are
#: duplicates of another's (not stored again, nor counted: an MQTT run overlapping the last HTTP round
#: once waited for 498 rows forever) and none is flagged as from the future.
ROUND_DAYS, MQTT_DAY, RAW_DAY = 20, 600, 900


def raw_baseline(db: Path, rows: list[tuple[object, ...]]) -> float:
    """Raw executemany of the same rows into the same (migrated, indexed) table; returns rows/s."""
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    for pragma in SQLITE_TUNING:
        conn.execute(pragma)
    (base,) = conn.execute("SELECT coalesce(max(id), 0) FROM sta_observations").fetchone()
    sql = (
        f"INSERT INTO sta_observations ({', '.join(OBSERVATION_COLUMNS)}) "
        f"VALUES ({', '.join('?' for _ in OBSERVATION_COLUMNS)}) ON CONFLICT DO NOTHING"
    )
    start = time.perf_counter()
    for i in range(0, len(rows), 5000):
        chunk = [(base + i + k + 1, *r[1:]) for k, r in enumerate(rows[i : i + 5000])]
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(sql, chunk)
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - start
    conn.close()
    return len(rows) / elapsed


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--http-obs", type=int, default=300_000, help="observations per authentication mode")
    ap.add_argument("--batch", type=int, default=10_000)
    ap.add_argument("--streams", type=int, default=100)
    ap.add_argument(
        "--shape",
        choices=("all-streams", "one-stream"),
        default="all-streams",
        help="each batch covers every stream (consecutive minutes), or one stream's rows (a gateway of one "
        "sensor catching up)",
    )
    ap.add_argument("--rounds", type=int, default=2, help="alternating rounds per authentication mode")
    ap.add_argument("--mqtt-obs", type=int, default=60_000)
    ap.add_argument("--clients", type=int, default=2)
    ap.add_argument("--gateway-batch", type=int, default=100, help="observations per gateway MQTT message")
    ap.add_argument(
        "--mqtt-url",
        default=None,
        help="an external broker (e.g. mqtt://127.0.0.1:1883, anonymous): the server subscribes to it "
        "(SAFECITY_MQTT__URL) and the publisher publishes there, instead of the embedded broker",
    )
    ap.add_argument(
        "--mqtt-wait", type=float, default=300, help="seconds to wait for the MQTT rows to be stored"
    )
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="safecity-bench-"))
    server = Server(tmp, **({"SAFECITY_MQTT__URL": args.mqtt_url} if args.mqtt_url else {}))
    server.admin("bench", "bench-password")
    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    with server:
        headers = token(server.url, "bench", "bench-password")
        ds_ids = []
        with httpx.Client(base_url=server.url, headers=headers, timeout=120) as c:
            for i in range(args.streams):
                tid = c.post("/sta/v1.1/Things", json=station(i)).json()["@iot.id"]
                ds_ids.append(c.get(f"/sta/v1.1/Things({tid})/Datastreams").json()["value"][0]["@iot.id"])
        wait_warm(server)
        # (a) HTTP CreateObservations, once with a bearer token, once with HTTP Basic (what FROST-style
        # clients send on every request), in alternating rounds, each round on days of its own so that no
        # round's rows are duplicates of another's.
        basic = httpx.BasicAuth("bench", "bench-password")
        modes = {"bearer token": (headers, None), "HTTP Basic": ({}, basic)}
        # one batch of each first: the server's first requests build its caches
        for k, (mode_headers, auth) in enumerate(modes.values()):
            warm, n = http_bodies(
                ds_ids, args.batch, args.shape, args.batch, t0 - timedelta(days=50 + 10 * k)
            )
            http_send(server.url, mode_headers, auth, warm, 1, n)
        per_round = args.http_obs // args.rounds
        http_rates: dict[str, list[float]] = {m: [0.0, 0.0, 0.0, 0] for m in modes}  # s, cpu s, obs, bad
        day = 0
        for _ in range(args.rounds):
            for mode, (mode_headers, auth) in modes.items():
                day += ROUND_DAYS
                bodies, total = http_bodies(
                    ds_ids, args.batch, args.shape, per_round, t0 + timedelta(days=day)
                )
                cpu0, start_t = _cpu_s(server), time.perf_counter()
                _, errors = http_send(server.url, mode_headers, auth, bodies, args.clients, total)
                acc = http_rates[mode]
                acc[0] += time.perf_counter() - start_t
                acc[1] += _cpu_s(server) - cpu0
                acc[2] += total
                acc[3] += errors
        # (b) MQTT publishes of single observations to the embedded broker.
        mqtt_rates = {}
        if args.mqtt_obs:
            for k, per in enumerate((1, args.gateway_batch)):
                mqtt_rates[per] = mqtt_bench(
                    server,
                    ds_ids,
                    args.mqtt_obs,
                    t0 + timedelta(days=MQTT_DAY + 100 * k),
                    per,
                    args.mqtt_url,
                    args.mqtt_wait,
                )
    # Baseline: the same number of rows, raw, into the same table of the same database file.
    # The same rows our path writes: every column, and the late-arrival flag the 2024 times earn.
    now_us = int(time.time() * 1e6)
    rows = [
        (
            None,
            int((t0 + timedelta(days=RAW_DAY, seconds=k // len(ds_ids))).timestamp() * 1e6),
            None,
            None,
            None,
            None,
            1.0,
            None,
            '["late"]',
            16,
            None,
            ds_ids[k % len(ds_ids)],
            None,
            ds_ids[k % len(ds_ids)],
            now_us,
        )
        for k in range(int(max(acc[2] for acc in http_rates.values())) // args.rounds)
    ]
    raw_rate = raw_baseline(tmp / "safecity.db", rows)
    print(f"raw executemany baseline: {raw_rate:,.0f} rows/s")
    shape = (
        f"one stream's {args.batch} rows"
        if args.shape == "one-stream"
        else f"{args.batch} rows of {len(ds_ids)} streams"
    )
    for mode, (seconds, cpu, n, errors) in http_rates.items():
        rate = n / seconds
        print(
            f"(a) HTTP CreateObservations, {mode}, batches of {shape}, {args.clients} client threads in this "
            f"process (the server is another), {args.rounds} rounds alternating with the other mode: "
            f"{rate:,.0f} obs/s = {rate / raw_rate:.0%} of raw; server CPU {cpu / n * 1e6:.1f} µs per "
            "observation  (target >= 100,000 obs/s and >= 40 %)"
            + (f"  [{errors:.0f} batches with errors]" if errors else "")
        )
    if args.mqtt_url and args.mqtt_obs and shutil.which("mosquitto_pub"):
        rate, cpu_us = passthrough_baseline(args.mqtt_url, args.mqtt_obs)
        print(
            f"MQTT pass-through baseline (mosquitto_pub -> {args.mqtt_url} -> a bare paho client that only "
            f"acknowledges): {rate:,.0f} messages/s, {cpu_us:,.0f} µs CPU per message in that client"
        )
    for per, rate in mqtt_rates.items():
        shape = "one Observation per message" if per == 1 else f"gateway Data Array messages of {per}"
        shape += f", external broker {args.mqtt_url}" if args.mqtt_url else ", embedded broker"
        print(
            f"(b) MQTT, {shape}: {rate:,.0f} obs/s = {rate / raw_rate:.0%} of raw  (target >= 20,000 obs/s)"
        )


def http_bodies(ds_ids: list[int], batch: int, shape: str, n: int, t0: datetime) -> tuple[list[bytes], int]:
    """About ``n`` observations in CreateObservations bodies of ``batch`` rows: every stream's next
    minutes (``all-streams``), or one stream's (``one-stream``, the streams in turn); returns the bodies
    and their number of observations."""
    bodies: list[bytes] = []
    total = 0

    def group(ds: int, minutes: range) -> dict[str, object]:
        return {
            "Datastream": {"@iot.id": ds},
            "components": ["phenomenonTime", "result"],
            "dataArray": [[(t0 + timedelta(minutes=m)).isoformat(), 1.0 + (m % 7) * 0.1] for m in minutes],
        }

    if shape == "one-stream":
        for k in range(max(1, n // batch)):
            start = (k // len(ds_ids)) * batch
            bodies.append(orjson.dumps([group(ds_ids[k % len(ds_ids)], range(start, start + batch))]))
            total += batch
        return bodies, total
    rows_per_batch = max(1, batch // len(ds_ids))
    per_stream = max(1, n // len(ds_ids))
    for start in range(0, per_stream, rows_per_batch):
        minutes = range(start, min(per_stream, start + rows_per_batch))
        bodies.append(orjson.dumps([group(ds, minutes) for ds in ds_ids]))
        total += len(minutes) * len(ds_ids)
    return bodies, total


def wait_warm(server: Server, limit_s: float = 300) -> None:
    """Until the server's start-up work is done (the earthquake inventory, built by a worker after
    start): measuring before charges it to whatever runs first."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        tasks = httpx.get(f"{server.url}/health", timeout=60).json().get("tasks", {})
        inventory = tasks.get("quake.inventory")
        if inventory is None or inventory.get("rounds", 0) > 0:
            return
        time.sleep(0.5)
    print(f"(the server's start-up workers were still running after {limit_s:.0f} s)")


def http_send(
    url: str, headers: dict[str, str], auth: httpx.Auth | None, bodies: list[bytes], clients: int, total: int
) -> tuple[float, int]:
    """Post ``bodies`` from ``clients`` threads; returns (observations/s, batches that failed)."""
    errors = 0
    lock = threading.Lock()

    def send(part: list[bytes]) -> None:
        nonlocal errors
        with httpx.Client(
            base_url=url, headers={**headers, "Content-Type": "application/json"}, auth=auth, timeout=300
        ) as c:
            for b in part:
                r = c.post("/sta/v1.1/CreateObservations", content=b)
                bad = r.status_code != 201 or b'"error"' in r.content
                with lock:
                    errors += bad

    threads = [threading.Thread(target=send, args=(bodies[k::clients],)) for k in range(clients)]
    start_t = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return total / (time.perf_counter() - start_t), errors


def mqtt_bench(
    server: Server,
    ds_ids: list[int],
    n: int,
    t0: datetime,
    per_message: int,
    broker: str | None = None,
    wait_s: float = 300,
) -> float:
    """Publish ``n`` observations at QoS 1 and time until all are stored; ``per_message`` > 1 sends
    gateway batches to v1.1/CreateObservations, 1 sends one Observation per message."""
    import paho.mqtt.client as mqtt

    # An operator's credentials may publish to any stream (device keys are per Thing).
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"bench-publisher-{per_message}")
    if broker is None:
        client.username_pw_set("bench", "bench-password")
        host, port = "127.0.0.1", server.mqtt_port
    else:  # the external broker authenticates its publishers itself (here: anonymous on loopback)
        where = urlsplit(broker)
        host, port = where.hostname or "127.0.0.1", where.port or 1883
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    client.connect(host, port)
    client.loop_start()

    def stored() -> int:
        # The server's own counter: polling a COUNT(*) would load the store being measured.
        for line in httpx.get(f"{server.url}/metrics", timeout=60).text.splitlines():
            if line.startswith("safecity_observations_ingested_total "):
                return int(float(line.split()[1]))
        raise RuntimeError("no ingest counter in /metrics")

    before = stored()

    def count() -> int:
        return stored() - before

    def when(k: int) -> str:
        return (t0 + timedelta(seconds=k // len(ds_ids))).isoformat()

    payloads: list[tuple[str, bytes]] = []
    if per_message == 1 and shutil.which("mosquitto_pub"):
        # paho publishes QoS 1 at about 2,300 messages/s here, far below what is measured: the
        # C client (Debian's mosquitto-clients) publishes one message per line, on v1.1/Observations
        # with the Datastream in the body (SensorThings allows either).
        lines = b"".join(_single(ds_ids[k % len(ds_ids)], when(k)) + b"\n" for k in range(n))
        command = ["mosquitto_pub", "-h", host, "-p", str(port), "-t", "v1.1/Observations", "-q", "1", "-l"]
        if broker is None:
            command += ["-u", "bench", "-P", "bench-password"]
        client.disconnect()
        client.loop_stop()
        cpu0, start_t = _cpu_s(server), time.perf_counter()
        subprocess.run(command, input=lines, check=True)
        done = _wait_stored(count, n, wait_s)
        elapsed = time.perf_counter() - start_t
        cpu = _cpu_s(server) - cpu0
        if done < n:
            print(f"(b) MQTT: only {done} of {n} observations stored within the time limit")
        print(f"    server CPU per stored single message: {cpu / max(done, 1) * 1e6:,.0f} µs")
        return done / elapsed
    if per_message == 1:
        for k in range(n):
            topic = f"v1.1/Datastreams({ds_ids[k % len(ds_ids)]})/Observations"
            payloads.append((topic, orjson.dumps({"phenomenonTime": when(k), "result": 2.5})))
    else:
        for start in range(0, n, per_message):
            ks = range(start, min(n, start + per_message))
            body = [
                {
                    "Datastream": {"@iot.id": ds},
                    "components": ["phenomenonTime", "result"],
                    "dataArray": [[when(k), 2.5] for k in ks if ds_ids[k % len(ds_ids)] == ds],
                }
                for ds in ds_ids
            ]
            payloads.append(("v1.1/CreateObservations", orjson.dumps([g for g in body if g["dataArray"]])))
    start_t = time.perf_counter()
    infos = [client.publish(topic, p, qos=1) for topic, p in payloads]
    for info in infos:
        info.wait_for_publish(120)
    done = _wait_stored(count, n, wait_s)
    elapsed = time.perf_counter() - start_t
    client.disconnect()
    client.loop_stop()
    if done < n:
        print(f"(b) MQTT: only {done} of {n} observations stored within the time limit")
    return done / elapsed


def _single(datastream: int, when: str) -> bytes:
    return orjson.dumps({"Datastream": {"@iot.id": datastream}, "phenomenonTime": when, "result": 2.5})


def _cpu_s(server: Server) -> float:
    """CPU seconds (user + system) the server process has used so far (Linux /proc)."""
    assert server.proc is not None
    fields = Path(f"/proc/{server.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _wait_stored(count: Callable[[], int], n: int, wait_s: float) -> int:
    deadline = time.monotonic() + wait_s
    done = 0
    while time.monotonic() < deadline:
        done = count()
        if done >= n:
            break
        time.sleep(0.25)  # polling /metrics costs the server a little; not too often
    return done


def passthrough_baseline(broker: str, n: int) -> tuple[float, float]:
    """The ceiling of the external-broker path without safecity: the same single messages, published
    the same way, received by a bare paho MQTT 5 client that only counts and acknowledges each one.
    Returns (messages/s, CPU µs per message of that client)."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties
    from paho.mqtt.subscribeoptions import SubscribeOptions

    from safecity.sensing.mqtt_client import RECEIVE_MAXIMUM

    where = urlsplit(broker)
    host, port = where.hostname or "127.0.0.1", where.port or 1883
    topic = f"safecity-bench/{os.getpid()}/Observations"
    got = 0
    done = threading.Event()

    def on_message(c: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        nonlocal got
        got += 1
        if got >= n:
            done.set()

    # paho acknowledges after on_message returns (a manual ack from inside the callback waits for
    # the network loop's next turn: a few messages a second)
    sub = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2, client_id=f"bench-pass-{os.getpid()}", protocol=mqtt.MQTTv5
    )
    sub.on_message = on_message
    # the server's Receive Maximum (see safecity.sensing.mqtt_client): beyond Mosquitto's in-flight
    # window of 20 its per-client queue (1,000) would drop the rest of the burst
    props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    props.ReceiveMaximum = RECEIVE_MAXIMUM
    sub.connect(host, port, properties=props)
    sub.subscribe(topic, options=SubscribeOptions(qos=1))
    sub.loop_start()
    time.sleep(0.5)
    lines = b"".join(_single(1, "2024-01-01T00:00:00Z") + b"\n" for _ in range(n))
    cpu0, start_t = time.process_time(), time.perf_counter()
    subprocess.run(["mosquitto_pub", "-h", host, "-p", str(port), "-t", topic, "-q", "1", "-l"], input=lines)
    done.wait(120)
    elapsed, cpu = time.perf_counter() - start_t, time.process_time() - cpu0
    sub.disconnect()
    sub.loop_stop()
    return got / elapsed, cpu / max(got, 1) * 1e6


if __name__ == "__main__":
    main()
