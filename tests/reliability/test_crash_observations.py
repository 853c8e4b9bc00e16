# SPDX-License-Identifier: Apache-2.0
"""SIGKILL ``safecity serve`` while observations stream in over HTTP and MQTT; nothing acknowledged is lost.

One test per store: two servers on fresh stores get the same sensor network and the same observations
(a heavy-rain shape on the gauges of two districts). The reference server gets them without a crash.
The other is killed with SIGKILL when about 40 % are acknowledged, started again on the same data, and
the clients send again whatever was not acknowledged. Then:

* every acknowledged observation was stored before the restart (none lost), and after the retries every
  observation is stored exactly once with the value sent;
* no CreateObservations batch without an answer is half-written (a batch is one transaction);
* the situation board (district × hazard levels, active conditions, open incidents) equals the
  reference's: the outbox re-delivered what the rules had not seen, and nothing was counted twice.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.reliability.harness import Server, thing
from tests.reliability.streams import HttpGateway, Ledger, MqttDevice, Obs

pytestmark = pytest.mark.reliability

GAUGES = 100
MQTT_GAUGES = 20  # the first gauges publish over MQTT with their own device keys
MQTT_RATE = 100.0  # publishes per second per device: the devices report for about as long as HTTP sends
STEPS = 300  # one observation a minute per gauge: five hours of data
BATCH_STEPS = 20  # a CreateObservations batch carries 20 minutes of its gateway's gauges (600 rows)
GATEWAYS = 3
KILL_AT = 0.4  # share of all observations acknowledged when the server is killed
TOTAL = GAUGES * STEPS


@dataclass
class Deployment:
    server: Server
    streams: list[int]  # Datastream id per gauge
    keys: list[str]  # device API key per MQTT gauge


#: The stale-sensor rule watches the wall clock, not the data: when a tick happens to look at a gauge
#: whose backlog is still arriving differs from run to run (and a server that was down really did not
#: hear its sensors). Both servers run without it, so the boards compare what the data decides.
NO_STALE_RULE = """
[[rule]]
id = "sensor.stale"
version = 1
enabled = false
hazard = "sensor"
name_ko = "센서 수신 지연"
name_en = "Sensor not reporting"
scope = "stream"
[rule.select]
properties = ["rainfall_1min"]
[rule.signals]
age = { fn = "age" }
[[rule.level]]
crisis = "attention"
name_ko = "센서 미수신"
name_en = "Sensor silent"
all = [{ signal = "age", above = 3, of = "expected_interval" }]
"""


def deploy(root: Path, name: str, store_url: str | None) -> Deployment:
    rules = root / f"{name}-rules"
    rules.mkdir()
    (rules / "no_stale.toml").write_text(NO_STALE_RULE, encoding="utf-8")
    server = Server(root / name, store_url, SAFECITY_RULES_DIR=str(rules))
    gauges = []
    for i in range(GAUGES):
        in_a = i % 5 < 3  # 60 gauges in 동작구, 40 in 관악구
        lat = (37.49 if in_a else 37.45) + (i % 10) * 0.002
        lon = 126.91 + (i % 7) * 0.01
        gauges.append(thing(f"gauge {i}", "rainfall_1min", ("millimetre", "mm"), lon, lat))
    made = server.init(gauges, keys=MQTT_GAUGES)
    server.start()
    return Deployment(server, made["streams"], made["keys"])


def deploy_both(root: Path, new_store: Any) -> tuple[Deployment, Deployment]:
    """The reference and the crash server, set up side by side (start-up is most of a run's time)."""
    with ThreadPoolExecutor(2) as pool:
        jobs = [pool.submit(deploy, root, name, new_store()) for name in ("reference", "crashed")]
    errors = [j.exception() for j in jobs]
    if any(errors):
        for j, e in zip(jobs, errors, strict=True):
            if e is None:
                j.result().server.stop()
        raise next(e for e in errors if e is not None)
    return jobs[0].result(), jobs[1].result()


def rain(gauge: int, step: int) -> float:
    """mm in the minute: dry for two hours, then three hours of heavy rain (more in 동작구)."""
    if step < STEPS - 180:
        return 0.0
    wobble = ((step + gauge) % 5 - 2) * 0.1  # a constant reading is flagged as a stuck sensor
    return round((0.6 if gauge % 5 < 3 else 0.4) + wobble, 1)


def observations(dep: Deployment, base: datetime) -> list[list[Obs]]:
    return [
        [(ds, base + timedelta(minutes=k), rain(i, k)) for k in range(STEPS)]
        for i, ds in enumerate(dep.streams)
    ]


def stream(dep: Deployment, base: datetime, kill: bool) -> dict[str, Any]:
    """Send every observation; with ``kill``, SIGKILL the server mid-stream and start it again."""
    server = dep.server
    per_gauge = observations(dep, base)
    ledger = Ledger()
    up = threading.Event()
    up.set()
    headers = server.token()
    gateways: list[list[int]] = [[] for _ in range(GATEWAYS)]
    http_gauges = list(range(MQTT_GAUGES, GAUGES))
    for g in range(GATEWAYS):
        mine = [per_gauge[i] for i in http_gauges if i % GATEWAYS == g]
        for s in range(0, STEPS, BATCH_STEPS):
            b = len(ledger.batches)
            ledger.batches[b] = [obs[k] for k in range(s, s + BATCH_STEPS) for obs in mine]
            gateways[g].append(b)
    threads: list[threading.Thread] = [HttpGateway(server.url, headers, ids, ledger, up) for ids in gateways]
    threads += [
        MqttDevice(server.mqtt_port, dep.keys[i], f"gauge-{i}", per_gauge[i], ledger, up, MQTT_RATE)
        for i in range(MQTT_GAUGES)
    ]
    figures: dict[str, Any] = {"sent": TOTAL}
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    if kill:
        while ledger.count() < KILL_AT * TOTAL:
            if not any(t.is_alive() for t in threads):
                break
            time.sleep(0.005)
        up.clear()
        server.kill()
        t_kill = time.perf_counter()
        acked = set(ledger.acked)
        figures["acked_at_kill"] = len(acked)
        figures["rate_obs_s"] = round(len(acked) / (t_kill - t0))
        t_restart = time.perf_counter()
        server.start()
        figures["restart_s"] = round(time.perf_counter() - t_restart, 1)
        stored = server.stored()
        figures["stored_at_restart"] = len(stored)
        mqtt_streams = set(dep.streams[:MQTT_GAUGES])
        mqtt_acked = {key for key in acked if key[0] in mqtt_streams}
        figures["mqtt_acked_at_kill"] = len(mqtt_acked)
        figures["mqtt_published_at_kill"] = ledger.mqtt_publishes
        figures["lost"] = sum(1 for key in acked if key not in stored)
        figures["lost_mqtt"] = sum(1 for key in mqtt_acked if key not in stored)
        figures["unacked_mqtt_committed"] = sum(
            1 for key in stored if key[0] in mqtt_streams and key not in mqtt_acked
        )
        half = 0
        unacked_stored = 0
        for b, rows in ledger.batches.items():
            if b in ledger.acked_batches:
                continue
            n = sum(1 for ds, t, _ in rows if (ds, t) in stored)
            unacked_stored += n
            if 0 < n < len(rows):
                half += 1
        figures["half_written_batches"] = half
        figures["unacked_http_rows_committed"] = unacked_stored
        up.set()
    for t in threads:
        t.join(180)
        assert not t.is_alive(), f"{t.name} did not finish"
    elapsed = time.perf_counter() - t0
    if not kill:
        figures["rate_obs_s"] = round(TOTAL / elapsed)
    assert not ledger.failures, ledger.failures[:5]
    figures["acked"] = len(ledger.acked)
    figures["mqtt_publishes"] = ledger.mqtt_publishes
    figures["http_requests"] = ledger.http_requests
    server.wait_drained()
    stored = server.stored()
    sent = {(ds, t): v for obs in per_gauge for ds, t, v in obs}
    figures["stored"] = len(stored)
    figures["duplicated"] = sum(len(vs) - 1 for vs in stored.values())
    figures["missing"] = sum(1 for key in sent if key not in stored)
    figures["wrong_value"] = sum(1 for key, v in sent.items() if key in stored and stored[key] != [v])
    figures["unexpected"] = sum(1 for key in stored if key not in sent)
    return figures


def board(server: Server) -> dict[str, Any]:
    """The board without what legitimately differs between two servers: when it was generated, row ids,
    the wall-clock times of records, and each active condition's live value (its window ends at the
    server's clock when the board is read, so it moves on every minute the boards are read apart).
    Everything the data decides stays, including each incident's timeline with the value of every
    change at its own time (a sample counted twice or missed after the restart would show there)."""
    r = httpx.get(server.url + "/situation", headers=server.token(), timeout=30)
    r.raise_for_status()
    b = r.json()
    return {
        "level": b["level"]["level"],
        "districts": {d["code"]: d["levels"] for d in b["districts"]},
        "conditions": sorted(
            (c["rule"], c["subject"], c["level"], c["since"], c["district"]) for c in b["conditions"]
        ),
        "incidents": sorted(
            (
                i["hazard"],
                i["level"],
                i["status"],
                i["titleEn"],
                i["openedAt"],
                i["lastActivityAt"],
                i["clearedAt"],
                tuple((a["code"], a["level"]) for a in i["areas"]),
                tuple(
                    sorted(
                        (
                            e["at"],
                            e["kind"],
                            e["rule"] or "",
                            e["level"] or 0,
                            (e["data"] or {}).get("subject", ""),
                            (e["data"] or {}).get("value"),
                        )
                        for e in i["timeline"]
                    )
                ),
            )
            for i in b["incidents"]
        ),
    }


def test_sigkill_mid_stream_loses_nothing(new_store: Any, tmp_path: Path) -> None:
    t = time.perf_counter()
    reference, crashed = deploy_both(tmp_path, new_store)
    print(f"\nset-up of two servers: {time.perf_counter() - t:.1f} s")
    try:
        # The same minute-aligned five hours, ending a minute ago, for both servers.
        now = datetime.now(UTC).replace(second=0, microsecond=0)
        base = now - timedelta(minutes=STEPS)
        t = time.perf_counter()
        ref = stream(reference, base, kill=False)
        print(f"reference run: {time.perf_counter() - t:.1f} s")
        # The reference's picture is final once its outbox is drained; it stops so that the crash run
        # has the machine's cores to itself, as the reference run had (two shared cores here).
        ref_board = board(reference.server)
        reference.server.stop()
        t = time.perf_counter()
        got = stream(crashed, base, kill=True)
        print(f"crash run: {time.perf_counter() - t:.1f} s")
        got_board = board(crashed.server)
        print(f"\nreference (no crash): {ref}")
        print(f"crash run: {got}")
        print(
            f"board: levels {got_board['districts']}, {len(got_board['conditions'])} conditions, "
            f"incidents {[i[:4] for i in got_board['incidents']]}"
        )
        assert got["lost"] == 0, "acknowledged observations missing after the restart"
        assert got["half_written_batches"] == 0
        for figures in (ref, got):
            assert figures["acked"] == TOTAL
            assert figures["stored"] == TOTAL
            assert figures["duplicated"] == figures["missing"] == figures["wrong_value"] == 0
            assert figures["unexpected"] == 0
        assert ref_board["conditions"], "the rain must fire the heavy-rain rule, or the comparison is empty"
        assert ref_board["incidents"]
        assert got_board["districts"] == ref_board["districts"]
        assert got_board["conditions"] == ref_board["conditions"]
        assert got_board["incidents"] == ref_board["incidents"]
        assert got_board == ref_board
    finally:
        for dep in (reference, crashed):
            dep.server.stop()
