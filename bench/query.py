# SPDX-License-Identifier: Apache-2.0
"""Query latency with 10 million observations in the embedded store.

1. the latest value of 1,000 datastreams (one SensorThings request: Datastreams with each one's newest
   Observation expanded), and
2. one day of 1-minute data for one datastream (1,440 observations, filtered on phenomenonTime),

each as the median over repeated requests to ``safecity serve`` in its own process, printed with the ratio
to the same answer read by raw SQL from the same file (the floor the store sets). Target (issue 2): each
<= 50 ms median.

    .venv/bin/python bench/query.py [--observations 10000000] [--streams 1000] [--repeat 25]
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from _common import Server, station

from safecity.app import build_platform
from safecity.sensing.observation_writes import OBSERVATION_COLUMNS
from safecity.sensing.sta.model import ENTITIES
from safecity.settings import MqttSettings, Settings

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def load(data_dir: Path, streams: int, total: int) -> list[int]:
    """Create the stations through the service, then bulk-load 1-minute observations (raw, for speed)."""
    platform = build_platform(Settings(data_dir=data_dir, mqtt=MqttSettings(enabled=False)))
    ds_ids = []
    for i in range(streams):
        tid = platform.sensing.write(lambda conn, w, i=i: w.create(conn, ENTITIES["Thing"], station(i)))
        ds_ids.append(tid)
    platform.store.close()
    per = total // streams
    conn = sqlite3.connect(data_dir / "safecity.db", isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=OFF")
    sql = f"INSERT INTO sta_observations ({', '.join(OBSERVATION_COLUMNS)}) VALUES ({', '.join('?' * len(OBSERVATION_COLUMNS))})"
    t0_us = int(T0.timestamp() * 1_000_000)
    now_us = int(time.time() * 1_000_000)
    next_id = 1
    start = time.perf_counter()
    chunk_minutes = 200
    for m0 in range(0, per, chunk_minutes):
        rows = []
        for m in range(m0, min(per, m0 + chunk_minutes)):
            t_us = t0_us + m * 60_000_000
            for ds in ds_ids:
                rows.append(
                    (
                        next_id,
                        t_us,
                        None,
                        None,
                        None,
                        None,
                        float(m % 97) / 10,
                        None,
                        None,
                        0,
                        None,
                        ds,
                        None,
                        ds,
                        now_us,
                    )
                )
                next_id += 1
        conn.execute("BEGIN")
        conn.executemany(sql, rows)
        conn.execute("COMMIT")
        done = next_id - 1
        print(
            f"\rloaded {done:,} observations ({done / (time.perf_counter() - start):,.0f}/s)",
            end="",
            file=sys.stderr,
        )
    last = t0_us + (per - 1) * 60_000_000
    conn.execute(
        "UPDATE sta_datastreams SET phenomenon_time_start = ?, phenomenon_time_end = ?", (t0_us, last)
    )
    conn.execute("ANALYZE")
    conn.close()
    print(file=sys.stderr)
    return ds_ids


def median_ms(fn, repeat: int) -> float:  # type: ignore[no-untyped-def]
    fn()  # warm caches
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--observations", type=int, default=10_000_000)
    ap.add_argument("--streams", type=int, default=1_000)
    ap.add_argument("--repeat", type=int, default=25)
    ap.add_argument("--data-dir", type=Path, help="reuse a loaded directory")
    args = ap.parse_args()
    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="safecity-qbench-"))
    if not (data_dir / "safecity.db").exists():
        ds_ids = load(data_dir, args.streams, args.observations)
    else:
        ds_ids = list(range(1, args.streams + 1))
    ds = ds_ids[len(ds_ids) // 2]
    per = args.observations // args.streams
    if per < 1440:
        raise SystemExit("need at least 1,440 observations per datastream (one day of 1-minute data)")
    day = T0 + timedelta(minutes=max(0, per // 2 - 720))
    day_end = day + timedelta(days=1)
    raw = sqlite3.connect(data_dir / "safecity.db")
    (count,) = raw.execute("SELECT count(*) FROM sta_observations").fetchone()
    us = lambda d: int(d.timestamp() * 1_000_000)  # noqa: E731

    def raw_latest() -> None:
        for d in ds_ids:
            raw.execute(
                "SELECT id, phenomenon_time, result_number FROM sta_observations WHERE datastream_id = ? "
                "ORDER BY phenomenon_time DESC LIMIT 1",
                (d,),
            ).fetchone()

    def raw_day() -> None:
        rows = raw.execute(
            "SELECT id, phenomenon_time, result_number FROM sta_observations WHERE datastream_id = ? "
            "AND phenomenon_time >= ? AND phenomenon_time < ? ORDER BY phenomenon_time",
            (ds, us(day), us(day_end)),
        ).fetchall()
        assert len(rows) == 1440, len(rows)

    latest_url = (
        f"/sta/v1.1/Datastreams?$top={len(ds_ids)}&$select=id,name"
        "&$expand=Observations($top=1;$orderby=phenomenonTime desc;$select=phenomenonTime,result)"
    )
    day_url = (
        f"/sta/v1.1/Datastreams({ds})/Observations?$top=1440&$orderby=phenomenonTime&$select=phenomenonTime,result"
        f"&$filter=phenomenonTime ge {day:%Y-%m-%dT%H:%M:%SZ} and phenomenonTime lt {day_end:%Y-%m-%dT%H:%M:%SZ}"
    )
    r_latest = median_ms(raw_latest, args.repeat)
    r_day = median_ms(raw_day, args.repeat)
    with (
        Server(data_dir, SAFECITY_MQTT__ENABLED="false") as server,
        httpx.Client(base_url=server.url, timeout=60) as c,
    ):

        def api_latest() -> None:
            body = c.get(latest_url).json()
            assert len(body["value"]) == len(ds_ids) and body["value"][0]["Observations"], body

        def api_day() -> None:
            body = c.get(day_url).json()
            assert len(body["value"]) == 1440, len(body["value"])

        a_latest = median_ms(api_latest, args.repeat)
        a_day = median_ms(api_day, args.repeat)
    print(f"store: {count:,} observations in {len(ds_ids)} datastreams")
    print(
        f"1. latest value of {len(ds_ids)} datastreams: {a_latest:.1f} ms median "
        f"(raw SQL {r_latest:.1f} ms, ratio {a_latest / r_latest:.1f}x)  target <= 50 ms"
    )
    print(
        f"2. one day of 1-minute data (1,440 obs): {a_day:.1f} ms median "
        f"(raw SQL {r_day:.1f} ms, ratio {a_day / r_day:.1f}x)  target <= 50 ms"
    )


if __name__ == "__main__":
    main()
