# SPDX-License-Identifier: Apache-2.0
"""In-process bus over the outbox table (the embedded default).

A dispatcher thread reads pending outbox rows in id order, hands each topic's events to its
subscribers, and marks the rows delivered only afterwards. A crash between commit and delivery leaves
the rows pending and they are delivered on the next start (at-least-once: subscribers must tolerate a
repeat, which they can detect by observation id).
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Connection

from safecity.bus.port import Decoder, Handler
from safecity.bus.tables import outbox
from safecity.core.clock import Clock, SystemClock
from safecity.core.events import ENTITY_CHANGED, EntityChanged
from safecity.core.logging import get_logger
from safecity.store import Store

log = get_logger(__name__)


def _default_decode(topic: str, payload: dict[str, Any]) -> list[Any]:
    if topic == ENTITY_CHANGED:
        return [EntityChanged(payload["entity"], payload["id"], payload["action"])]
    return [payload]


class InProcessBus:
    def __init__(
        self, store: Store, clock: Clock | None = None, poll_s: float = 1.0, coalesce_s: float = 0.01
    ) -> None:
        self.store = store
        self.clock = clock or SystemClock()
        self.poll_s = poll_s
        self.coalesce_s = coalesce_s
        self._handlers: dict[str, list[tuple[str, Handler, Callable[[], bool] | None]]] = defaultdict(list)
        self._decoders: dict[str, Decoder] = {}
        self._wake = threading.Event()
        self._idle = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def subscribe(
        self, topic: str, handler: Handler, name: str, wants: Callable[[], bool] | None = None
    ) -> None:
        self._handlers[topic].append((name, handler, wants))

    def register_decoder(self, topic: str, decoder: Decoder) -> None:
        self._decoders[topic] = decoder

    def publish(self, conn: Connection, topic: str, payload: dict[str, Any]) -> None:
        conn.execute(insert(outbox).values(topic=topic, payload=payload, created_at=self.clock.now()))

    def notify(self) -> None:
        self._idle.clear()
        self._wake.set()

    def start(self) -> None:
        if self._thread:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="bus-dispatcher", daemon=True)
        self._thread.start()
        self.notify()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread:
            self._thread.join(timeout=10)
        self._thread = None

    def pending(self) -> int:
        with self.store.engine.connect() as conn:
            return int(conn.execute(select(func.count()).where(outbox.c.delivered_at.is_(None))).scalar_one())

    def drain(self, timeout: float = 10.0) -> bool:
        if self._thread is None:
            self.deliver_pending()
            return self.pending() == 0
        self.notify()
        self._idle.wait(timeout)
        return self.pending() == 0

    def deliver_pending(self, limit: int = 200) -> int:
        """Deliver up to ``limit`` pending outbox rows; returns how many were delivered.

        Rows of topics nobody subscribes to are marked delivered without being read or decoded, so an
        idle capability costs the ingest path nothing.
        """
        with self.store.engine.connect() as conn:
            pending = conn.execute(
                select(outbox.c.id, outbox.c.topic)
                .where(outbox.c.delivered_at.is_(None))
                .order_by(outbox.c.id)
                .limit(limit)
            ).all()
            done: list[int] = []
            for row_id, topic in pending:
                handlers = [h for h in self._handlers.get(topic, ()) if h[2] is None or h[2]()]
                if handlers:
                    payload = conn.execute(select(outbox.c.payload).where(outbox.c.id == row_id)).scalar_one()
                    decoder = self._decoders.get(topic)
                    events = decoder(conn, payload) if decoder else _default_decode(topic, payload)
                    for name, handler, _ in handlers:
                        try:
                            handler(events)
                        except (
                            Exception
                        ):  # a subscriber's outermost boundary: one bad subscriber must not stop the others
                            log.exception(
                                "bus subscriber failed", subscriber=name, topic=topic, outbox_id=row_id
                            )
                done.append(row_id)
        if done:
            with self.store.write() as wconn:
                wconn.execute(
                    update(outbox).where(outbox.c.id.in_(done)).values(delivered_at=self.clock.now())
                )
        return len(done)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            try:
                n = self.deliver_pending()
            except Exception:  # keep the dispatcher alive; the rows stay pending and are retried
                log.exception("bus dispatcher failed; retrying")
                n = 0
            if n == 0:
                self._idle.set()
                self._wake.wait(self.poll_s)
            else:
                # Let a busy ingest commit a few more batches before the next round, so marking rows
                # delivered costs one write transaction per round rather than one per batch.
                self._stop.wait(self.coalesce_s)
