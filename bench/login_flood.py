# SPDX-License-Identifier: Apache-2.0
"""Password guessing against ``safecity serve`` while an operator works (issue 13).

A burst of wrong-credential requests (half POST /auth/token for the operator's own account, half HTTP
Basic with made-up names on a SensorThings read), sent ``--concurrency`` at a time, while the operator
keeps reading with a bearer token and with HTTP Basic (the frost-sta-client way). Printed: how the
guesses were answered (401 wrong, 429 throttled, 503 no hash slot), the guessing rate, the operator's
median and 95th-percentile latency during the burst and the ratio to the same requests with no burst
(the baseline), and the server's resident memory. Before the guard, 300 guesses went through at 244/s,
every one hashed, and the operator waited 650 ms.

    .venv/bin/python bench/login_flood.py [--guesses 200] [--concurrency 20] [--operator-requests 60]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import collections
import statistics
import tempfile
import time
from pathlib import Path

import httpx
from _common import Server

OPERATOR = ("chief", "chief-long-password")


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def _operator(client: httpx.AsyncClient, headers: list[dict[str, str]], n: int) -> list[float]:
    """``n`` reads, alternating bearer and Basic; seconds each."""
    took = []
    for i in range(n):
        started = time.perf_counter()
        r = await client.get("/sta/v1.1/Things", headers=headers[i % len(headers)])
        r.raise_for_status()
        took.append(time.perf_counter() - started)
    return took


async def _guesses(client: httpx.AsyncClient, n: int, concurrency: int) -> collections.Counter[int]:
    answers: collections.Counter[int] = collections.Counter()
    gate = asyncio.Semaphore(concurrency)

    async def one(i: int) -> None:
        async with gate:
            if i % 2:
                basic = base64.b64encode(f"user{i}:guess-{i}".encode()).decode()
                r = await client.get("/sta/v1.1/Things", headers={"Authorization": f"Basic {basic}"})
            else:
                r = await client.post("/auth/token", data={"username": OPERATOR[0], "password": f"guess-{i}"})
            answers[r.status_code] += 1

    await asyncio.gather(*(one(i) for i in range(n)))
    return answers


def _figures(took: list[float]) -> tuple[float, float]:
    ordered = sorted(took)
    return statistics.median(ordered) * 1000, ordered[int(0.95 * (len(ordered) - 1))] * 1000


async def main(guesses: int, concurrency: int, operator_requests: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        server = Server(Path(tmp))
        server.admin(*OPERATOR)
        with server:
            assert server.proc is not None
            async with httpx.AsyncClient(base_url=server.url, timeout=60) as client:
                r = await client.post("/auth/token", data={"username": OPERATOR[0], "password": OPERATOR[1]})
                r.raise_for_status()
                basic = base64.b64encode(":".join(OPERATOR).encode()).decode()
                headers = [
                    {"Authorization": f"Bearer {r.json()['access_token']}"},
                    {"Authorization": f"Basic {basic}"},
                ]
                await _operator(client, headers, 10)  # warm up (and the Basic password is verified once)
                baseline = _figures(await _operator(client, headers, operator_requests))
                rss_before = _rss_mib(server.proc.pid)
                started = time.perf_counter()
                flood = asyncio.create_task(_guesses(client, guesses, concurrency))
                during = await _operator(client, headers, operator_requests)
                answers = await flood
                elapsed = time.perf_counter() - started
                rss_after = _rss_mib(server.proc.pid)
    loaded = _figures(during)
    print(
        f"guesses: {guesses} in {elapsed:.2f} s ({guesses / elapsed:.0f}/s), answers {dict(sorted(answers.items()))}"
    )
    print(f"throttled (429): {answers[429]} of {guesses}; hashed at most {answers[401] + answers[200]}")
    print(f"operator without guessing: median {baseline[0]:.1f} ms, p95 {baseline[1]:.1f} ms")
    print(f"operator during guessing:  median {loaded[0]:.1f} ms, p95 {loaded[1]:.1f} ms")
    print(f"ratio to baseline: median x{loaded[0] / baseline[0]:.2f}, p95 x{loaded[1] / baseline[1]:.2f}")
    print(f"server memory: {rss_before:.0f} MiB before, {rss_after:.0f} MiB after")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--guesses", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--operator-requests", type=int, default=60)
    args = parser.parse_args()
    asyncio.run(main(args.guesses, args.concurrency, args.operator_requests))
