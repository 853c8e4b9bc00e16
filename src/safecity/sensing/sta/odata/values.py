# SPDX-License-Identifier: Apache-2.0
"""Values: what a sub-expression is, in SQL, and how it may be used."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.sql.elements import ColumnElement

NUMBER = "number"
STRING = "string"
BOOL = "boolean"
TIME = "date-time"
DATE = "date"
TIMEOFDAY = "time of day"
DURATION = "duration"
GEOM = "geometry"
JSONDOC = "JSON document"
NULL = "null"
ANY = "JSON value"  # typed by its use: a JSON path, or Observation.result

_NONE = object()


@dataclass
class _Val:
    kind: str
    sql: Any = None  # ColumnElement; for DATE / TIMEOFDAY of a column: see ``time_sql``
    text: str = ""  # as the client wrote it, for messages
    py: Any = _NONE  # the Python value of a constant
    pos: int | None = None
    ident: bool = False  # an id column (accepts '7' for 7)
    time_sql: Any = None  # DATE: the Timestamp column it is the date of
    typed: Callable[[str, str], ColumnElement[Any]] | None = None  # ANY: (kind, why) -> SQL
    is_null: Callable[[], ColumnElement[bool]] | None = None  # ANY / GEOM / JSONDOC: null test

    @property
    def const(self) -> bool:
        return self.py is not _NONE


def _article(kind: str) -> str:
    return ("an " if kind[0] in "aeiou" else "a ") + kind
