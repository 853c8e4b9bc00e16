# SPDX-License-Identifier: Apache-2.0
"""SQLite adapter: the embedded default (one file under the data directory, WAL journal).

SQLite allows one writer at a time; :meth:`SQLiteStore.write` serialises writers in this process with
a lock and across processes with ``BEGIN IMMEDIATE`` (a CLI import beside a running server waits for the
lock instead of failing half-way). ``synchronous=NORMAL`` in WAL mode keeps every committed transaction
across a process crash (SIGKILL); only an OS crash or power cut can lose the last commits.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import BigInteger, Integer, cast, create_engine, event, func, literal, type_coerce
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

from safecity.core.errors import BadRequest
from safecity.core.timeutil import to_micros
from safecity.store.port import OBSERVATION_COLUMNS, json_dumps
from safecity.store.spatial import SQL_FUNCTIONS
from safecity.store.types import Geometry

_TIME_COLS = {
    i for i, c in enumerate(OBSERVATION_COLUMNS) if c.endswith("_time") or "time_" in c or c == "received_at"
}
_INSERT = (
    f"INSERT INTO sta_observations ({', '.join(OBSERVATION_COLUMNS)}) "
    f"VALUES ({', '.join('?' for _ in OBSERVATION_COLUMNS)}) ON CONFLICT DO NOTHING"
)
# Widen a stream's time spans and record what it last said; the newest observation wins last_result
# (SET expressions see the row's old values, so a late batch does not overwrite a newer reading).
_TOUCH = """UPDATE {table} SET
  phenomenon_time_start = min(coalesce(phenomenon_time_start, :p0), :p0),
  phenomenon_time_end = max(coalesce(phenomenon_time_end, :p1), :p1),
  result_time_start = CASE WHEN :r0 IS NULL THEN result_time_start ELSE min(coalesce(result_time_start, :r0), :r0) END,
  result_time_end = CASE WHEN :r1 IS NULL THEN result_time_end ELSE max(coalesce(result_time_end, :r1), :r1) END,
  last_result = CASE WHEN phenomenon_time_end IS NULL OR :tl >= phenomenon_time_end THEN :lr ELSE last_result END,
  last_qc_flags = CASE WHEN phenomenon_time_end IS NULL OR :tl >= phenomenon_time_end THEN :lf ELSE last_qc_flags END,
  last_received_at = :now
WHERE id = :id"""
#: Connection settings for speed, shared with the ingest benchmark's raw baseline.
SQLITE_TUNING = ("PRAGMA cache_size=-65536", "PRAGMA wal_autocheckpoint=10000")
_STRFTIME = {"year": "%Y", "month": "%m", "day": "%d", "hour": "%H", "minute": "%M", "second": "%S"}


class SQLiteStore:
    dialect = "sqlite"

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 60},
            json_serializer=json_dumps,
            json_deserializer=orjson.loads,
        )
        self._lock = threading.RLock()
        event.listen(self.engine, "connect", _on_connect)
        event.listen(self.engine, "begin", _on_begin)

    def migrate(self, extra: Sequence[Path] = ()) -> None:
        from safecity.store.migrate import upgrade

        with self._lock:
            upgrade(self.engine, extra=extra)

    @contextmanager
    def write(self) -> Iterator[Connection]:
        with self._lock, self.engine.connect().execution_options(sqlite_immediate=True) as conn, conn.begin():
            yield conn

    def spatial(self, name: str, args: Sequence[ColumnElement[Any]]) -> ColumnElement[Any]:
        fname = name.replace(".", "_")
        if fname not in SQL_FUNCTIONS:
            raise BadRequest(f"unknown spatial function {name}")
        fn: Callable[..., ColumnElement[Any]] = getattr(func, fname)  # func.<name>(...) is a SQL call
        return fn(*args)

    def geometry_literal(self, wkt: str) -> ColumnElement[Any]:
        return literal(wkt, Geometry())

    def date_part(self, part: str, col: ColumnElement[Any]) -> ColumnElement[Any]:
        col = type_coerce(col, BigInteger())
        seconds = col / 1_000_000
        if part == "fractionalseconds":
            return (col % 1_000_000) / 1_000_000.0
        return cast(func.strftime(_STRFTIME[part], seconds, "unixepoch"), Integer)

    def timestamp_literal(self, value: datetime) -> ColumnElement[Any]:
        return literal(to_micros(value))

    def insert_observations(self, conn: Connection, rows: Sequence[list[Any]]) -> list[tuple[int, bool]]:
        raw: sqlite3.Connection = conn.connection.driver_connection  # type: ignore[assignment]
        (max_id,) = raw.execute("SELECT coalesce(max(id), 0) FROM sta_observations").fetchone()
        client_ids = [r[0] for r in rows if r[0] is not None]
        preexisting: set[int] = _existing_ids(raw, client_ids) if client_ids else set()
        # We hold the write lock (BEGIN IMMEDIATE), so ids above the current maximum are ours to give.
        next_id = max([max_id, *client_ids]) + 1
        ids: list[int] = []
        for row in rows:
            if row[0] is None:
                row[0] = next_id
                next_id += 1
            ids.append(row[0])
        before = raw.total_changes
        raw.executemany(_INSERT, rows)
        if raw.total_changes - before == len(rows) and not preexisting:
            return [(i, True) for i in ids]
        # Some rows were already there: find which, and the ids they already have.
        stored = _existing_ids(raw, ids)
        out: list[tuple[int, bool]] = []
        for row, i in zip(rows, ids, strict=True):
            if i in preexisting:
                out.append((i, False))
            elif i in stored:
                out.append((i, True))
            else:
                col, stream = (
                    ("datastream_id", row[11]) if row[11] is not None else ("multi_datastream_id", row[12])
                )
                found = raw.execute(
                    f"SELECT id FROM sta_observations WHERE {col} = ? AND phenomenon_time = ?",
                    (stream, row[1]),
                ).fetchone()
                row[0] = int(found[0])
                out.append((row[0], False))
        return out

    def touch_streams(self, conn: Connection, table: str, spans: Sequence[tuple[Any, ...]]) -> None:
        raw: sqlite3.Connection = conn.connection.driver_connection  # type: ignore[assignment]
        raw.executemany(_TOUCH.format(table=table), [_touch_params(s) for s in spans])

    def close(self) -> None:
        self.engine.dispose()


def _touch_params(span: tuple[Any, ...]) -> dict[str, Any]:
    sid, p0, p1, r0, r1, last, tl, flags, now = span
    return {"id": sid, "p0": p0, "p1": p1, "r0": r0, "r1": r1, "lr": last, "tl": tl, "lf": flags, "now": now}


def _existing_ids(raw: sqlite3.Connection, ids: Sequence[int]) -> set[int]:
    found: set[int] = set()
    for i in range(0, len(ids), 900):
        part = ids[i : i + 900]
        q = f"SELECT id FROM sta_observations WHERE id IN ({','.join('?' * len(part))})"
        found.update(x for (x,) in raw.execute(q, part))
    return found


def _on_connect(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
    # Let SQLAlchemy's "begin" event issue BEGIN itself (pysqlite's implicit transactions are wrong
    # for us: they would not let a writer take the lock up front).
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=60000")
    # 64 MB page cache keeps the hot index pages of a large observation table in memory; a 40 MB WAL
    # between automatic checkpoints halves how often bulk ingest stops to checkpoint (measured +12 %).
    for pragma in SQLITE_TUNING:
        cur.execute(pragma)
    cur.close()
    for name, (nargs, fn) in SQL_FUNCTIONS.items():
        dbapi_conn.create_function(name, nargs, fn, deterministic=True)


def _on_begin(conn: Connection) -> None:
    immediate = conn.get_execution_options().get("sqlite_immediate", False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
