# SPDX-License-Identifier: Apache-2.0
"""Storing tracker fixes with group commit: concurrent requests share one transaction.

Issue 17 asks for 3,300 fixes/s (100,000 people at one fix per 30 s) with fence alerts p99 < 100 ms.
Each tracker request carries one fix, so per-request work is what counts. py-spy on
``bench/tracking.py`` (docs/care.md) showed the time going into opening a connection and a transaction,
building two INSERT statements and committing for every fix, then moving fences one point at a time;
the Python interpreter runs one thread at a time, so 32 request threads did not share that work, they
queued for it.

Here the first request to arrive becomes the *leader*: it takes every request waiting (up to
``max_batch``), stores all their fixes with one ``executemany`` and one access record per person
(§16②) in one transaction, runs the listeners (fences, trips, wandering) once over the whole batch in
time order per person, and then answers each request with its own result. Requests that arrive
meanwhile wait for the next leader (which may be the same thread, looping while anything waits). No
thread is started and nothing waits on a timer: a lone request is stored at once.

* A request is answered only after its fixes are committed and the listeners have decided on them,
  so "200 OK" still means "stored, and the fences know".
* If the shared transaction fails, each request of the batch is retried in a transaction of its own,
  so one bad request fails alone and the others are stored (nothing accepted is lost).
* The same fix (device, time) sent twice, in one batch or across batches, is stored once and counted
  as a duplicate for the request that did not store it.
* HTTP requests wait without a thread of their own (:meth:`FixPipeline.submit_async`): py-spy showed a
  quarter of the time holding the interpreter lock in waking one waiting request thread per fix (a
  futex wake each, and a context switch with the lock held when the machine is loaded). An event loop's
  requests are answered together: one ``call_soon_threadsafe`` per batch resolves all their futures, and
  a batch is written on an executor thread only when no leader is already writing.
"""

from __future__ import annotations

import asyncio
import threading
from collections import defaultdict, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Connection, type_coerce

from safecity.care import consent, records
from safecity.care.model import Device, Fix, IngestResult, Position
from safecity.care.tables import positions
from safecity.core.clock import Clock
from safecity.core.logging import get_logger
from safecity.core.timeutil import to_micros
from safecity.store import Store

log = get_logger(__name__)

#: Called after fixes are committed, in time order per person (fences, trips, wandering).
FixListener = Callable[[Sequence[Position]], object]


@dataclass
class _Request:
    device: Device
    fixes: Sequence[Fix]
    #: a thread's request waits on ``done``; an event loop's on ``future`` (set on its loop)
    done: threading.Event | None = None
    future: asyncio.Future[IngestResult] | None = None
    loop: asyncio.AbstractEventLoop | None = None
    result: IngestResult | None = None
    error: BaseException | None = None

    @property
    def answered(self) -> bool:
        return self.result is not None or self.error is not None


def _resolve(requests: list[_Request]) -> None:
    """On the requests' event loop: each future gets its request's result or error (a request whose
    client went away meanwhile has a cancelled future: nothing to tell it)."""
    for req in requests:
        fut = req.future
        if fut is None or fut.done():
            continue
        if req.error is not None:
            fut.set_exception(req.error)
        else:
            assert req.result is not None
            fut.set_result(req.result)


class FixPipeline:
    """Group commit of tracker fixes (module docstring). ``refused`` is the error for a request whose
    person has no active location consent when the batch is written (a withdrawal that committed
    after the request's own check: nothing is stored for it)."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        listeners: list[FixListener],
        refused: Callable[[Device], Exception],
        insert_new: Callable[[], Any],
        max_batch: int = 512,
    ) -> None:
        self.store = store
        self.clock = clock
        self.listeners = listeners  # the caller's list: a listener added later is called too
        self.refused = refused
        self.insert_new = insert_new
        self.max_batch = max_batch
        self._queue: deque[_Request] = deque()
        self._leader = threading.Lock()
        self._scheduled = False  # a drain was handed to an executor and has not started yet
        self._insert_returning: Any = None
        #: batches written and requests in them (for the bench's report)
        self.batches = 0
        self.requests = 0

    def submit(self, device: Device, fixes: Sequence[Fix]) -> IngestResult:
        """Store a request's fixes from a thread (MQTT, SensorThings): it leads or waits."""
        req = _Request(device, fixes, done=threading.Event())
        self._queue.append(req)  # deque.append is atomic: no lock needed to join the queue
        self._drain()
        assert req.done is not None
        req.done.wait()
        if req.error is not None:
            raise req.error
        assert req.result is not None
        return req.result

    async def submit_async(self, device: Device, fixes: Sequence[Fix]) -> IngestResult:
        """Store a request's fixes from an event loop (the HTTP trackers): it waits on a future, and a
        writer runs on an executor thread only if none is writing already."""
        loop = asyncio.get_running_loop()
        req = _Request(device, fixes, future=loop.create_future(), loop=loop)
        self._queue.append(req)
        if not self._leader.locked() and not self._scheduled:
            # a leader that released since would look at the queue again (``_drain``), one that has
            # not yet released will see this request, and so will a drain scheduled but not yet
            # started: either way it is not left waiting for nobody (and one drain is scheduled, not
            # one per request: creating an executor's future each time cost more than the request)
            self._scheduled = True
            loop.run_in_executor(None, self._drain)
        assert req.future is not None
        return await req.future

    def _drain(self) -> None:
        self._scheduled = False  # before looking at the queue: a request queued from now is seen
        while self._leader.acquire(blocking=False):
            try:
                while self._queue:
                    batch = [self._queue.popleft() for _ in range(min(self.max_batch, len(self._queue)))]
                    try:
                        self._run(batch)
                    finally:
                        self._answer(batch)
            finally:
                self._leader.release()
            # a request queued after the last look but before the release would wait for nobody:
            # look again now that the lock is free (another thread may take it first, and drain)
            if not self._queue:
                break

    @staticmethod
    def _answer(batch: list[_Request]) -> None:
        """Wake the batch's requests: threads one by one, each event loop once for all of its own."""
        loops: dict[asyncio.AbstractEventLoop, list[_Request]] = defaultdict(list)
        for req in batch:
            if not req.answered:  # the batch failed before deciding on it (an interrupt): say so
                req.error = RuntimeError("the batch storing this request's fixes failed")
            if req.done is not None:
                req.done.set()
            elif req.loop is not None:
                loops[req.loop].append(req)
        for loop, requests in loops.items():
            try:
                loop.call_soon_threadsafe(_resolve, requests)
            except RuntimeError:  # its loop is closed: nobody is waiting any more
                log.warning("care fixes: %d requests' event loop closed before the answer", len(requests))

    def _insert(self) -> Any:
        """The INSERT returning the (device, time) of each row stored. On SQLite the time comes back
        as the stored microseconds (making a datetime of each cost more than the insert's own SQL:
        py-spy), and the fixes' times are compared as microseconds too (:meth:`_at_key`)."""
        if self._insert_returning is None:
            at: Any = positions.c.at
            if self.store.dialect != "postgresql":
                at = type_coerce(positions.c.at, BigInteger())
            self._insert_returning = self.insert_new().returning(positions.c.device_id, at)
        return self._insert_returning

    def _at_key(self) -> Callable[[datetime], object]:
        return (lambda at: at) if self.store.dialect == "postgresql" else to_micros

    # -- one batch -----------------------------------------------------------------------------
    def _run(self, batch: list[_Request]) -> None:
        """Store the batch and decide on it; sets each request's result or error (``_answer`` wakes
        them)."""
        self.batches += 1
        self.requests += len(batch)
        try:
            fresh = self._store(batch)
        except Exception:  # noqa: BLE001 - the boundary for other threads' requests: retried one by one
            log.warning(
                "care fixes: the batch transaction failed; storing its %d requests one by one", len(batch)
            )
            fresh = []
            for req in batch:
                if req.error is not None:  # refused: nothing of it was to be stored
                    continue
                req.result = None  # counted in the transaction that failed
                try:
                    fresh.extend(self._store([req]))
                except Exception as exc:  # noqa: BLE001 - handed to the request's own waiter, which raises it
                    req.error = exc
        try:
            if fresh and self.listeners:
                fresh.sort(key=lambda p: (p.person_id, p.at))
                for listener in self.listeners:
                    listener(fresh)
        except BaseException as exc:
            # the fixes are stored; the requests learn that deciding on them failed (as before batching)
            log.exception("care fixes: a listener failed on a batch", positions=len(fresh))
            for req in batch:
                if req.error is None:
                    req.result = None
                    req.error = exc

    def _store(self, batch: list[_Request]) -> list[Position]:
        """One transaction for the batch; sets each request's result (not ``done``) and returns the
        positions stored, unsorted. A refused request gets its error and is left out."""
        now = self.clock.now()
        with self.store.write() as conn:
            # re-read under the writer's lock: the request's own check used a cache
            allowed = consent.with_location(conn, (r.device.person_id for r in batch), self.store.dialect)
            accepted: list[_Request] = []
            for req in batch:
                if req.device.person_id in allowed:
                    accepted.append(req)
                else:
                    req.error = self.refused(req.device)
            rows = [
                {
                    "person_id": req.device.person_id,
                    "device_id": req.device.id,
                    "at": f.at,
                    "lon": f.lon,
                    "lat": f.lat,
                    "accuracy_m": f.accuracy_m,
                    "speed_ms": f.speed_ms,
                    "bearing": f.bearing,
                    "altitude_m": f.altitude_m,
                    "battery": f.battery,
                    "received_at": now,
                }
                for req in accepted
                for f in req.fixes
            ]
            if not rows:
                self._claim(accepted, set(), self._at_key())
                return []
            inserted = {(int(r[0]), r[1]) for r in conn.execute(self._insert(), rows)}
            fresh = self._claim(accepted, inserted, self._at_key())
            _collect(conn, fresh, now)
        return fresh

    @staticmethod
    def _claim(
        accepted: list[_Request], inserted: set[tuple[int, object]], at_key: Callable[[datetime], object]
    ) -> list[Position]:
        """Each stored (device, time) counted once, for the first request that carried it."""
        fresh: list[Position] = []
        for req in accepted:
            d = req.device
            stored = 0
            for f in req.fixes:
                key = (d.id, at_key(f.at))
                if key in inserted:
                    inserted.discard(key)
                    stored += 1
                    fresh.append(
                        Position(d.person_id, d.id, f.at, f.lon, f.lat, f.accuracy_m, f.speed_ms, f.battery)
                    )
            req.result = IngestResult(stored, len(req.fixes) - stored)
        return fresh


def _collect(conn: Connection, fresh: Sequence[Position], now: datetime) -> None:
    """One collection record per person and batch (§16②): the count and the span of their fixes."""
    spans: dict[int, tuple[int, datetime, datetime]] = {}
    for p in fresh:
        seen = spans.get(p.person_id)
        spans[p.person_id] = (
            (1, p.at, p.at) if seen is None else (seen[0] + 1, min(seen[1], p.at), max(seen[2], p.at))
        )
    if spans:
        records.collect_many(conn, now, spans)


__all__ = ["FixListener", "FixPipeline"]
