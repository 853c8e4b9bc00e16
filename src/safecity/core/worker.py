# SPDX-License-Identifier: Apache-2.0
"""One lifecycle for every background task: start, stop, wake, wait until idle, health.

A :class:`Worker` calls its ``step`` in a loop on one daemon thread. ``step`` does a bounded amount of
work and returns how much (0: nothing to do now); after 0 the worker sleeps ``interval_s`` or until
:meth:`notify`, otherwise it goes on after ``busy_pause_s``. A step that raises is logged with the
worker's name, counted, and retried after ``interval_s``: one bad round never ends the thread.
:meth:`health` says what the health route and the metrics show: whether it runs, how many rounds and
failures, the last error and when the last round ended.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from safecity.core.logging import get_logger

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class WorkerHealth:
    name: str
    running: bool
    rounds: int
    items: int  # what the steps reported done, in total
    failures: int
    last_error: str | None
    last_round_at: datetime | None  # wall-clock time the last round ended (the health of the thread)

    def to_json(self) -> dict[str, object]:
        return {
            "running": self.running,
            "rounds": self.rounds,
            "items": self.items,
            "failures": self.failures,
            "lastError": self.last_error,
            "lastRoundAt": self.last_round_at.isoformat() if self.last_round_at else None,
        }


class Worker:
    def __init__(
        self,
        name: str,
        step: Callable[[], int],
        *,
        interval_s: float = 1.0,
        busy_pause_s: float = 0.0,
        wait_first: bool = False,
        drain_on_stop: bool = False,
    ) -> None:
        """``wait_first``: sleep ``interval_s`` (or until :meth:`notify`) before the first step (a
        timer); ``drain_on_stop``: on :meth:`stop`, keep stepping until a step returns 0 (a queue that
        must not be dropped)."""
        self.name = name
        self.step = step
        self.interval_s = interval_s
        self.busy_pause_s = busy_pause_s
        self.wait_first = wait_first
        self.drain_on_stop = drain_on_stop
        self._wake = threading.Event()
        self._idle = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._rounds = 0
        self._items = 0
        self._failures = 0
        self._last_error: str | None = None
        self._last_round_at: datetime | None = None
        self._last_failed = False

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        with self._lock:
            if self._thread is not None:
                return
            self._stop.clear()
            self._idle.clear()
            self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """End the thread after the step in hand (and, with ``drain_on_stop``, what is queued)."""
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is None:
            return
        self._stop.set()
        self._wake.set()
        thread.join(timeout)
        if thread.is_alive():
            log.warning("worker did not stop in time", worker=self.name, timeout_s=timeout)

    @property
    def stopping(self) -> bool:
        """Asked to stop: a step that waits for more work should stop waiting."""
        return self._stop.is_set()

    def notify(self) -> None:
        """There is work: run a step now rather than after the interval. Cheap when the worker is
        already awake (called once per incoming message on the MQTT path)."""
        if self._idle.is_set():
            self._idle.clear()
        if not self._wake.is_set():
            self._wake.set()

    def wait_idle(self, timeout: float) -> bool:
        """Wake the worker and wait until a step found nothing to do; True if it did in time."""
        self.notify()
        return self._idle.wait(timeout)

    def healthy(self) -> bool:
        """Running, and its last round did not raise (a capability's worker, see safecity.capability)."""
        return self.running and not self._last_failed

    def health(self) -> WorkerHealth:
        return WorkerHealth(
            self.name,
            self.running,
            self._rounds,
            self._items,
            self._failures,
            self._last_error,
            self._last_round_at,
        )

    def _run(self) -> None:
        if self.wait_first:
            self._wake.wait(self.interval_s)  # notify() (a test's wait_idle) or stop() cuts it short
        while True:
            stopping = self._stop.is_set()
            if stopping and not self.drain_on_stop:
                return
            self._wake.clear()
            try:
                n = self.step()
            except Exception as e:  # the worker's outermost boundary: logged, counted, retried
                log.exception("worker step failed; retrying", worker=self.name)
                self._failures += 1
                self._last_error = f"{type(e).__name__}: {e}"[:500]
                n = -1
                self._last_failed = True
            else:
                self._items += n
                self._last_failed = False
            self._rounds += 1
            self._last_round_at = datetime.now(UTC)
            if stopping and n <= 0:
                return
            if n <= 0:
                self._idle.set()
                self._wake.wait(self.interval_s)
            elif self.busy_pause_s:
                self._stop.wait(self.busy_pause_s)  # returns at once when stopping: a drain goes on
