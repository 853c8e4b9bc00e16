# SPDX-License-Identifier: Apache-2.0
"""Password guessing over HTTP and MQTT (issue 13): throttled per account and per client before any
hash runs, audited, with a bounded number of hashes at once; a verified Basic password is not hashed
again on every request; an unknown name costs the same hash as a known one.

Time is the guard's injected clock; the guessing bench (bench/login_flood.py) measures the rest.
"""

from __future__ import annotations

import asyncio
import base64
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from safecity.app import Platform, build_platform, create_app
from safecity.auth.guard import PER_ACCOUNT, PER_CLIENT, WINDOW_S, LoginGuard, TooManyRequests
from safecity.auth.model import Role
from safecity.settings import MqttSettings, Settings
from tests.conftest import free_port
from tests.sensing.test_mqtt import Peer, running, until


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Ctx:
    client: TestClient
    platform: Platform
    clock: Clock

    @property
    def guard(self) -> LoginGuard:
        return self.platform.auth.guard

    def login(self, user: str, password: str) -> Any:
        return self.client.post("/auth/token", data={"username": user, "password": password})

    def basic(self, user: str, password: str) -> Any:
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        return self.client.get("/sta/v1.1/Things", headers={"Authorization": f"Basic {token}"})

    def audit(self, action: str) -> list[tuple[str, str, str]]:
        self.platform.audit.flush()
        return [
            (e.actor, e.outcome, e.client or "") for e in self.platform.audit.entries() if e.action == action
        ]


@pytest.fixture
def ctx(tmp_path: Path) -> Iterator[Ctx]:
    settings = Settings(
        data_dir=tmp_path, mqtt=MqttSettings(enabled=False, port=free_port()), port=free_port()
    )
    platform = build_platform(settings)
    clock = Clock()
    platform.auth.guard = LoginGuard(clock=clock)
    platform.auth.create_user("operator1", "operator-password", {Role.operator})
    app = create_app(settings, platform, start_services=False)
    with TestClient(app) as client:
        yield Ctx(client, platform, clock)


def test_guessing_one_account_is_throttled_before_hashing_and_audited(ctx: Ctx) -> None:
    for i in range(PER_ACCOUNT):
        assert ctx.login("operator1", f"guess-{i}").status_code == 401
    hashes = ctx.guard.hashes
    refused = ctx.login("operator1", "operator-password")  # even the right one: no hash runs
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) == WINDOW_S
    assert refused.json()["message_ko"]
    assert ctx.guard.hashes == hashes
    assert ctx.audit("auth.login_failed") == [("operator1", "401", "testclient")] * PER_ACCOUNT + [
        ("operator1", "429", "testclient")
    ]
    ctx.clock.now += WINDOW_S
    assert ctx.login("operator1", "operator-password").status_code == 200


def test_guessing_many_accounts_from_one_client_is_throttled(ctx: Ctx) -> None:
    for i in range(PER_CLIENT):
        assert ctx.basic(f"user{i}", "wrong-password").status_code == 401
    assert ctx.basic("operator1", "operator-password").status_code == 429
    assert len(ctx.audit("auth.basic_failed")) == PER_CLIENT + 1
    ctx.clock.now += WINDOW_S
    assert ctx.basic("operator1", "operator-password").status_code == 200


def test_a_verified_basic_password_is_hashed_once(ctx: Ctx) -> None:
    for _ in range(5):
        assert ctx.basic("operator1", "operator-password").status_code == 200
    assert ctx.guard.hashes == 1
    assert ctx.basic("operator1", "not-the-password").status_code == 401  # not a cache of names
    ctx.clock.now += ctx.guard.cache_ttl_s
    assert ctx.basic("operator1", "operator-password").status_code == 200
    assert ctx.guard.hashes == 3


def test_an_unknown_name_costs_the_same_hash_as_a_known_one(ctx: Ctx) -> None:
    assert ctx.login("nobody-here", "some-password").status_code == 401
    assert ctx.login("operator1", "some-password").status_code == 401
    assert ctx.guard.hashes == 2  # the unknown name was verified against a decoy hash


def test_concurrent_hashes_are_bounded(ctx: Ctx) -> None:
    guard = LoginGuard(clock=ctx.clock, hash_slots=1, hash_wait_s=0.05)
    ctx.platform.auth.guard = guard
    with guard.hash_slot():  # the one slot is busy
        r = ctx.login("operator1", "operator-password")
    assert r.status_code == 503 and r.json()["message_ko"]
    assert ctx.login("operator1", "operator-password").status_code == 200


async def _connect(port: int, password: str) -> Peer:
    """Connect as op1; each refused or accepted password costs a memory-hard hash, slow on a busy
    machine, so the CONNACK gets longer than Peer.open's usual wait."""
    peer = Peer(port, username="op1", password=password)
    # no retry of its own after a refusal: each attempt here must be exactly one password check
    peer.client.reconnect_delay_set(min_delay=120, max_delay=120)
    peer.client.connect("127.0.0.1", port, keepalive=30)
    peer.client.loop_start()
    await until("CONNACK", lambda: peer.connack is not None, 60)
    return peer


def test_guessing_over_mqtt_is_throttled_and_audited(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running(tmp_path) as env:
            clock = Clock()
            env.platform.auth.guard = LoginGuard(clock=clock)
            env.platform.auth.create_user("op1", "operator-password", {Role.operator})
            port = env.settings.mqtt.port
            for i in range(PER_ACCOUNT):
                peer = await _connect(port, f"guess-{i}")
                assert peer.connack.is_failure
                peer.close()
            right = await _connect(port, "operator-password")
            assert right.connack.is_failure  # throttled, without a hash
            right.close()
            assert env.platform.auth.guard.hashes == PER_ACCOUNT
            await asyncio.to_thread(env.platform.audit.flush)
            refused = [
                (e.actor, e.outcome) for e in env.platform.audit.entries() if e.action == "mqtt.CONNECT"
            ]
            assert refused == [("op1", "401")] * PER_ACCOUNT + [("op1", "429")]
            clock.now += WINDOW_S
            ok = await _connect(port, "operator-password")
            assert not ok.connack.is_failure
            ok.close()

    asyncio.run(scenario())


def test_the_guard_counts_every_failure_from_many_threads() -> None:
    guard = LoginGuard(clock=Clock(), per_account=800, per_client=10_000)

    def fail() -> None:
        for _ in range(100):
            guard.failed("a", "c")

    threads = [threading.Thread(target=fail) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with pytest.raises(TooManyRequests):  # 800 failures, none lost to a race
        guard.check("a", None)
