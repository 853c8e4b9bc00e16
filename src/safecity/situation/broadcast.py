# SPDX-License-Identifier: Apache-2.0
"""Fan-out of situation changes to Server-Sent Events clients.

Changes are produced on the bus dispatcher thread; each SSE client is an asyncio queue on the server's
event loop, fed with ``call_soon_threadsafe``. Every change gets an increasing id and the last ones are
kept, so a dashboard that reconnects with ``Last-Event-ID`` gets what it missed instead of a gap.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import threading
from collections import deque
from dataclasses import dataclass
from typing import Any

import orjson

#: A client whose queue holds this many undelivered changes is cut off (it reconnects and catches up
#: from the replay buffer), so one stalled dashboard cannot grow the server's memory.
QUEUE_LIMIT = 2000
REPLAY = 1000


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


class Broadcaster:
    def __init__(self) -> None:
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._clients: set[_Client] = set()
        self._recent: deque[Change] = deque(maxlen=REPLAY)

    def publish(self, event: str, data: dict[str, Any]) -> None:
        with self._lock:
            change = Change(next(self._ids), event, orjson.dumps(data))
            self._recent.append(change)
            clients = list(self._clients)
        for c in clients:
            if c.closed:
                continue
            if c.queue.qsize() >= QUEUE_LIMIT:
                c.closed = True
                with contextlib.suppress(RuntimeError):
                    c.loop.call_soon_threadsafe(c.queue.put_nowait, None)
                continue
            with contextlib.suppress(RuntimeError):  # the loop closed under us: the client is gone
                c.loop.call_soon_threadsafe(c.queue.put_nowait, change)

    def subscribe(self, last_id: int | None = None) -> tuple[_Client, list[Change]]:
        client = _Client(asyncio.get_running_loop())
        with self._lock:
            self._clients.add(client)
            missed = [c for c in self._recent if last_id is not None and c.id > last_id]
        return client, missed

    def unsubscribe(self, client: _Client) -> None:
        with self._lock:
            self._clients.discard(client)

    @property
    def clients(self) -> int:
        return len(self._clients)
