# SPDX-License-Identifier: Apache-2.0
"""GET /situation from any process (issue 15): the conditions in force are saved by the engine that
evaluates them (situation_engine_state), so an app instance without the rule engine, or with another
district's engine, shows the same board as the one running it. Two app instances over one database, as
two processes behind one load balancer; on both stores."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from safecity.app import Platform, build_platform, create_app
from safecity.auth.model import Role
from safecity.core.clock import ManualClock
from safecity.settings import Settings
from safecity.settings.nested import SituationSettings
from tests.situation.test_snapshot import START, _gauges, _rain

PASSWORD = "duty-officer-password"


def _client(settings: Settings, platform: Platform) -> TestClient:
    return TestClient(create_app(settings, platform, start_services=False))


def _board(client: TestClient) -> dict[str, Any]:
    r = client.post("/auth/token", data={"username": "duty-officer", "password": PASSWORD})
    assert r.status_code == 200, r.text
    r = client.get("/situation", headers={"Authorization": f"Bearer {r.json()['access_token']}"})
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    body.pop("generatedAt")
    body.pop("unreadStreams", None)  # the streams no rule reads: known where the rules are planned
    body.pop("sensors")
    body["conditions"] = sorted(body["conditions"], key=lambda c: (c["rule"], c["subject"]))
    return body


@pytest.fixture
def two(settings: Settings) -> Iterator[tuple[list[Platform], list[int], list[Settings]]]:
    clock = ManualClock(START + timedelta(hours=3))
    made: list[Platform] = []
    every: list[Settings] = []
    try:
        for share in ("1/2", "2/2", ""):
            s = settings.model_copy(update={"situation": SituationSettings(partition=share)})
            every.append(s)
            made.append(build_platform(s, clock, roles=frozenset({"rules"})))
        made[0].auth.create_user("duty-officer", PASSWORD, {Role.operator})
        yield made, _gauges(made[0]), every
    finally:
        for p in made:
            p.bus.stop()
            p.store.close()


def test_every_process_serves_the_same_conditions(
    two: tuple[list[Platform], list[int], list[Settings]],
) -> None:
    (one, other, plain), streams, every = two
    one.situation.start(ticker=False)  # Dongjak's district
    other.situation.start(ticker=False)  # Seocho's
    # `plain` runs no rule engine: a process of the role ingest, say
    _rain(one, streams, range(0, 8))
    for _ in range(2):
        for p in (one, other):
            p.bus.drain(30)
    for p in (one, other):
        p.situation.state.save()  # the values as of now (conditions are written as they change)
    boards = [_board(_client(s, p)) for s, p in zip(every, (one, other, plain), strict=True)]
    subjects = {c["subject"] for c in boards[0]["conditions"]}
    assert subjects == {f"ds:{sid}" for sid in streams}  # both districts', whichever engine has them
    assert boards[0]["level"]["level"] > 0 and boards[0]["incidents"]
    assert boards[1] == boards[0]
    assert boards[2] == boards[0]
