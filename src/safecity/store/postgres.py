# SPDX-License-Identifier: Apache-2.0
"""PostgreSQL 15 + PostGIS adapter, for a city that outgrows one machine.

Observations live in a table partitioned by month of ``phenomenon_time``; sensing writes them and
creates the partitions a batch needs (safecity/sensing/observation_writes.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import cast, create_engine, extract, func, literal
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import Float, Numeric

from safecity.core.errors import BadRequest
from safecity.store.port import SPATIAL_PREDICATES, json_dumps


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

    def close(self) -> None:
        self.engine.dispose()
