# SPDX-License-Identifier: Apache-2.0
"""Column types that behave the same on SQLite and PostgreSQL.

* :class:`Timestamp` — timezone-aware UTC datetimes. PostgreSQL: ``timestamptz``. SQLite: integer
  microseconds since the epoch, because SQLite has no time type and integers index and compare fast and
  exactly (ISO strings would compare wrongly across offsets).
* :class:`Geometry` — shapely geometries in WGS84. PostgreSQL: PostGIS ``geometry(Geometry,4326)``.
  SQLite: WKT text, evaluated by the shapely functions the SQLite adapter registers on each connection.
* :data:`JSONDoc` — JSON documents (``jsonb`` on PostgreSQL).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

import shapely
from shapely.geometry.base import BaseGeometry
from sqlalchemy import JSON, BigInteger, Integer, Text, func
from sqlalchemy.dialects.postgresql import JSONB, TIMESTAMP
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import TypeDecorator, TypeEngine, UserDefinedType

from safecity.core.timeutil import from_micros, to_micros

#: Integer primary keys: BIGINT on PostgreSQL, INTEGER (the rowid alias) on SQLite.
IdType = BigInteger().with_variant(Integer(), "sqlite")

JSONDoc = JSON().with_variant(JSONB(), "postgresql")


class Timestamp(TypeDecorator[datetime]):
    impl = BigInteger
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(TIMESTAMP(timezone=True))
        return dialect.type_descriptor(BigInteger())

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"Timestamp column needs a datetime, got {type(value).__name__}")
        if value.tzinfo is None:
            raise TypeError("Timestamp column needs a timezone-aware datetime")
        if dialect.name == "postgresql":
            return value.astimezone(UTC)
        return to_micros(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, datetime):
            return value.astimezone(UTC)
        return from_micros(int(value))


class _PostGISGeometry(UserDefinedType[BaseGeometry]):
    cache_ok = True

    def get_col_spec(self, **kw: Any) -> str:
        return "geometry(Geometry,4326)"

    def bind_expression(self, bindvalue: Any) -> ColumnElement[Any]:
        return func.ST_GeomFromText(bindvalue, 4326)


class Geometry(TypeDecorator[BaseGeometry]):
    impl = Text
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(_PostGISGeometry())
        return dialect.type_descriptor(Text())

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        if isinstance(value, BaseGeometry):
            return shapely.to_wkt(value, rounding_precision=-1)
        if isinstance(value, str):
            return value
        raise TypeError(f"Geometry column needs a shapely geometry, got {type(value).__name__}")

    def process_result_value(self, value: Any, dialect: Dialect) -> BaseGeometry | None:
        if value is None:
            return None
        if dialect.name == "postgresql":
            # PostGIS answers hex-encoded EWKB, which shapely reads directly (SRID included).
            return cast(BaseGeometry, shapely.from_wkb(value))
        return cast(BaseGeometry, shapely.from_wkt(value))
