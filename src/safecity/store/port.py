# SPDX-License-Identifier: Apache-2.0
"""The store port, and the registry that picks its adapter from the store URL.

Capabilities write SQLAlchemy Core against :attr:`Store.engine`; what differs between databases
(spatial functions, date parts, the bulk observation insert, partitions, write serialisation) sits
behind this small interface, one module per adapter. The adapter's driver is imported only when chosen.
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

#: Column order of an observation row handed to :meth:`Store.insert_observations`.
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

    def insert_observations(self, conn: Connection, rows: Sequence[list[Any]]) -> list[tuple[int, bool]]:
        """Insert rows (:data:`OBSERVATION_COLUMNS` order; times as integer microseconds since the
        epoch, UTC; JSON as text). Rows without an id get one (written into ``row[0]``).

        Returns, per row and in order, ``(id, created)``: a row whose (stream, phenomenon_time) or
        client id already exists is not written again and answers the existing id with created False.
        """

    def touch_streams(self, conn: Connection, table: str, spans: Sequence[tuple[Any, ...]]) -> None:
        """Per stream: (id, phenomenon start, end, result time start, end, last result, time of the
        last result, its QC flags, received) with times in microseconds; widens the stream's
        phenomenonTime/resultTime and records its latest value for health and dashboards."""

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
