# SPDX-License-Identifier: Apache-2.0
"""The renewal of alerts in force runs on the one worker lifecycle (safecity.core.worker): started and
stopped with the capability, its rounds and failures on /health and /metrics, and the alerts it finds
due are due on the platform clock (a ManualClock here: nothing sleeps for the hours an alert lasts)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from safecity.core.clock import ManualClock
from safecity.settings import Settings
from safecity.warning.model import AlertDetail
from tests.warning.test_alert_api import NOW, XSD, Ctx, _ctx

WAIT = 60.0  # a round is quick; the bound only keeps a broken worker from hanging the test


@pytest.fixture
def ctx(settings: Settings) -> Iterator[Ctx]:
    yield from _ctx(settings.model_copy(update={"cap_xsd": XSD}))


def _issued(ctx: Ctx) -> list[str]:
    return sorted(a.msg_type for a in ctx.platform.warnings.list(state="issued"))


def test_the_renew_worker_renews_what_the_platform_clock_says_is_due(ctx: Ctx) -> None:
    warnings = ctx.platform.warnings
    clock = warnings.clock
    assert isinstance(clock, ManualClock)
    ctx.incident(3, ["11590"])
    (draft,) = ctx.drafts()
    ctx.client.post(f"/alerts/{draft['identifier']}/approve", headers=ctx.headers)
    worker = warnings.renew_worker
    assert ctx.client.get("/health").json()["tasks"]["warning-renew"]["running"] is False
    worker.start()
    try:
        assert worker.wait_idle(WAIT)
        assert _issued(ctx) == ["Alert"]  # heavy rain lasts 3 h: far from its expiry, nothing to renew
        clock.set(NOW + timedelta(hours=2))  # within half its validity of <expires>
        assert worker.wait_idle(WAIT)
        assert _issued(ctx) == ["Alert", "Update"]
        assert worker.wait_idle(WAIT)
        assert _issued(ctx) == ["Alert", "Update"]  # renewed once, not every round
        task = ctx.client.get("/health").json()["tasks"]["warning-renew"]
        assert task["running"] is True and task["rounds"] >= 3 and task["failures"] == 0
        assert 'safecity_worker_running{worker="warning-renew"} 1.0' in ctx.client.get("/metrics").text
    finally:
        worker.stop()
    assert not worker.health().running


def test_a_failing_round_is_counted_and_the_next_one_runs(ctx: Ctx, monkeypatch: pytest.MonkeyPatch) -> None:
    warnings = ctx.platform.warnings
    worker = warnings.renew_worker
    renew = warnings.renew
    faults = ["store unreachable"]

    def flaky(now: Any = None) -> list[AlertDetail]:
        if faults:
            raise RuntimeError(faults.pop())
        return renew(now)

    monkeypatch.setattr(warnings, "renew", flaky)
    worker.start()
    try:
        assert worker.wait_idle(WAIT)
        health = worker.health()
        assert health.running and health.failures == 1 and health.last_error is not None
        assert "store unreachable" in health.last_error and not worker.healthy()
        assert worker.wait_idle(WAIT)  # the fault is gone: the next round succeeds
        assert worker.healthy() and worker.health().failures == 1
    finally:
        worker.stop()
