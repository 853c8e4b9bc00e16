# SPDX-License-Identifier: Apache-2.0
"""The anonymous clients' budget in a shared Redis (SAFECITY_RATE_LIMIT__URL; the limits library), with
the real Redis on 6379: two app instances, as two processes behind one load balancer, count one
client's requests together; without the setting each counts its own; an unreachable store lets
requests through. No time passes in these tests: the budget's window (burst / rate) is hours long."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from safecity.app import Platform, build_platform, create_app
from safecity.hygiene.limits import SharedBuckets
from safecity.settings import Settings
from safecity.settings.nested import RateLimitSettings
from tests.conftest import free_port, service_missing

REDIS = "redis://127.0.0.1:6379/0"
BURST = 3


@pytest.fixture
def redis_url() -> str:
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=2).close()
    except OSError:
        service_missing("Redis at 127.0.0.1:6379 (apt install redis-server)")
    return REDIS


@pytest.fixture
def platform_(sqlite_settings: Settings) -> Iterator[Platform]:
    p = build_platform(sqlite_settings)
    yield p
    p.store.close()


def _client(settings: Settings, platform: Platform, url: str | None, prefix: str) -> TestClient:
    s = settings.model_copy(
        update={
            "rate_limit_per_s": BURST / 36_000,  # a window of ten hours: nothing refills during the test
            "rate_limit_burst": BURST,
            "rate_limit": RateLimitSettings(url=url, key_prefix=prefix),
        }
    )
    return TestClient(create_app(s, platform, start_services=False))


def test_two_instances_share_one_budget_in_redis(
    sqlite_settings: Settings, platform_: Platform, redis_url: str
) -> None:
    prefix = f"safecity-test-{uuid.uuid4().hex}"  # a fresh budget, whatever else uses this Redis
    # each as a server runs it: one event loop from start-up to shut-down (the Redis client's)
    with (
        _client(sqlite_settings, platform_, redis_url, prefix) as first,
        _client(sqlite_settings, platform_, redis_url, prefix) as second,
        _client(sqlite_settings, platform_, None, prefix) as alone,
    ):
        _share_one_budget(first, second, alone)


def _share_one_budget(first: TestClient, second: TestClient, alone: TestClient) -> None:
    assert [first.get("/health").status_code for _ in range(2)] == [200, 200]
    assert second.get("/health").status_code == 200  # the third request of the budget, elsewhere
    refused = second.get("/health")
    assert refused.status_code == 429
    assert refused.json()["code"] == "too_many_requests"
    assert int(refused.headers["Retry-After"]) > 0
    assert first.get("/health").status_code == 429  # the first instance knows it too
    # an instance that counts in its own memory has a budget of its own
    assert [alone.get("/health").status_code for _ in range(BURST)] == [200] * BURST
    assert alone.get("/health").status_code == 429


def test_an_unreachable_store_lets_requests_through(sqlite_settings: Settings, platform_: Platform) -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    with _client(sqlite_settings, platform_, url, "safecity-test") as client:
        assert [client.get("/health").status_code for _ in range(BURST + 2)] == [200] * (BURST + 2)


def test_the_window_keeps_the_budget_and_the_long_run_rate() -> None:
    buckets = SharedBuckets(REDIS, rate=10.0, burst=100)
    assert (buckets.item.amount, buckets.window_s) == (100, 10)  # 100 at once, 10 a second in the long run


def test_a_stalled_store_does_not_block_the_event_loop() -> None:
    """The budget is asked of Redis asynchronously: while a Redis that accepted the connection never
    answers, the process's event loop goes on serving everything else."""
    import asyncio

    async def scenario() -> tuple[bool, int]:
        stalled: list[asyncio.StreamWriter] = []

        async def accept(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            stalled.append(writer)  # reads nothing, answers nothing

        server = await asyncio.start_server(accept, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        buckets = SharedBuckets(f"redis://127.0.0.1:{port}/0", rate=10.0, burst=100)
        asking = asyncio.ensure_future(buckets.take("203.0.113.7"))
        others = 0
        for _ in range(20):  # other requests' work, on the same loop, while Redis says nothing
            await asyncio.sleep(0.01)
            others += 1
        pending = not asking.done()
        asking.cancel()
        for w in stalled:
            w.close()
        server.close()
        return pending, others

    pending, others = asyncio.run(scenario())
    assert pending and others == 20
