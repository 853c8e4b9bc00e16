# SPDX-License-Identifier: Apache-2.0
"""What every part of the translation shares: its state, limits, errors, constants and coercions.

The translator is one :class:`NodeVisitor` assembled from mixins (see
:mod:`safecity.sensing.sta.odata.translate`), each a subclass of :class:`_Visitor` in its own module.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from odata_query import ast
from odata_query.visitor import NodeVisitor
from sqlalchemy import BigInteger, Float, Integer, literal
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.expression import FromClause

from safecity.core.errors import BadRequest
from safecity.core.timeutil import parse_instant
from safecity.sensing.sta.model import Entity
from safecity.sensing.sta.odata.dialect import _Sql
from safecity.sensing.sta.odata.values import ANY, GEOM, NUMBER, STRING, TIME, _article, _Val
from safecity.store.port import Store

_INT64 = 2**63
_MAX_DEPTH = 100  # nesting of the expression tree (a flat "a or b or c ..." counts as one level)
# Operands of one flat and/or chain, items of one 'in' list. SQLite parses a chain of N ORs as a tree
# N deep and refuses more than 1000 levels.
_MAX_ITEMS = 500


@dataclass
class _Scope:
    """Navigation joins used by one condition (filter) or one sort key (orderby)."""

    conds: list[ColumnElement[bool]] = field(default_factory=list)
    aliases: dict[tuple[str, ...], FromClause] = field(default_factory=dict)
    froms: list[FromClause] = field(default_factory=list)  # everything the subquery selects from
    many: bool = False


class _Visitor(NodeVisitor):
    def __init__(
        self, entity: Entity, alias: FromClause, store: Store, where: str, now: datetime | None
    ) -> None:
        self.entity = entity
        self.alias = alias
        self.store = store
        self.where = where
        self.sql = _Sql(store.dialect)
        self.now = (now or datetime.now(UTC)).astimezone(UTC)
        self.scopes: list[_Scope] = []
        self.depth = 0

    # errors ---------------------------------------------------------------------------------------
    def bad(self, message: str, pos: int | None = None) -> BadRequest:
        at = f" (at position {pos + 1})" if pos is not None and pos >= 0 else ""
        return BadRequest(f"{self.where}: {message}{at}", where=self.where)

    def generic_visit(self, node: ast._Node) -> _Val:
        raise self.bad(f"{type(node).__name__} expressions are not supported")

    # nesting --------------------------------------------------------------------------------------
    def visit(self, node: ast._Node) -> Any:
        self.depth += 1
        try:
            if self.depth > _MAX_DEPTH:
                raise self.bad(f"the expression is nested more than {_MAX_DEPTH} levels deep")
            return super().visit(node)
        finally:
            self.depth -= 1

    # constants ------------------------------------------------------------------------------------
    def number_const(self, value: float, text: str) -> _Val:
        if isinstance(value, int) and not -_INT64 <= value < _INT64:
            raise self.bad(f"the number {text} is out of range")
        if isinstance(value, float) and not math.isfinite(value):
            raise self.bad(f"the number {text} is out of range")
        sa_type = Integer() if isinstance(value, int) else Float()
        if isinstance(value, int) and abs(value) >= 2**31:
            sa_type = BigInteger()
        return _Val(NUMBER, literal(value, sa_type), text=text, py=value)

    def time_const(self, value: datetime, text: str) -> _Val:
        return _Val(TIME, self.store.timestamp_literal(value), text=text, py=value)

    # type coercion --------------------------------------------------------------------------------
    def number(self, v: _Val, why: str) -> _Val:
        if v.kind == NUMBER:
            return v
        if v.kind == ANY:
            assert v.typed is not None
            return _Val(NUMBER, v.typed(NUMBER, why), text=v.text, pos=v.pos)
        raise self.bad(f"{v.text} {why}, but it is {_article(v.kind)}, not a number", v.pos)

    def string(self, v: _Val, why: str) -> _Val:
        if v.kind == STRING:
            return v
        if v.kind == ANY:
            assert v.typed is not None
            return _Val(STRING, v.typed(STRING, why), text=v.text, pos=v.pos)
        raise self.bad(f"{v.text} {why}, but it is {_article(v.kind)}, not a string", v.pos)

    def timestamp(self, v: _Val, why: str) -> _Val:
        if v.kind == TIME:
            return v
        if v.kind == STRING and v.const:
            return self.time_const(parse_instant(v.py, self.where), v.text)
        raise self.bad(f"{v.text} {why}, but it is {_article(v.kind)}, not a date-time", v.pos)

    def geometry(self, v: _Val, fname: str) -> _Val:
        if v.kind == GEOM:
            return v
        raise self.bad(
            f"{fname}() needs geometries (a location/feature/observedArea property or "
            f"geography'...'), but {v.text} is {_article(v.kind)}",
            v.pos,
        )
