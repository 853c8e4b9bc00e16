# SPDX-License-Identifier: Apache-2.0
"""The events this process published, kept in memory from their commit until every subscriber has them:
the embedded bus's dispatcher (:mod:`safecity.bus.inprocess`) then hands over the very event that was
published instead of reading and decoding its outbox payload again."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import event as sa_event
from sqlalchemy.engine import Connection
from sqlalchemy.exc import InvalidRequestError

from safecity.bus import outbox as ob
from safecity.core.events import Event


class RecentEvents:
    """Events this process published, by id, from their commit until delivered to every subscriber.

    An event joins at its transaction's commit (SQLAlchemy's commit event, which fires just before the
    COMMIT; a COMMIT that then fails rolls back, and the rollback event takes the events out again). A
    hit is used only when its header matches the outbox row read (type, version, source, key, time), so
    a stale entry can never stand in for another event.
    """

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.events: OrderedDict[int, tuple[Event, tuple[str, int, str, str, datetime]]] = OrderedDict()
        self.lock = threading.Lock()
        self.key = object()  # this bus's entry in a connection's info

    def _hooks(self) -> list[tuple[str, Callable[..., None]]]:
        return [
            ("begin", self._begin),
            ("commit", self._commit),
            ("rollback", self._rollback),
            ("savepoint", self._savepoint),
            ("rollback_savepoint", self._rollback_savepoint),
        ]

    def listen(self, engine: Any) -> None:
        for name, fn in self._hooks():
            sa_event.listen(engine, name, fn)

    def unlisten(self, engine: Any) -> None:
        for name, fn in self._hooks():
            if sa_event.contains(engine, name, fn):
                sa_event.remove(engine, name, fn)

    def _begin(self, conn: Connection) -> None:
        # the previous transaction's COMMIT succeeded, or it would have rolled back
        conn.info.pop((self.key, "committing"), None)

    def _savepoint(self, conn: Connection, name: str) -> None:
        # events published inside a savepoint that is rolled back never existed
        marks = conn.info.setdefault((self.key, "savepoints"), {})
        marks[name] = len(conn.info.get(self.key, ()))

    def _rollback_savepoint(self, conn: Connection, name: str, context: Any) -> None:
        mark = conn.info.get((self.key, "savepoints"), {}).pop(name, None)
        pending = conn.info.get(self.key)
        if mark is not None and pending:
            del pending[mark:]

    def pending(
        self, conn: Connection, oid: int, model: Event, header: tuple[str, int, str, str, datetime]
    ) -> None:
        conn.info.setdefault(self.key, []).append((oid, model, header))

    def _commit(self, conn: Connection) -> None:
        pending = conn.info.pop(self.key, None)
        conn.info.pop((self.key, "savepoints"), None)
        if not pending:
            return
        conn.info[(self.key, "committing")] = [oid for oid, _, _ in pending]
        with self.lock:
            for oid, model, header in pending:
                self.events[oid] = (model, header)
            while len(self.events) > self.cap:
                self.events.popitem(last=False)

    def _rollback(self, conn: Connection) -> None:
        try:
            info = conn.info
        except InvalidRequestError:
            # the session died (the server restarted): closing its connection rolls back here, and
            # raising would hide the real error and stop the caller's clean-up (a leader stepping down).
            # What it published is not cached before its COMMIT succeeded, so there is nothing to undo
            # unless the COMMIT itself failed, and then no outbox row ever carries those ids.
            return
        info.pop(self.key, None)
        info.pop((self.key, "savepoints"), None)
        failed = info.pop((self.key, "committing"), None)
        if failed:  # the COMMIT itself failed: these events do not exist
            with self.lock:
                for oid in failed:
                    self.events.pop(oid, None)

    def get(self, row: ob.Row) -> Event | None:
        with self.lock:
            hit = self.events.get(row.id)
        if hit is None or hit[1] != (row.type, row.version, row.source, row.key, row.time):
            return None
        return hit[0]

    def forget_upto(self, upto: int) -> None:
        with self.lock:
            while self.events:
                oid = next(iter(self.events))
                if oid > upto:
                    break
                del self.events[oid]
