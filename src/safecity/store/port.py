# SPDX-License-Identifier: Apache-2.0
"""The store port, and the registry that picks its adapter from the store URL.

Capabilities write SQLAlchemy Core against :attr:`Store.engine`; what differs between databases
(spatial functions, date parts, write serialisation) sits behind this small interface, one module per
adapter. The adapter's driver is imported only when chosen. How a capability writes its own hot table
fast stays in that capability (sensing's observations and their partitions: sensing/observation_writes.py).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import orjson
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.sql.elements import ColumnElement

if TYPE_CHECKING:
    from safecity.settings import Settings

# Spatial predicates of SensorThings / OData and the functions each adapter maps them to.
SPATIAL_PREDICATES = (
    "st_equals",
    "st_disjoint",
    "st_touches",
    "st_within",
    "st_overlaps",
    "st_crosses",
    "st_intersects",
    "st_contains",
)


class Store(Protocol):
    engine: Engine
    dialect: str

    def migrate(self, extra: Sequence[Path] = ()) -> None:
        """Bring the schema to the newest Alembic revision, and every capability branch found in the
        ``extra`` version folders to its head."""

    def write(self) -> AbstractContextManager[Connection]:
        """A connection in a write transaction (serialised where the database needs it)."""

    def spatial(self, name: str, args: Sequence[ColumnElement[Any]]) -> ColumnElement[Any]:
        """SQL for a spatial function (``st_within``, ``geo.distance``...). Geometries are WGS84;
        distances and lengths are in metres (computed on the ellipsoid or in a projected CRS)."""

    def geometry_literal(self, wkt: str) -> ColumnElement[Any]:
        """A geometry constant from WKT (WGS84)."""

    def date_part(self, part: str, col: ColumnElement[Any]) -> ColumnElement[Any]:
        """year, month, day, hour, minute, second, fractionalseconds of a Timestamp column (UTC)."""

    def timestamp_literal(self, value: datetime) -> ColumnElement[Any]:
        """A constant comparable with Timestamp columns."""

    def close(self) -> None: ...


def json_dumps(value: Any) -> str:
    """JSON for JSON columns: orjson, several times faster than the standard library on the ingest path."""
    return orjson.dumps(value).decode()


def open_store(settings: Settings) -> Store:
    url = settings.resolved_store_url
    if url.startswith("sqlite"):
        from safecity.store.sqlite import SQLiteStore

        settings.data_dir.mkdir(parents=True, exist_ok=True)
        return SQLiteStore(url)
    from safecity.store.postgres import PostgresStore

    return PostgresStore(url)


def chunks(seq: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for i in range(0, len(seq), size):
        yield seq[i : i + size]
