# SPDX-License-Identifier: Apache-2.0
"""Dead letters as an operator meets them: listed and replayed by administrators only, over the API and
with ``safecity bus``, each read and replay in the audit log."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from safecity.app import Platform, build_platform, create_app
from safecity.auth.model import Role
from safecity.core.clock import ManualClock
from safecity.core.events import Envelope, Event
from safecity.settings import BusSettings, MqttSettings, Settings
from tests.test_cli import run

PASSWORDS = {"operator1": "operator-password", "admin1": "admin-password"}


class Fault(Event):
    """A test event its subscriber cannot handle until told to."""

    type = "bustest.Fault"

    what: str


class Flaky:
    def __init__(self) -> None:
        self.fixed = False
        self.seen: list[str] = []

    def __call__(self, events: Sequence[Envelope]) -> None:
        if not self.fixed:
            raise RuntimeError("not yet")
        self.seen.extend(e.data.what for e in events if isinstance(e.data, Fault))


class Ctx:
    def __init__(self, platform: Platform, client: TestClient, flaky: Flaky) -> None:
        self.platform, self.client, self.flaky = platform, client, flaky
        self.headers = {}
        for name, password in PASSWORDS.items():
            r = client.post("/auth/token", data={"username": name, "password": password})
            assert r.status_code == 200, r.text
            self.headers[name] = {"Authorization": f"Bearer {r.json()['access_token']}"}

    def audit(self, action: str) -> list[dict[str, Any]]:
        self.platform.audit.flush()
        return [e.public() for e in reversed(self.platform.audit.search(limit=100, action=action))]


@pytest.fixture
def ctx(settings: Settings) -> Iterator[Ctx]:
    settings = settings.model_copy(update={"bus": BusSettings(max_attempts=1)})
    platform = build_platform(settings, ManualClock(datetime(2026, 12, 7, 4, 0, tzinfo=UTC)))
    flaky = Flaky()
    platform.bus.subscribe(Fault.type, flaky, "flaky")
    app = create_app(settings, platform, start_services=False)
    for name in PASSWORDS:
        platform.auth.create_user(name, PASSWORDS[name], {Role.admin if name == "admin1" else Role.operator})
    with TestClient(app) as client:
        platform.bus.drain()
        with platform.store.write() as conn:
            platform.bus.publish(conn, Fault(what="first"))
        platform.bus.drain()
        yield Ctx(platform, client, flaky)
    platform.bus.stop()
    platform.store.close()


def test_administrators_list_and_replay_dead_letters_and_the_log_says_who(ctx: Ctx) -> None:
    admin, ops = ctx.headers["admin1"], ctx.headers["operator1"]
    assert ctx.client.get("/bus/dead-letters").status_code == 401
    assert ctx.client.get("/bus/dead-letters", headers=ops).status_code == 403
    r = ctx.client.get("/bus/dead-letters", headers=admin)
    assert r.status_code == 200, r.text
    [letter] = r.json()["deadLetters"]
    assert letter["subscriber"] == "flaky" and letter["attempts"] == 1
    assert letter["error"] == "RuntimeError: not yet"
    assert letter["event"]["type"] == "bustest.Fault" and letter["event"]["data"] == {"what": "first"}
    subs = ctx.client.get("/bus/subscribers", headers=admin).json()
    assert {s["name"] for s in subs["subscribers"]} >= {"flaky", "audit.events"} and subs["pending"] == 0

    ctx.flaky.fixed = True
    assert ctx.client.post(f"/bus/dead-letters/{letter['id']}/replay", headers=ops).status_code == 403
    r = ctx.client.post(f"/bus/dead-letters/{letter['id']}/replay", headers=admin)
    assert r.status_code == 200, r.text
    assert r.json()["replayRequestedBy"] == "admin1"
    assert ctx.platform.bus.drain()
    assert ctx.flaky.seen == ["first"]
    assert ctx.client.get("/bus/dead-letters", headers=admin).json()["deadLetters"] == []
    again = ctx.client.post(f"/bus/dead-letters/{letter['id']}/replay", headers=admin)
    assert again.status_code == 409 and "already replayed" in again.json()["message"]
    assert "message_ko" in again.json()
    assert ctx.client.post("/bus/dead-letters/999/replay", headers=admin).status_code == 404
    assert ctx.client.post("/bus/dead-letters/x/replay", headers=admin).status_code == 400

    [read, _] = ctx.audit("bus.dead_letters.read")
    assert read["actor"] == "admin1" and read["details"]["count"] == 1
    [replay] = ctx.audit("bus.replay")
    assert (replay["actor"], replay["target"]) == ("admin1", f"dead-letter:{letter['id']}")
    assert replay["details"]["subscriber"] == "flaky"


def test_the_cli_lists_and_replays_dead_letters(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, mqtt=MqttSettings(enabled=False), bus=BusSettings(max_attempts=1))
    platform = build_platform(settings)
    flaky = Flaky()
    platform.bus.subscribe(Fault.type, flaky, "flaky")
    platform.bus.drain()
    with platform.store.write() as conn:
        platform.bus.publish(conn, Fault(what="cli"))
    platform.bus.drain()
    r = run(["bus", "dead", "--json"], tmp_path)
    assert r.returncode == 0, r.stderr
    [letter] = json.loads(r.stdout)["deadLetters"]
    assert letter["event"]["data"] == {"what": "cli"}
    r = run(["bus", "status"], tmp_path)
    assert r.returncode == 0 and "flaky\tat " in r.stdout
    r = run(["bus", "replay", str(letter["id"]), "--as", "chief"], tmp_path)
    assert r.returncode == 0, r.stderr
    assert run(["bus", "replay", "77"], tmp_path).returncode == 1
    assert run(["bus", "replay", "x"], tmp_path).returncode == 2
    # the running platform performs the replay the CLI asked for, and the log keeps who asked
    flaky.fixed = True
    assert platform.bus.drain()
    assert flaky.seen == ["cli"]
    platform.audit.flush()
    [entry] = [e.public() for e in platform.audit.search(limit=10, action="bus.replay")]
    assert entry["actor"] == "chief"
    platform.bus.stop()
    platform.store.close()


def test_the_cli_on_a_store_never_migrated_says_what_to_run(tmp_path: Path) -> None:
    r = run(["bus", "status"], tmp_path)
    assert r.returncode == 1 and "safecity migrate" in r.stderr and "버스 테이블" in r.stderr
