# SPDX-License-Identifier: Apache-2.0
"""The one lifecycle of background tasks: started, woken, idle, failing without dying, stopped, seen in
/health and /metrics. The interval is a minute: every step here is driven by notify(), not by time."""

from __future__ import annotations

import threading
from collections import deque

from fastapi.testclient import TestClient

from safecity.app import create_app
from safecity.core.worker import Worker
from safecity.settings import Settings
from tests.conftest import Api

WAIT = 10.0


class Queue:
    def __init__(self) -> None:
        self.items: deque[int] = deque()
        self.done: list[int] = []
        self.fail_next = False
        self.release = threading.Event()
        self.release.set()

    def step(self) -> int:
        self.release.wait(WAIT)
        if self.fail_next:
            self.fail_next = False
            raise RuntimeError("disk full")
        if not self.items:
            return 0
        self.done.append(self.items.popleft())
        return 1


def test_a_worker_runs_what_it_is_given_and_goes_idle() -> None:
    q = Queue()
    w = Worker("test-queue", q.step, interval_s=60)
    assert not w.running and w.health().rounds == 0
    w.start()
    w.start()  # a second start is a no-op
    try:
        assert w.running
        q.items.extend([1, 2, 3])
        assert w.wait_idle(WAIT)
        assert q.done == [1, 2, 3]
        h = w.health()
        assert h.items == 3 and h.failures == 0 and h.last_round_at is not None
    finally:
        w.stop()
    assert not w.running
    w.stop()  # idempotent


def test_a_failing_step_is_counted_and_the_worker_goes_on() -> None:
    q = Queue()
    w = Worker("test-failing", q.step, interval_s=60)
    w.start()
    try:
        assert w.wait_idle(WAIT)
        q.fail_next = True
        q.items.append(7)
        assert w.wait_idle(WAIT)  # the failed round counts as idle; the next notify runs again
        h = w.health()
        assert h.failures == 1 and h.last_error == "RuntimeError: disk full" and h.running
        assert not w.healthy()  # its last round failed
        assert w.wait_idle(WAIT)
        assert q.done == [7] and w.healthy()
        assert w.health().to_json()["lastError"] == "RuntimeError: disk full"
    finally:
        w.stop()


def test_drain_on_stop_finishes_the_queue_and_a_timer_waits_first() -> None:
    q = Queue()
    q.release.clear()  # hold the first step until the queue is full and stop was asked
    w = Worker("test-drain", q.step, interval_s=60, drain_on_stop=True)
    w.start()
    q.items.extend(range(5))
    stopper = threading.Thread(target=w.stop)
    stopper.start()
    q.release.set()
    stopper.join(WAIT)
    assert q.done == [0, 1, 2, 3, 4] and not w.running
    timer = Queue()
    t = Worker("test-timer", timer.step, interval_s=60, wait_first=True)
    t.start()
    t.stop()
    assert t.health().rounds == 0  # stopped before its first interval ran out: never stepped


def test_health_and_metrics_show_every_worker(api: Api, settings: Settings) -> None:
    health = api.client.get("/health").json()
    # the services' own workers; capabilities' declared workers (quake's, flood's...) come beside them
    assert {"bus-dispatcher", "situation-clock", "warning-delivery", "audit-writer"} <= set(health["tasks"])
    assert health["tasks"]["bus-dispatcher"]["running"] is False  # services not started here
    api.platform.bus.start()
    try:
        assert api.platform.bus.drain()
        bus = api.client.get("/health").json()["tasks"]["bus-dispatcher"]
        assert bus["running"] is True and bus["rounds"] >= 1 and bus["failures"] == 0
        metrics = api.client.get("/metrics").text
        assert 'safecity_worker_running{worker="bus-dispatcher"} 1.0' in metrics
        assert 'safecity_worker_failures{worker="bus-dispatcher"} 0.0' in metrics
        assert "safecity_bus_dead_letters 0.0" in metrics
    finally:
        api.platform.bus.stop()


def test_services_start_and_stop_with_the_app(settings: Settings) -> None:
    app = create_app(settings)
    with TestClient(app) as client:
        workers = client.get("/health").json()["tasks"]
        assert workers["bus-dispatcher"]["running"] and workers["warning-delivery"]["running"]
        platform = app.state.platform
    assert not any(w.running for w in platform.tasks if w.name != "audit-writer")
    platform.store.close()
