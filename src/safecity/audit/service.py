# SPDX-License-Identifier: Apache-2.0
"""The audit log: append, search, verify.

Appends are serialised across processes so the chain never forks: on PostgreSQL by a transaction-scoped
advisory lock, on SQLite by the write lock ``BEGIN IMMEDIATE`` takes (:meth:`Store.write`). Under that
lock the writer reads the last entry's ``seq`` and ``hash`` and writes the next one.

:meth:`AuditLog.record` writes at once (a login, an alert, a write request). :meth:`AuditLog.defer`
queues an entry for the background writer, which appends everything queued in one transaction at
least every ``flush_interval_s`` and on :meth:`close`; device ingest uses it, because one transaction
per observation request would cost the ingest path a second write lock per request. ``seq`` is the
order of the chain; ``at`` is when the act happened, so a deferred entry may carry an earlier time
than an immediate one before it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select, text
from sqlalchemy.engine import Connection

from safecity.audit.model import (
    GENESIS,
    AuditEntry,
    AuditEvent,
    Verification,
    canonical_details,
    entry_hash,
    hash_of,
)
from safecity.audit.tables import audit_log as t
from safecity.core.clock import Clock, SystemClock
from safecity.core.errors import BadRequest
from safecity.core.logging import get_logger
from safecity.core.worker import Worker
from safecity.store import Store

log = get_logger(__name__)

#: pg_advisory_xact_lock key of the audit chain ("audit" in ASCII): one writer at a time, all processes.
PG_LOCK_KEY = 0x6175646974
MAX_PAGE = 1000


class AuditLog:
    def __init__(self, store: Store, clock: Clock | None = None, *, flush_interval_s: float = 1.0) -> None:
        self.store = store
        # Audit time is wall-clock time even when the platform runs on a simulated clock.
        self.clock = clock or SystemClock()
        self.flush_interval_s = flush_interval_s
        self._queue: list[AuditEvent] = []
        self._queue_lock = threading.Lock()
        self.worker = Worker("audit-writer", self.flush, interval_s=flush_interval_s, wait_first=True)

    # -- writing -----------------------------------------------------------------------------------
    def record(self, event: AuditEvent) -> AuditEntry:
        """Append one entry now; returns it with its place in the chain."""
        return self.record_many([event])[0]

    def record_many(self, events: Sequence[AuditEvent]) -> list[AuditEntry]:
        """Append ``events`` in order, in one transaction."""
        if not events:
            return []
        with self.store.write() as conn:
            return self._append(conn, events)

    def _append(self, conn: Connection, events: Sequence[AuditEvent]) -> list[AuditEntry]:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": PG_LOCK_KEY})
        last = conn.execute(select(t.c.seq, t.c.hash).order_by(t.c.seq.desc()).limit(1)).first()
        seq, prev = (int(last.seq), str(last.hash)) if last is not None else (0, GENESIS)
        out: list[AuditEntry] = []
        for e in events:
            seq += 1
            at = (e.at or self.clock.now()).astimezone(UTC)
            # Microseconds are what both stores keep; the hash must be of what a later read returns.
            details = canonical_details(e.details)
            fields: dict[str, Any] = {
                "seq": seq,
                "at": at,
                "actor": _text(e.actor),
                "actor_kind": _text(e.actor_kind),
                "action": _text(e.action),
                "target": _text(e.target),
                "outcome": _text(e.outcome),
                "client": _text(e.client),
                "request_id": _text(e.request_id),
                "details": details,
            }
            digest = entry_hash(prev, **fields)
            out.append(AuditEntry(**fields, prev_hash=prev, hash=digest))
            prev = digest
        conn.execute(
            insert(t),
            [
                {
                    "seq": x.seq,
                    "at": x.at,
                    "actor": x.actor,
                    "actor_kind": x.actor_kind,
                    "action": x.action,
                    "target": x.target,
                    "outcome": x.outcome,
                    "client": x.client,
                    "request_id": x.request_id,
                    "details": x.details,
                    "prev_hash": x.prev_hash,
                    "hash": x.hash,
                }
                for x in out
            ],
        )
        return out

    # -- the background writer ---------------------------------------------------------------------
    def defer(self, event: AuditEvent) -> None:
        """Queue ``event`` for the background writer (written within ``flush_interval_s``)."""
        if event.at is None:
            # the time of the act, not of the flush
            event = replace(event, at=self.clock.now())
        with self._queue_lock:
            self._queue.append(event)
        if not self.worker.running:
            self.start()

    def flush(self) -> int:
        """Write everything queued now; returns how many entries were written."""
        with self._queue_lock:
            batch, self._queue = self._queue, []
        try:
            self.record_many(batch)
        except BaseException:
            with self._queue_lock:  # back in front, in order: the next flush tries them again
                self._queue[:0] = batch
            raise
        return len(batch)

    def start(self) -> None:
        self.worker.start()

    def close(self) -> None:
        """Stop the background writer and write what it still holds."""
        self.worker.stop(timeout=30)
        self.flush()

    # -- reading -----------------------------------------------------------------------------------
    def search(
        self,
        *,
        actor: str | None = None,
        action: str | None = None,
        target_prefix: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        before_seq: int | None = None,
        limit: int = 100,
    ) -> list[AuditEntry]:
        """Entries matching every given filter, newest first; page with ``before_seq``."""
        if not 1 <= limit <= MAX_PAGE:
            raise BadRequest(f"limit: use 1 to {MAX_PAGE}", where="limit")
        for name, value in (("actor", actor), ("action", action), ("target", target_prefix)):
            if value is not None and "\x00" in value:
                raise BadRequest(
                    f"{name}: contains a NUL character, which no entry has",
                    where=name,
                    message_ko=f"{name}: NUL 문자는 사용할 수 없습니다",
                )
        q = select(t).order_by(t.c.seq.desc()).limit(limit)
        if actor is not None:
            q = q.where(t.c.actor == actor)
        if action is not None:
            q = q.where(t.c.action == action)
        if target_prefix:
            # an escaped LIKE: a '%' or '_' in the prefix is meant literally
            escaped = target_prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            q = q.where(t.c.target.like(escaped + "%", escape="\\"))
        if since is not None:
            q = q.where(t.c.at >= since)
        if until is not None:
            q = q.where(t.c.at < until)
        if before_seq is not None:
            q = q.where(t.c.seq < before_seq)
        with self.store.engine.connect() as conn:
            return [_entry(r) for r in conn.execute(q)]

    def entries(self, chunk: int = 5000) -> Iterator[AuditEntry]:
        """Every entry in ``seq`` order, read in chunks (the log may be large)."""
        after = 0
        while True:
            with self.store.engine.connect() as conn:
                rows = conn.execute(select(t).where(t.c.seq > after).order_by(t.c.seq).limit(chunk)).all()
            if not rows:
                return
            for r in rows:
                yield _entry(r)
            after = int(rows[-1].seq)

    def seq_of(self, digest: str) -> int | None:
        """The seq of the entry whose hash is ``digest`` (None: no such entry)."""
        with self.store.engine.connect() as conn:
            found = conn.execute(select(t.c.seq).where(t.c.hash == digest)).scalar()
        return None if found is None else int(found)

    def verify(self) -> Verification:
        """Walk the chain from the first entry; stop at the first entry that does not fit."""
        expected_seq, prev, n = 1, GENESIS, 0
        for e in self.entries():
            if e.seq != expected_seq:
                why = (
                    f"entry {expected_seq} is missing (deleted?): the next stored entry is {e.seq}"
                    if e.seq > expected_seq
                    else f"seq {e.seq} is out of order"
                )
                return Verification(n, prev, expected_seq, why)
            if e.prev_hash != prev:
                return Verification(
                    n,
                    prev,
                    e.seq,
                    f"prev_hash does not match the hash of entry {e.seq - 1} (reordered or forged)",
                )
            if hash_of(e) != e.hash:
                return Verification(n, prev, e.seq, "hash does not match the entry's contents (modified)")
            prev = e.hash
            expected_seq += 1
            n += 1
        return Verification(n, prev)


def _text(value: str | None) -> str | None:
    # What a client sent (a path, a claimed user name) may hold NUL, which PostgreSQL text refuses;
    # the entry keeps it visibly escaped rather than being lost.
    return None if value is None else value.replace("\x00", "\\x00")


def _entry(r: Any) -> AuditEntry:
    return AuditEntry(
        seq=int(r.seq),
        at=r.at,
        actor=r.actor,
        actor_kind=r.actor_kind,
        action=r.action,
        target=r.target,
        outcome=r.outcome,
        client=r.client,
        request_id=r.request_id,
        details=r.details,
        prev_hash=r.prev_hash,
        hash=r.hash,
    )
