# SPDX-License-Identifier: Apache-2.0
"""Bulk observation writes, one implementation per database: sensing's own table, not the store's.

The store port keeps generic storage (engine, write transactions, spatial SQL, migrations); how the
observations table is written fast belongs to the capability that owns it. Rows are plain lists in
:data:`OBSERVATION_COLUMNS` order with times as integer microseconds since the epoch (UTC) and JSON as
text: the ingest hot path builds them that way (see :mod:`safecity.sensing.ingest`).

* SQLite: one ``executemany`` of ``INSERT ... ON CONFLICT DO NOTHING``; the ids are given here, under
  the write lock (``BEGIN IMMEDIATE``), so no ``RETURNING`` round trip is needed.
* PostgreSQL: one ``INSERT ... SELECT FROM unnest(arrays)`` statement, the fastest path psycopg offers
  short of COPY (which cannot skip duplicates); the table is partitioned by month of
  ``phenomenon_time`` and the partitions a batch needs are created on demand, under an advisory lock.
"""

from __future__ import annotations

import functools
import sqlite3
import threading
from collections.abc import Sequence
from datetime import datetime
from operator import itemgetter
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from safecity.core.timeutil import from_micros, to_micros

#: Column order of an observation row handed to :meth:`ObservationWriter.insert`.
OBSERVATION_COLUMNS = (
    "id",
    "phenomenon_time",
    "phenomenon_time_end",
    "result_time",
    "valid_time_start",
    "valid_time_end",
    "result_number",
    "result_json",
    "result_quality",
    "qc_flags",
    "parameters",
    "datastream_id",
    "multi_datastream_id",
    "feature_of_interest_id",
    "received_at",
)
#: Positions in an observation row.
OBS_ID, OBS_TIME, OBS_DS, OBS_MDS = 0, 1, 11, 12

_ALL = tuple(range(len(OBSERVATION_COLUMNS)))
#: Positions of the columns an observation may leave NULL (the others are always given).
_NULLABLE = tuple(
    i
    for i, c in enumerate(OBSERVATION_COLUMNS)
    if c not in ("id", "phenomenon_time", "qc_flags", "feature_of_interest_id", "received_at")
)


@functools.lru_cache(maxsize=256)
def _sqlite_insert_sql(positions: tuple[int, ...]) -> str:
    """The INSERT of the columns at ``positions`` (the others take their default, NULL)."""
    names = [OBSERVATION_COLUMNS[i] for i in positions]
    return (
        f"INSERT INTO sta_observations ({', '.join(names)}) "
        f"VALUES ({', '.join('?' for _ in names)}) ON CONFLICT DO NOTHING"
    )


def _sqlite_params(rows: Sequence[list[Any]]) -> tuple[str, Sequence[Sequence[Any]]]:
    """The statement and parameters of a batch, leaving out the columns that are NULL in every row.

    Python's sqlite3 binds a None through its adaptation protocol (a key tuple, a dict look-up and two
    attribute look-ups: about 0.3 us each), and a Data Array row has six to eight of them; leaving those
    columns to their default took the insert from 6.0 to 4.0 us per row (CPU, the bench's rows). Which
    columns are empty is asked per batch, in C (itemgetter, list.count)."""
    n = len(rows)
    empty = {i for i in _NULLABLE if list(map(itemgetter(i), rows)).count(None) == n}
    if not empty:
        return _sqlite_insert_sql(_ALL), rows
    keep = tuple(i for i in _ALL if i not in empty)
    return _sqlite_insert_sql(keep), list(map(itemgetter(*keep), rows))


# Widen a stream's time spans and record what it last said; the newest observation wins last_result
# (SET expressions see the row's old values, so a late batch does not overwrite a newer reading).
_SQLITE_TOUCH = """UPDATE {table} SET
  phenomenon_time_start = min(coalesce(phenomenon_time_start, :p0), :p0),
  phenomenon_time_end = max(coalesce(phenomenon_time_end, :p1), :p1),
  result_time_start = CASE WHEN :r0 IS NULL THEN result_time_start ELSE min(coalesce(result_time_start, :r0), :r0) END,
  result_time_end = CASE WHEN :r1 IS NULL THEN result_time_end ELSE max(coalesce(result_time_end, :r1), :r1) END,
  last_result = CASE WHEN phenomenon_time_end IS NULL OR :tl >= phenomenon_time_end THEN :lr ELSE last_result END,
  last_qc_flags = CASE WHEN phenomenon_time_end IS NULL OR :tl >= phenomenon_time_end THEN :lf ELSE last_qc_flags END,
  last_received_at = :now
WHERE id = :id"""

_PG_TYPES = {
    "id": "bigint",
    "phenomenon_time": "timestamptz",
    "phenomenon_time_end": "timestamptz",
    "result_time": "timestamptz",
    "valid_time_start": "timestamptz",
    "valid_time_end": "timestamptz",
    "result_number": "float8",
    "result_json": "jsonb",
    "result_quality": "jsonb",
    "qc_flags": "int",
    "parameters": "jsonb",
    "datastream_id": "bigint",
    "multi_datastream_id": "bigint",
    "feature_of_interest_id": "bigint",
    "received_at": "timestamptz",
}
_COLS = ", ".join(OBSERVATION_COLUMNS)
_PG_INSERT = (
    f"INSERT INTO sta_observations ({_COLS}) "
    f"SELECT coalesce(u.id, nextval('sta_observations_id_seq')), "
    + ", ".join(f"u.{c}" for c in OBSERVATION_COLUMNS[1:])
    + " FROM unnest("
    + ", ".join(f"%s::{_PG_TYPES[c]}[]" for c in OBSERVATION_COLUMNS)
    + f") AS u({_COLS}) ON CONFLICT DO NOTHING RETURNING id, datastream_id, multi_datastream_id, phenomenon_time"
)
_PG_TIME_POSITIONS = tuple(i for i, c in enumerate(OBSERVATION_COLUMNS) if _PG_TYPES[c] == "timestamptz")
# As on SQLite: widen spans, the newest observation wins last_result.
_PG_TOUCH = """UPDATE {table} SET
  phenomenon_time_start = LEAST(phenomenon_time_start, :p0),
  phenomenon_time_end = GREATEST(phenomenon_time_end, :p1),
  result_time_start = LEAST(result_time_start, CAST(:r0 AS timestamptz)),
  result_time_end = GREATEST(result_time_end, CAST(:r1 AS timestamptz)),
  last_result = CASE WHEN phenomenon_time_end IS NULL OR :tl >= phenomenon_time_end THEN :lr ELSE last_result END,
  last_qc_flags = CASE WHEN phenomenon_time_end IS NULL OR :tl >= phenomenon_time_end THEN :lf ELSE last_qc_flags END,
  last_received_at = :now
WHERE id = :id"""
#: The advisory lock serialising partition creation (concurrent writers must not race on the DDL).
_PARTITION_LOCK = 727001
_STREAM_TABLES = frozenset({"sta_datastreams", "sta_multi_datastreams"})


class ObservationWriter:
    """Writes observation batches into the store's ``sta_observations`` table."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._months: set[tuple[int, int]] = set()  # PostgreSQL partitions known to exist
        self._lock = threading.Lock()

    def insert(self, conn: Connection, rows: Sequence[list[Any]]) -> list[tuple[int, bool]]:
        """Insert rows (:data:`OBSERVATION_COLUMNS` order, times in microseconds, JSON as text) in the
        caller's write transaction. Rows without an id get one (written into ``row[0]``).

        Returns, per row and in order, ``(id, created)``: a row whose (stream, phenomenon_time) or
        client id already exists is not written again and answers the existing id with created False.
        """
        if not rows:
            return []
        if conn.dialect.name == "postgresql":
            return self._pg_insert(conn, rows)
        return _sqlite_insert(conn, rows)

    def touch_streams(self, conn: Connection, table: str, spans: Sequence[tuple[Any, ...]]) -> None:
        """Per stream: (id, phenomenon start, end, result time start, end, last result, time of the
        last result, its QC flags, received) with times in microseconds; widens the stream's
        phenomenonTime/resultTime and records its latest value for health and dashboards."""
        if table not in _STREAM_TABLES:
            raise ValueError(f"{table}: not a stream table")
        if conn.dialect.name == "postgresql":
            params = [
                {
                    "id": sid,
                    "p0": from_micros(p0),
                    "p1": from_micros(p1),
                    "r0": from_micros(r0) if r0 is not None else None,
                    "r1": from_micros(r1) if r1 is not None else None,
                    "lr": last,
                    "tl": from_micros(tl),
                    "lf": flags,
                    "now": from_micros(now),
                }
                for sid, p0, p1, r0, r1, last, tl, flags, now in spans
            ]
            conn.execute(text(_PG_TOUCH.format(table=table)), params)
            return
        raw: sqlite3.Connection = conn.connection.driver_connection  # type: ignore[assignment]
        raw.executemany(_SQLITE_TOUCH.format(table=table), [_touch_params(s) for s in spans])

    def ensure_partitions(self, times: Sequence[datetime]) -> None:
        """PostgreSQL: create the monthly partitions these phenomenon times fall in, if missing (in a
        transaction of their own, so a batch that rolls back does not undo them). SQLite: nothing."""
        if self.engine.dialect.name != "postgresql":
            return
        months = {(t.year, t.month) for t in times} - self._months
        if not months:
            return
        with self.engine.begin() as conn:
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PARTITION_LOCK})
            for y, m in sorted(months):
                ny, nm = (y + 1, 1) if m == 12 else (y, m + 1)
                conn.exec_driver_sql(
                    f"CREATE TABLE IF NOT EXISTS sta_observations_p{y:04d}{m:02d} PARTITION OF sta_observations "
                    f"FOR VALUES FROM ('{y:04d}-{m:02d}-01 00:00+00') TO ('{ny:04d}-{nm:02d}-01 00:00+00')"
                )
        with self._lock:
            self._months |= months

    def _pg_insert(self, conn: Connection, rows: Sequence[list[Any]]) -> list[tuple[int, bool]]:
        for row in rows:
            for i in _PG_TIME_POSITIONS:
                if row[i] is not None:
                    row[i] = from_micros(row[i])
        self.ensure_partitions([r[OBS_TIME] for r in rows])
        client_ids = [r[0] for r in rows if r[0] is not None]
        if client_ids:
            # Keep generated ids above client-supplied ones so the two never collide.
            conn.execute(
                text(
                    "SELECT setval('sta_observations_id_seq', GREATEST(:m, (SELECT last_value FROM sta_observations_id_seq)))"
                ),
                {"m": max(client_ids)},
            )
        columns = [list(c) for c in zip(*rows, strict=True)]
        raw = conn.connection.driver_connection
        with raw.cursor() as cur:  # type: ignore[union-attr]
            cur.execute(_PG_INSERT, columns)
            returned = cur.fetchall()
        by_key: dict[tuple[Any, ...], int] = {}
        by_id: set[int] = set()
        for oid, ds, mds, t in returned:
            by_key[(ds, mds, t)] = oid
            by_id.add(oid)
        out: list[tuple[int, bool]] = []
        for r in rows:
            if r[0] is not None and r[0] in by_id:
                out.append((r[0], True))
                continue
            key = (r[OBS_DS], r[OBS_MDS], r[OBS_TIME])
            if key in by_key:
                out.append((by_key[key], True))
                continue
            if r[0] is not None:
                out.append((r[0], False))
                continue
            col, stream = (
                ("datastream_id", r[OBS_DS]) if r[OBS_DS] is not None else ("multi_datastream_id", r[OBS_MDS])
            )
            found = conn.execute(
                text(f"SELECT id FROM sta_observations WHERE {col} = :s AND phenomenon_time = :t"),
                {"s": stream, "t": r[OBS_TIME]},
            ).scalar_one()
            out.append((int(found), False))
        for row, (oid, _) in zip(rows, out, strict=True):
            row[0] = oid
            for i in _PG_TIME_POSITIONS:
                if row[i] is not None:
                    row[i] = to_micros(row[i])
        return out


def _sqlite_insert(conn: Connection, rows: Sequence[list[Any]]) -> list[tuple[int, bool]]:
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
    raw.executemany(*_sqlite_params(rows))
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
                ("datastream_id", row[OBS_DS])
                if row[OBS_DS] is not None
                else ("multi_datastream_id", row[OBS_MDS])
            )
            found = raw.execute(
                f"SELECT id FROM sta_observations WHERE {col} = ? AND phenomenon_time = ?",
                (stream, row[OBS_TIME]),
            ).fetchone()
            row[0] = int(found[0])
            out.append((row[0], False))
    return out


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
