# SPDX-License-Identifier: Apache-2.0
"""PostgreSQL 15 + PostGIS adapter, for a city that outgrows one machine.

Observations live in a table partitioned by month of ``phenomenon_time``; the partition a batch needs
is created on demand (under an advisory lock, so concurrent writers do not race). Bulk inserts go
through ``unnest`` arrays in one statement, the fastest path psycopg offers short of COPY (which cannot
skip duplicates).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import cast, create_engine, extract, func, literal, text
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import Float, Numeric

from safecity.core.errors import BadRequest
from safecity.core.timeutil import from_micros, to_micros
from safecity.store.port import OBSERVATION_COLUMNS, SPATIAL_PREDICATES, json_dumps

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
_INSERT = (
    f"INSERT INTO sta_observations ({_COLS}) "
    f"SELECT coalesce(u.id, nextval('sta_observations_id_seq')), "
    + ", ".join(f"u.{c}" for c in OBSERVATION_COLUMNS[1:])
    + " FROM unnest("
    + ", ".join(f"%s::{_PG_TYPES[c]}[]" for c in OBSERVATION_COLUMNS)
    + f") AS u({_COLS}) ON CONFLICT DO NOTHING RETURNING id, datastream_id, multi_datastream_id, phenomenon_time"
)


_TIME_POSITIONS = tuple(
    i for i, c in enumerate(OBSERVATION_COLUMNS) if c in _PG_TYPES and _PG_TYPES[c] == "timestamptz"
)
# See the SQLite adapter: widen spans, the newest observation wins last_result.
_TOUCH = """UPDATE {table} SET
  phenomenon_time_start = LEAST(phenomenon_time_start, :p0),
  phenomenon_time_end = GREATEST(phenomenon_time_end, :p1),
  result_time_start = LEAST(result_time_start, CAST(:r0 AS timestamptz)),
  result_time_end = GREATEST(result_time_end, CAST(:r1 AS timestamptz)),
  last_result = CASE WHEN phenomenon_time_end IS NULL OR :tl >= phenomenon_time_end THEN :lr ELSE last_result END,
  last_qc_flags = CASE WHEN phenomenon_time_end IS NULL OR :tl >= phenomenon_time_end THEN :lf ELSE last_qc_flags END,
  last_received_at = :now
WHERE id = :id"""


def _psycopg_url(url: str) -> str:
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


class PostgresStore:
    dialect = "postgresql"

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = create_engine(
            _psycopg_url(url),
            pool_size=10,
            max_overflow=10,
            pool_pre_ping=True,
            json_serializer=json_dumps,
            json_deserializer=orjson.loads,
        )
        self._months: set[tuple[int, int]] = set()

    def migrate(self, extra: Sequence[Path] = ()) -> None:
        from safecity.store.migrate import upgrade

        upgrade(self.engine, extra=extra)

    @contextmanager
    def write(self) -> Iterator[Connection]:
        with self.engine.begin() as conn:
            yield conn

    def spatial(self, name: str, args: Sequence[ColumnElement[Any]]) -> ColumnElement[Any]:
        if name in SPATIAL_PREDICATES:
            fn: Callable[..., ColumnElement[Any]] = getattr(func, "ST_" + name[3:].capitalize())
            return fn(*args)
        if name == "st_relate":
            return func.ST_Relate(*args)
        if name == "geo.distance":
            return func.ST_Distance(func.geography(args[0]), func.geography(args[1]))
        if name == "geo.length":
            return func.ST_Length(func.geography(args[0]))
        if name == "geo.intersects":
            return func.ST_Intersects(*args)
        raise BadRequest(f"unknown spatial function {name}")

    def geometry_literal(self, wkt: str) -> ColumnElement[Any]:
        return func.ST_GeomFromText(literal(wkt), 4326)

    def date_part(self, part: str, col: ColumnElement[Any]) -> ColumnElement[Any]:
        utc = func.timezone("UTC", col)
        if part == "fractionalseconds":
            return func.mod(cast(extract("microseconds", utc), Numeric), 1_000_000) / 1_000_000.0
        if part == "second":
            return cast(func.floor(extract("second", utc)), Float)
        return extract(part, utc)

    def timestamp_literal(self, value: datetime) -> ColumnElement[Any]:
        return literal(value.astimezone(UTC))

    def ensure_partitions(self, times: Sequence[datetime]) -> None:
        months = {(t.year, t.month) for t in times} - self._months
        if not months:
            return
        with self.engine.begin() as conn:
            conn.execute(text("SELECT pg_advisory_xact_lock(727001)"))
            for y, m in sorted(months):
                ny, nm = (y + 1, 1) if m == 12 else (y, m + 1)
                conn.exec_driver_sql(
                    f"CREATE TABLE IF NOT EXISTS sta_observations_p{y:04d}{m:02d} PARTITION OF sta_observations "
                    f"FOR VALUES FROM ('{y:04d}-{m:02d}-01 00:00+00') TO ('{ny:04d}-{nm:02d}-01 00:00+00')"
                )
        self._months |= months

    def insert_observations(self, conn: Connection, rows: Sequence[list[Any]]) -> list[tuple[int, bool]]:
        if not rows:
            return []
        for row in rows:
            for i in _TIME_POSITIONS:
                if row[i] is not None:
                    row[i] = from_micros(row[i])
        self.ensure_partitions([r[1] for r in rows])
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
            cur.execute(_INSERT, columns)
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
            key = (r[11], r[12], r[1])
            if key in by_key:
                out.append((by_key[key], True))
                continue
            if r[0] is not None:
                out.append((r[0], False))
                continue
            col, stream = ("datastream_id", r[11]) if r[11] is not None else ("multi_datastream_id", r[12])
            found = conn.execute(
                text(f"SELECT id FROM sta_observations WHERE {col} = :s AND phenomenon_time = :t"),
                {"s": stream, "t": r[1]},
            ).scalar_one()
            out.append((int(found), False))
        for row, (oid, _) in zip(rows, out, strict=True):
            row[0] = oid
            for i in _TIME_POSITIONS:
                if row[i] is not None:
                    row[i] = to_micros(row[i])
        return out

    def touch_streams(self, conn: Connection, table: str, spans: Sequence[tuple[Any, ...]]) -> None:
        params = []
        for sid, p0, p1, r0, r1, last, tl, flags, now in spans:
            params.append(
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
            )
        conn.execute(text(_TOUCH.format(table=table)), params)

    def close(self) -> None:
        self.engine.dispose()
