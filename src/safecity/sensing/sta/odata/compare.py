# SPDX-License-Identifier: Apache-2.0
"""Comparisons: ``eq`` ... ``ge``, ``in``, null tests and ``date()`` ranges."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from odata_query import ast
from sqlalchemy import and_, false, not_, or_, true
from sqlalchemy.sql.elements import ColumnElement

from safecity.sensing.sta.odata.values import (
    ANY,
    BOOL,
    DATE,
    DURATION,
    GEOM,
    JSONDOC,
    NULL,
    NUMBER,
    STRING,
    TIME,
    _article,
    _Val,
)
from safecity.sensing.sta.odata.visitor import _MAX_ITEMS, _Visitor

_COMPARATORS: dict[type, str] = {
    ast.Eq: "eq",
    ast.NotEq: "ne",
    ast.Lt: "lt",
    ast.LtE: "le",
    ast.Gt: "gt",
    ast.GtE: "ge",
}
_FLIP = {"eq": "eq", "ne": "ne", "lt": "gt", "le": "ge", "gt": "lt", "ge": "le"}


def _cmp(op: str, a: Any, b: Any) -> ColumnElement[bool]:
    if op == "eq":
        return a == b  # type: ignore[no-any-return]
    if op == "ne":
        return a.is_distinct_from(b)  # type: ignore[no-any-return]
    if op == "lt":
        return a < b  # type: ignore[no-any-return]
    if op == "le":
        return a <= b  # type: ignore[no-any-return]
    if op == "gt":
        return a > b  # type: ignore[no-any-return]
    return a >= b  # type: ignore[no-any-return]


def _py_cmp(op: str, a: Any, b: Any) -> bool:
    return bool(
        {
            "eq": a == b,
            "ne": a != b,
            "lt": a < b,
            "le": a <= b,
            "gt": a > b,
            "ge": a >= b,
        }[op]
    )


class _Comparisons(_Visitor):
    # comparisons ----------------------------------------------------------------------------------
    def visit_Compare(self, node: ast.Compare) -> _Val:
        left = self.visit(node.left)
        if isinstance(node.comparator, ast.In):
            return self.compare_in(left, node.right)
        op = _COMPARATORS[type(node.comparator)]
        right = self.visit(node.right)
        return _Val(BOOL, self.compare(op, left, right), text=f"{left.text} {op} {right.text}")

    def compare_in(self, left: _Val, items_node: ast._Node) -> _Val:
        if not isinstance(items_node, ast.List):
            raise self.bad(f"'in' needs a list such as (1, 2, 3) after {left.text}", left.pos)
        if len(items_node.val) > _MAX_ITEMS:
            raise self.bad(f"'in' lists are limited to {_MAX_ITEMS} values", left.pos)
        items = [self.visit(item) for item in items_node.val]
        if (
            left.kind in (NUMBER, STRING)
            and not left.const
            and all(i.kind == left.kind and i.const for i in items)
        ):
            return _Val(BOOL, left.sql.in_([i.sql for i in items]), text=f"{left.text} in (...)")
        return _Val(BOOL, or_(*[self.compare("eq", left, i) for i in items]), text=f"{left.text} in (...)")

    def compare(self, op: str, left: _Val, right: _Val) -> ColumnElement[bool]:
        if left.kind == NULL and right.kind != NULL:
            left, right, op = right, left, _FLIP[op]
        if right.kind == NULL:
            return self.compare_null(op, left)
        # A constant on the left reads better on the right.
        if left.const and not right.const:
            left, right, op = right, left, _FLIP[op]
        if left.kind == ANY and right.kind == ANY:
            left, right = self.number(left, "is compared"), self.number(right, "is compared")
        elif left.kind == ANY:
            left = self.typed_as(left, right, op)
        elif right.kind == ANY:
            right = self.typed_as(right, left, op)
        if left.kind == NUMBER and right.kind == STRING and left.ident and right.const:
            right = self.id_from_string(right)
        if left.kind == TIME and right.kind == STRING and right.const:
            right = self.timestamp(right, "is compared with a date-time")
        if left.kind == DATE or right.kind == DATE:
            return self.compare_date(op, left, right)
        if left.kind != right.kind:
            raise self.bad(
                f"cannot compare {left.text} ({_article(left.kind)}) with {right.text} ({_article(right.kind)})",
                left.pos if left.pos is not None else right.pos,
            )
        if left.kind in (GEOM, JSONDOC, DURATION):
            hint = "; use st_equals() for geometries" if left.kind == GEOM else ""
            raise self.bad(f"cannot compare {left.text} with {right.text}{hint}", left.pos)
        if left.kind == BOOL and op not in ("eq", "ne"):
            raise self.bad(
                f"booleans can only be compared with eq or ne ({left.text} {op} {right.text})", left.pos
            )
        if left.const and right.const:
            return true() if _py_cmp(op, left.py, right.py) else false()
        return _cmp(op, left.sql, right.sql)

    def typed_as(self, v: _Val, other: _Val, op: str) -> _Val:
        assert v.typed is not None
        kind = other.kind
        if kind in (NUMBER, STRING, BOOL):
            return _Val(kind, v.typed(kind, "is compared"), text=v.text, pos=v.pos)
        v.typed(kind, "is compared")  # raises with a precise message
        raise AssertionError("unreachable")  # pragma: no cover

    def id_from_string(self, v: _Val) -> _Val:
        try:
            return self.number_const(int(v.py), v.text)
        except ValueError:
            raise self.bad(f"ids are numbers; {v.text} is not one") from None

    def compare_null(self, op: str, v: _Val) -> ColumnElement[bool]:
        if op not in ("eq", "ne"):
            raise self.bad(f"null can only be compared with eq or ne ({v.text} {op} null)", v.pos)
        if v.kind == NULL:
            return true() if op == "eq" else false()
        if v.const:
            return false() if op == "eq" else true()
        if v.is_null is not None:
            cond = v.is_null()
        elif v.kind == DATE:
            cond = v.time_sql.is_(None)
        else:
            cond = v.sql.is_(None)
        return cond if op == "eq" else not_(cond)

    def compare_date(self, op: str, left: _Val, right: _Val) -> ColumnElement[bool]:
        """``date(t) op 2026-01-01``: a range on t itself (UTC days), which an index can answer."""
        if right.kind == DATE and not right.const:
            left, right, op = right, left, _FLIP[op]
        if left.kind != DATE or right.kind != DATE or not right.const:
            raise self.bad(
                f"cannot compare {left.text} with {right.text}; compare date(<time property>) with a date "
                "such as 2026-01-01",
                left.pos,
            )
        if left.const:  # date() of a constant, or two date literals
            return true() if _py_cmp(op, left.py, right.py) else false()
        day: date = right.py
        start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        col: ColumnElement[Any] = left.time_sql
        lo = self.store.timestamp_literal(start)
        if day == date.max:  # no next day to bound the range with
            return {
                "eq": col >= lo,
                "ne": col < lo,
                "lt": col < lo,
                "le": col.is_not(None),
                "gt": false(),
                "ge": col >= lo,
            }[op]
        hi = self.store.timestamp_literal(start + timedelta(days=1))
        return {
            "eq": and_(col >= lo, col < hi),
            "ne": or_(col < lo, col >= hi),
            "lt": col < lo,
            "le": col < hi,
            "gt": col >= hi,
            "ge": col >= lo,
        }[op]
