# SPDX-License-Identifier: Apache-2.0
"""Detection latency (second part of bench/detect.py): HTTP observation in -> incident change on SSE."""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import statistics
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from _common import OM, Server, token

PROBE_RULE = """
# The bench's probe: a gas detector crossing 50 %LEL (same shape as the shipped gas rule, own id so the
# bench does not depend on the shipped numbers).
[[rule]]
id = "bench.gas_probe"
version = 1
hazard = "gas"
name_ko = "벤치 가스 감지"
name_en = "Bench gas probe"
[rule.select]
properties = ["combustible_gas"]
[rule.signals]
now = { fn = "last" }
[[rule.level]]
crisis = "alert"
name_ko = "가스 경보"
name_en = "Gas alarm"
any = [{ signal = "now", above = 50.0 }]
"""


def thing(name: str, prop: str, unit: tuple[str, str], lon: float, lat: float) -> dict[str, Any]:
    return {
        "name": name,
        "description": "",
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


def create(url: str, headers: dict[str, str], body: dict[str, Any]) -> int:
    with httpx.Client(base_url=url, headers=headers, timeout=30) as c:
        r = c.post("/sta/v1.1/Things", json=body)
        r.raise_for_status()
        tid = int(r.json()["@iot.id"])
        r = c.get(f"/sta/v1.1/Things({tid})/Datastreams")
        return int(r.json()["value"][0]["@iot.id"])


def background(
    url: str, headers: dict[str, str], streams: list[int], rate: int, stop: Any, sent: Any
) -> None:
    """rate observations per second as CreateObservations batches of 500 (no rain: nothing fires)."""
    batch = 500
    per_s = max(1, rate // batch)
    i = 0
    with httpx.Client(base_url=url, headers=headers, timeout=30) as c:
        next_at = time.perf_counter()
        while not stop.is_set():
            for _ in range(per_s):
                groups: dict[int, list[list[Any]]] = {}
                # live data: each gauge reports "now" (a stream's times rise: ~0.1 s apart at 10,000/s)
                t = datetime.now(UTC)
                for _ in range(batch):
                    ds = streams[i % len(streams)]
                    groups.setdefault(ds, []).append([t.isoformat(), 0.0])
                    i += 1
                body = [
                    {
                        "Datastream": {"@iot.id": ds},
                        "components": ["phenomenonTime", "result"],
                        "dataArray": rows,
                    }
                    for ds, rows in groups.items()
                ]
                r = c.post("/sta/v1.1/CreateObservations", json=body)
                r.raise_for_status()
                sent.value += batch
            next_at += 1.0
            delay = next_at - time.perf_counter()
            if delay > 0:
                time.sleep(delay)


def latency(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as d:
        rules = Path(d) / "rules"
        rules.mkdir()
        (rules / "probe.toml").write_text(PROBE_RULE, encoding="utf-8")
        server = Server(
            Path(d) / "data",
            SAFECITY_RULES_DIR=str(rules),
            SAFECITY_MQTT__ENABLED="false",
            SAFECITY_LOG_LEVEL=os.environ.get("BENCH_LOG_LEVEL", "WARNING"),
        )
        server.admin("bench", "bench-password-1")
        with server:
            headers = token(server.url, "bench", "bench-password-1")
            print(
                "latency: creating 1,000 rain gauges (background load) and probe gas detectors ...",
                flush=True,
            )
            gauges = [
                create(
                    server.url,
                    headers,
                    thing(
                        f"gauge {i}",
                        "rainfall_10min",
                        ("millimetre", "mm"),
                        126.8 + (i % 40) * 0.01,
                        37.45 + (i // 40) * 0.005,
                    ),
                )
                for i in range(1000)
            ]
            probes = [
                create(
                    server.url,
                    headers,
                    thing(
                        f"gas {i}",
                        "combustible_gas",
                        ("percent LEL", "%LEL"),
                        126.80 + (i % 20) * 0.02,
                        37.45 + (i // 20) * 0.02,
                    ),
                )
                for i in range(args.probes)
            ]
            events: list[tuple[float, str]] = []
            lock = threading.Condition()

            def listen() -> None:
                with httpx.stream(
                    "GET", server.url + "/situation/stream", headers=headers, timeout=None
                ) as r:
                    name = ""
                    for line in r.iter_lines():
                        if line.startswith("event: "):
                            name = line[7:]
                        elif line.startswith("data: ") and name:
                            with lock:
                                events.append((time.perf_counter(), name))
                                lock.notify_all()

            threading.Thread(target=listen, daemon=True).start()
            time.sleep(1.0)
            ctx = mp.get_context("spawn")
            stop = ctx.Event()
            sent = ctx.Value("q", 0)
            load = ctx.Process(target=background, args=(server.url, headers, gauges, args.load, stop, sent))
            load.start()
            time.sleep(3.0)
            lat: list[float] = []
            cond_lat: list[float] = []
            rtt: list[float] = []
            now = datetime.now(UTC)
            load_start, sent_start = time.perf_counter(), sent.value
            with httpx.Client(base_url=server.url, headers=headers, timeout=30) as c:
                for k, ds in enumerate(probes):
                    t0 = time.perf_counter()
                    c.get("/health")
                    rtt.append(time.perf_counter() - t0)
                    with lock:
                        seen = len(events)
                    t0 = time.perf_counter()
                    r = c.post(
                        f"/sta/v1.1/Datastreams({ds})/Observations",
                        json={"phenomenonTime": (now + timedelta(seconds=k)).isoformat(), "result": 80.0},
                    )
                    r.raise_for_status()
                    with lock:
                        ok = lock.wait_for(
                            lambda seen=seen: any(n.startswith("Incident") for _, n in events[seen:]),
                            timeout=10,
                        )
                        arrived = next((t for t, n in events[seen:] if n.startswith("Incident")), None)
                    if not ok or arrived is None:
                        print(f"  probe {k}: no incident change within 10 s", flush=True)
                        continue
                    lat.append(arrived - t0)
                    time.sleep(0.05)
            achieved = (sent.value - sent_start) / (time.perf_counter() - load_start)
            stop.set()
            load.join(30)
        if not lat:
            raise SystemExit("latency: no probe produced an incident change")
        lat.sort()
        rtt.sort()
        p50, p99 = lat[len(lat) // 2] * 1000, lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000
        r50 = rtt[len(rtt) // 2] * 1000
        print(f"  background load achieved: {achieved:,.0f} obs/s over HTTP (asked {args.load:,})")
        print(
            f"  detection latency over {len(lat)} probes: p50 {p50:.1f} ms, p99 {p99:.1f} ms, "
            f"mean {statistics.mean(lat) * 1000:.1f} ms"
        )
        cond_lat.sort()
        if cond_lat:
            print(
                f"  (rule condition on the stream: p50 {cond_lat[len(cond_lat) // 2] * 1000:.1f} ms, "
                f"p99 {cond_lat[min(len(cond_lat) - 1, int(len(cond_lat) * 0.99))] * 1000:.1f} ms)"
            )
        print(
            f"  baseline GET /health round trip under the same load: p50 {r50:.1f} ms; "
            f"ratio p50 {p50 / r50:.1f}x"
        )
        print(f"  target p99 <= 100 ms: {'met' if p99 <= 100 else 'MISSED'}")
