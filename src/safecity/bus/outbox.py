# SPDX-License-Identifier: Apache-2.0
"""SQL over the bus's tables (the outbox, cursors, dead letters), shared by the store-backed adapters.

Commit order: a subscriber's cursor is an outbox id, so ids must be given out in the order the
transactions commit, or a cursor could pass an id that commits later. SQLite serialises every write
transaction; on PostgreSQL :func:`append` takes a transaction-scoped advisory lock before taking an id,
held until commit, so the next publisher waits for this transaction's commit. Publishers write their
events at the end of their transactions, so the lock is held for little more than the commit.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, delete, func, insert, select, text, update
from sqlalchemy.engine import Connection

from safecity.bus.tables import cursors, dead_letters, outbox

#: The advisory lock key serialising outbox writers on PostgreSQL ("safecity" in hex-ish, arbitrary).
_LOCK_KEY = 0x5AFEC17B05
_LOCKED = "safecity.bus.locked_tx"


@dataclass(frozen=True, slots=True)
class Row:
    """An outbox row, before its payload is read into an event class."""

    id: int
    type: str
    version: int
    source: str
    key: str
    payload: dict[str, Any]
    time: datetime


@dataclass(slots=True)
class Cursor:
    subscriber: str
    position: int
    attempts: int = 0
    retry_at: datetime | None = None
    last_error: str | None = None


#: The payload of a row read without it (:func:`read_after` with ``payload=False``): its event is known
#: to the reader already. Compared by identity; :func:`payloads` reads the real one when needed.
NOT_READ: dict[str, Any] = {}


#: built once: a statement built per event spent more time in SQLAlchemy's ``values()`` and cache key
#: than in the database (py-spy on bench/tracking.py)
_INSERT = insert(outbox)


def append(conn: Connection, row: dict[str, Any]) -> int:
    """Write one event; returns its id."""
    if conn.dialect.name == "postgresql":
        tx = conn.get_transaction()
        if conn.info.get(_LOCKED) is not tx:  # once per transaction
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
            conn.info[_LOCKED] = tx
    done = conn.execute(_INSERT, row)
    pk = done.inserted_primary_key
    assert pk is not None  # an insert of one row
    return int(pk[0])


_ROW = (
    outbox.c.id,
    outbox.c.topic,
    outbox.c.version,
    outbox.c.source,
    outbox.c.key,
    outbox.c.payload,
    outbox.c.created_at,
)


def _read_after(payload: bool, keyed: bool = False) -> Any:
    columns = _ROW if payload else tuple(c for c in _ROW if c is not outbox.c.payload)
    q = select(*columns).where(
        outbox.c.id > bindparam("position"), outbox.c.topic.in_(bindparam("types", expanding=True))
    )
    if keyed:
        q = q.where(outbox.c.key.in_(bindparam("keys", expanding=True)))
    return q.order_by(outbox.c.id).limit(bindparam("limit"))


# Built once: the dispatcher reads once per subscriber and round, and building the statement cost more
# than running it (py-spy under 10,000 obs/s: 40 % of the dispatcher thread in SQLAlchemy's
# construction and cache-key code for these two statements).
_READ_AFTER = {True: _read_after(True), False: _read_after(False)}
_READ_AFTER_KEYED = {True: _read_after(True, True), False: _read_after(False, True)}
_SAVE_CURSOR = (
    update(cursors)
    .where(cursors.c.subscriber == bindparam("b_subscriber"))
    .values(
        {
            name: bindparam(f"b_{name}", type_=cursors.c[name].type)
            for name in ("position", "attempts", "retry_at", "last_error", "updated_at")
        }
    )
)


def read_after(
    conn: Connection,
    position: int,
    types: Collection[str],
    limit: int,
    payload: bool = True,
    keys: Collection[str] | None = None,
) -> list[Row]:
    """Events of ``types`` (and of ``keys``, when given) after ``position``, in id (commit) order;
    without ``payload`` each row's payload is :data:`NOT_READ`."""
    params: dict[str, Any] = {"position": position, "types": list(types), "limit": limit}
    if keys is None:
        rows = conn.execute(_READ_AFTER[payload], params).all()
    else:
        rows = conn.execute(_READ_AFTER_KEYED[payload], {**params, "keys": list(keys)}).all()
    if payload:
        return [Row(*r) for r in rows]
    return [
        Row(i, topic, version, source, key, NOT_READ, time) for i, topic, version, source, key, time in rows
    ]


def payloads(conn: Connection, ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """The payloads of these events (those still in the outbox)."""
    out: dict[int, dict[str, Any]] = {}
    for i in range(0, len(ids), 500):
        part = list(ids[i : i + 500])
        out.update(
            (int(i), p)
            for i, p in conn.execute(select(outbox.c.id, outbox.c.payload).where(outbox.c.id.in_(part)))
        )
    return out


def oldest(conn: Connection) -> int | None:
    """The oldest event kept (None for an empty outbox)."""
    found = conn.execute(select(func.min(outbox.c.id))).scalar_one()
    return int(found) if found is not None else None


def head(conn: Connection) -> int:
    """The newest event's id (0 for an empty outbox)."""
    return int(conn.execute(select(func.coalesce(func.max(outbox.c.id), 0))).scalar_one())


def start_position(conn: Connection) -> int:
    """Where a subscriber never seen before starts: before the oldest event not yet delivered to
    every subscriber (an event committed before a crash reaches the subscribers of the next start)."""
    oldest = conn.execute(select(func.min(outbox.c.id)).where(outbox.c.delivered_at.is_(None))).scalar_one()
    return int(oldest) - 1 if oldest is not None else head(conn)


def lag(conn: Connection, position: int, types: Collection[str], keys: Collection[str] | None = None) -> int:
    q = select(func.count()).where(outbox.c.id > position, outbox.c.topic.in_(list(types)))
    if keys is not None:
        q = q.where(outbox.c.key.in_(list(keys)))
    return int(conn.execute(q).scalar_one())


def pending(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).where(outbox.c.delivered_at.is_(None))).scalar_one())


def load_cursor(conn: Connection, subscriber: str) -> Cursor | None:
    r = conn.execute(select(cursors).where(cursors.c.subscriber == subscriber)).first()
    if r is None:
        return None
    return Cursor(r.subscriber, int(r.position), int(r.attempts), r.retry_at, r.last_error)


def save_cursors(conn: Connection, saved: Sequence[Cursor], now: datetime) -> None:
    for c in saved:
        values = {
            "position": c.position,
            "attempts": c.attempts,
            "retry_at": c.retry_at,
            "last_error": c.last_error,
            "updated_at": now,
        }
        done = conn.execute(
            _SAVE_CURSOR, {"b_subscriber": c.subscriber, **{f"b_{k}": v for k, v in values.items()}}
        )
        if done.rowcount == 0:
            conn.execute(insert(cursors).values(subscriber=c.subscriber, **values))


def mark_delivered(conn: Connection, upto: int, now: datetime) -> None:
    conn.execute(
        update(outbox).where(outbox.c.delivered_at.is_(None), outbox.c.id <= upto).values(delivered_at=now)
    )


def prune(conn: Connection, delivered_before: datetime) -> int:
    done = conn.execute(delete(outbox).where(outbox.c.delivered_at < delivered_before))
    return int(done.rowcount or 0)


def add_dead_letter(
    conn: Connection, subscriber: str, row: Row, error: str, attempts: int, now: datetime
) -> None:
    conn.execute(
        insert(dead_letters).values(
            subscriber=subscriber,
            event_id=row.id,
            topic=row.type,
            version=row.version,
            source=row.source,
            key=row.key,
            payload=row.payload,
            event_time=row.time,
            error=error,
            attempts=attempts,
            failed_at=now,
        )
    )


@dataclass(frozen=True, slots=True)
class DeadRow:
    id: int
    subscriber: str
    row: Row
    error: str
    attempts: int
    failed_at: datetime
    replay_requested_at: datetime | None
    replay_requested_by: str | None
    replayed_at: datetime | None


def _dead(r: Any) -> DeadRow:
    return DeadRow(
        int(r.id),
        r.subscriber,
        Row(int(r.event_id), r.topic, int(r.version), r.source, r.key, r.payload, r.event_time),
        r.error,
        int(r.attempts),
        r.failed_at,
        r.replay_requested_at,
        r.replay_requested_by,
        r.replayed_at,
    )


def dead_letters_of(
    conn: Connection, subscriber: str | None = None, include_replayed: bool = False, limit: int = 500
) -> list[DeadRow]:
    q = select(dead_letters).order_by(dead_letters.c.id).limit(limit)
    if subscriber is not None:
        q = q.where(dead_letters.c.subscriber == subscriber)
    if not include_replayed:
        q = q.where(dead_letters.c.replayed_at.is_(None))
    return [_dead(r) for r in conn.execute(q)]


def dead_letter(conn: Connection, dead_id: int) -> DeadRow | None:
    r = conn.execute(select(dead_letters).where(dead_letters.c.id == dead_id)).first()
    return None if r is None else _dead(r)


def requested_replays(conn: Connection) -> list[DeadRow]:
    q = (
        select(dead_letters)
        .where(dead_letters.c.replay_requested_at.is_not(None), dead_letters.c.replayed_at.is_(None))
        .order_by(dead_letters.c.event_id, dead_letters.c.id)
    )
    return [_dead(r) for r in conn.execute(q)]


def request_replay(conn: Connection, dead_id: int, actor: str, now: datetime) -> bool:
    done = conn.execute(
        update(dead_letters)
        .where(dead_letters.c.id == dead_id, dead_letters.c.replayed_at.is_(None))
        .values(replay_requested_at=now, replay_requested_by=actor)
    )
    return bool(done.rowcount)


def finish_replay(conn: Connection, dead_id: int, now: datetime, error: str | None) -> None:
    """A replay succeeded (``error`` None: the letter is done) or failed again (it stays dead, with the
    new error and one more attempt, until replayed again)."""
    d = dead_letters
    if error is None:
        conn.execute(update(d).where(d.c.id == dead_id).values(replayed_at=now))
    else:
        conn.execute(
            update(d)
            .where(and_(d.c.id == dead_id))
            .values(error=error, attempts=d.c.attempts + 1, failed_at=now, replay_requested_at=None)
        )


def all_cursors(conn: Connection) -> list[Cursor]:
    rows = conn.execute(select(cursors).order_by(cursors.c.subscriber)).all()
    return [Cursor(r.subscriber, int(r.position), int(r.attempts), r.retry_at, r.last_error) for r in rows]
