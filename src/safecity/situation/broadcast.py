# SPDX-License-Identifier: Apache-2.0
"""Fan-out of committed events to Server-Sent Events clients, from any process.

A :class:`Broadcaster` follows some event types on the bus's outbox (``follow``): a worker of every
process reads the new outbox rows of those types in id (commit) order and hands each, rendered, to the
SSE clients of this process. The SSE id of a frame is the event's id, so a client that reconnects with
``Last-Event-ID`` (to this process after a restart, or to another process behind the same load
balancer) gets exactly what it missed, read back from the outbox: the ids are the store's, not one
process's memory. Outbox ids are given out in commit order (``safecity.bus.outbox``), so a reader that
has passed an id never sees an earlier one commit later.

Each SSE client is an asyncio queue on the server's event loop, fed with ``call_soon_threadsafe``.
Registering a client and noting the feed's position happen under one lock, and the catch-up reads up
to that position only, so an event is either caught up or streamed live, never both nor neither.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy import select

from safecity.bus import outbox as ob
from safecity.bus.tables import outbox
from safecity.core.logging import get_logger
from safecity.core.worker import Worker

if TYPE_CHECKING:
    from safecity.store import Store

log = get_logger(__name__)

#: A client whose queue holds this many undelivered changes is cut off (it reconnects and catches up
#: from the outbox), so one stalled dashboard cannot grow the server's memory.
QUEUE_LIMIT = 2000
#: At most this many missed events are sent to a reconnecting client (the newest are kept).
REPLAY = 1000
#: How often the feed looks for new events (seconds): the stream's added latency.
FEED_INTERVAL_S = 0.2

#: Renders an event (its type and stored payload) as an SSE frame's event name and data; None: skipped.
Render = Callable[[str, dict[str, Any]], tuple[str, dict[str, Any]] | None]


@dataclass(frozen=True, slots=True)
class Change:
    id: int
    event: str
    data: bytes

    def frame(self) -> bytes:
        return b"id: %d\nevent: %s\ndata: %s\n\n" % (self.id, self.event.encode(), self.data)


class _Client:
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.queue: asyncio.Queue[Change | None] = asyncio.Queue()
        self.closed = False
        #: events up to this id are not streamed to it: committed before it connected (the feed may
        #: not have read them yet), or already caught up from the outbox
        self.after = 0


class Broadcaster:
    def __init__(self, store: Store | None = None, name: str = "sse-feed") -> None:
        """``store``: the outbox to follow (None: only :meth:`publish_change` feeds it, as in unit tests
        of a channel)."""
        self.store = store
        self._lock = threading.Lock()
        self._clients: set[_Client] = set()
        self._render: dict[str, Render] = {}
        self._position: int | None = None
        self.worker = Worker(name, self._step, interval_s=FEED_INTERVAL_S)

    def follow(self, types: Iterable[str], render: Render) -> None:
        """Stream the events of ``types``, rendered by ``render`` (another capability adds its own)."""
        for t in types:
            self._render[t] = render

    def stop(self) -> None:
        self.worker.stop()

    # -- the feed ----------------------------------------------------------------------------------
    def _start_position(self) -> int:
        if self._position is None:
            assert self.store is not None
            with self.store.engine.connect() as conn:
                head = ob.head(conn)
            with self._lock:
                if self._position is None:
                    self._position = head
        return self._position

    def _read(self, after: int, upto: int, limit: int, newest: bool = False) -> list[Change]:
        """The followed events in (after, upto], in id order: the first ``limit`` (the newest ones)."""
        assert self.store is not None
        q = select(outbox.c.id, outbox.c.topic, outbox.c.payload).where(
            outbox.c.id > after, outbox.c.id <= upto, outbox.c.topic.in_(list(self._render))
        )
        q = q.order_by(outbox.c.id.desc() if newest else outbox.c.id).limit(limit)
        with self.store.engine.connect() as conn:
            rows = list(conn.execute(q).all())
        if newest:
            rows.reverse()
        out = []
        for oid, topic, payload in rows:
            try:
                rendered = self._render[topic](topic, payload)
            except Exception:  # one event that cannot be rendered must not stop the stream
                log.exception("SSE event not rendered", event_id=oid, type=topic)
                continue
            if rendered is not None:
                out.append(Change(int(oid), rendered[0], orjson.dumps(rendered[1])))
        return out

    def _step(self) -> int:
        """One round of the feed: the events committed since the last round, to every client."""
        if self.store is None or not self._render:
            return 0
        position = self._start_position()
        with self.store.engine.connect() as conn:
            head = ob.head(conn)
        if head <= position:
            return 0
        changes = self._read(position, head, 10_000)
        with self._lock:
            self._position = head
            clients = list(self._clients)
        for change in changes:
            self._fan_out(change, clients)
        # 0 when nothing followed was committed: the worker then waits for notify() or its interval,
        # instead of polling flat out while observations (not followed) keep the head moving
        return len(changes)

    def publish_change(self, change: Change) -> None:
        """Hand one change to this process's clients (the feed does; a test may too)."""
        with self._lock:
            clients = list(self._clients)
        self._fan_out(change, clients)

    def _fan_out(self, change: Change, clients: list[_Client]) -> None:
        for c in clients:
            if c.closed or change.id <= c.after:
                continue
            if c.queue.qsize() >= QUEUE_LIMIT:
                c.closed = True
                with contextlib.suppress(RuntimeError):
                    c.loop.call_soon_threadsafe(c.queue.put_nowait, None)
                continue
            with contextlib.suppress(RuntimeError):  # the loop closed under us: the client is gone
                c.loop.call_soon_threadsafe(c.queue.put_nowait, change)

    # -- clients -----------------------------------------------------------------------------------
    def subscribe(self, last_id: int | None = None) -> tuple[_Client, list[Change]]:
        """A new client, and (with ``last_id``) the events after it it missed, from the outbox."""
        client = _Client(asyncio.get_running_loop())
        position = None
        head = None
        if self.store is not None and self._render:
            self._start_position()
            self.worker.start()  # the first client starts the feed (it runs until the app stops)
            if last_id is None:
                # "from now on" is from what is committed now: the feed waits up to FEED_INTERVAL_S (or
                # a notify) between rounds, so its position may lag behind events committed before
                # this client came
                with self.store.engine.connect() as conn:
                    head = ob.head(conn)
        with self._lock:
            self._clients.add(client)
            position = self._position
            if head is not None:
                client.after = head
            elif last_id is not None:
                # caught up to the feed's position below; the feed streams what comes after, and never
                # what this client already has (a reconnect to a process whose feed is behind it)
                client.after = max(last_id, position or 0)
        missed: list[Change] = []
        if last_id is not None and position is not None and last_id < position:
            missed = self._read(last_id, position, REPLAY, newest=True)
        return client, missed

    def unsubscribe(self, client: _Client) -> None:
        with self._lock:
            self._clients.discard(client)

    @property
    def clients(self) -> int:
        return len(self._clients)
