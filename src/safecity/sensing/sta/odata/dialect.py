# SPDX-License-Identifier: Apache-2.0
"""SQL spellings that differ between SQLite and PostgreSQL (JSON access, string search, arithmetic)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    Boolean,
    Float,
    Integer,
    Numeric,
    String,
    case,
    cast,
    func,
    literal,
    literal_column,
    or_,
    type_coerce,
)
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import TypeEngine

from safecity.sensing.sta.odata.values import BOOL, NUMBER, STRING


class _Sql:
    """The few SQL spellings that differ between SQLite and PostgreSQL."""

    def __init__(self, dialect: str) -> None:
        self.pg = dialect == "postgresql"

    # JSON ---------------------------------------------------------------------------------------
    def _sqlite_path(self, path: Sequence[str]) -> ColumnElement[Any]:
        return literal("$" + "".join('."' + p + '"' for p in path), String())

    def _pg_elem(self, doc: ColumnElement[Any], path: Sequence[str]) -> ColumnElement[Any]:
        if not path:
            return doc
        return func.jsonb_extract_path(doc, *[literal(p, String()) for p in path])

    def _pg_text(self, doc: ColumnElement[Any], path: Sequence[str]) -> ColumnElement[Any]:
        if not path:
            return doc.op("#>>")(literal_column("'{}'"))
        return func.jsonb_extract_path_text(doc, *[literal(p, String()) for p in path])

    def json_value(self, doc: ColumnElement[Any], path: Sequence[str], kind: str) -> ColumnElement[Any]:
        """The value at ``path`` if it is a JSON ``kind`` (number, string, boolean), else NULL."""
        sa_types: dict[str, TypeEngine[Any]] = {NUMBER: Float(), STRING: String(), BOOL: Boolean()}
        sa_type = sa_types[kind]
        if self.pg:
            jtype = func.jsonb_typeof(self._pg_elem(doc, path))
            txt = self._pg_text(doc, path)
            if kind == NUMBER:
                return type_coerce(case((jtype == "number", cast(txt, Float()))), sa_type)
            if kind == STRING:
                return type_coerce(case((jtype == "string", txt)), sa_type)
            return type_coerce(case((jtype == "boolean", cast(txt, Boolean()))), sa_type)
        p = self._sqlite_path(path)
        stype = func.json_type(doc, p)
        wanted = {NUMBER: ("integer", "real"), STRING: ("text",), BOOL: ("true", "false")}[kind]
        return type_coerce(case((stype.in_(wanted), func.json_extract(doc, p))), sa_type)

    def json_is_null(self, doc: ColumnElement[Any], path: Sequence[str]) -> ColumnElement[bool]:
        """True when the document is NULL, the path is missing, or the value there is JSON null."""
        if self.pg:
            jtype = func.jsonb_typeof(self._pg_elem(doc, path))
        else:
            jtype = func.json_type(doc, self._sqlite_path(path))
        return or_(jtype.is_(None), jtype == "null")

    # strings and numbers ----------------------------------------------------------------------
    def strpos(self, s: ColumnElement[Any], sub: ColumnElement[Any]) -> ColumnElement[Any]:
        """1-based position of ``sub`` in ``s``; 0 when absent (case-sensitive on both)."""
        return (func.strpos if self.pg else func.instr)(s, sub, type_=Integer())

    def div(self, a: ColumnElement[Any], b: ColumnElement[Any]) -> ColumnElement[Any]:
        # Integer operands divide as integers on both; dividing by zero gives NULL rather than an error.
        return a.op("/", return_type=Float())(func.nullif(b, 0))

    def mod(self, a: ColumnElement[Any], b: ColumnElement[Any]) -> ColumnElement[Any]:
        b = func.nullif(b, 0)
        if self.pg:  # mod() of double precision does not exist; numeric keeps the fractional part
            return func.mod(cast(a, Numeric()), cast(b, Numeric()), type_=Float())
        # Truncating remainder (sign of the dividend), also for fractional operands, without relying
        # on SQLite's optional math functions.
        return type_coerce(a - b * cast(a.op("/")(b), Integer()), Float())

    def round(self, x: ColumnElement[Any]) -> ColumnElement[Any]:
        # Half away from zero on both (PostgreSQL's round(double precision) rounds half to even).
        if self.pg:
            return func.round(cast(x, Numeric()), type_=Float())
        return func.round(x, type_=Float())

    def floor(self, x: ColumnElement[Any]) -> ColumnElement[Any]:
        if self.pg:
            return func.floor(x, type_=Float())
        t = cast(x, Integer())
        return type_coerce(case((x < t, t - 1), else_=t), Float())

    def ceiling(self, x: ColumnElement[Any]) -> ColumnElement[Any]:
        if self.pg:
            return func.ceiling(x, type_=Float())
        t = cast(x, Integer())
        return type_coerce(case((x > t, t + 1), else_=t), Float())
