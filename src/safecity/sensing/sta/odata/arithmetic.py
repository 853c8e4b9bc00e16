# SPDX-License-Identifier: Apache-2.0
"""Arithmetic: ``add`` ... ``mod`` on numbers, and on constant date-times and durations."""

from __future__ import annotations

import math

from odata_query import ast
from sqlalchemy import Float

from safecity.sensing.sta.odata.values import DURATION, NUMBER, TIME, _Val
from safecity.sensing.sta.odata.visitor import _Visitor

_ARITHMETIC: dict[type, str] = {
    ast.Add: "add",
    ast.Sub: "sub",
    ast.Mult: "mul",
    ast.Div: "div",
    ast.Mod: "mod",
}


class _Arithmetic(_Visitor):
    # arithmetic -----------------------------------------------------------------------------------
    def visit_BinOp(self, node: ast.BinOp) -> _Val:
        op = _ARITHMETIC[type(node.op)]
        left, right = self.visit(node.left), self.visit(node.right)
        text = f"{left.text} {op} {right.text}"
        if left.kind == TIME or right.kind == TIME or left.kind == DURATION or right.kind == DURATION:
            return self.time_arithmetic(op, left, right, text)
        left = self.number(left, f"is used with '{op}'")
        right = self.number(right, f"is used with '{op}'")
        if op in ("div", "mod") and right.const and right.py == 0:
            raise self.bad(f"division by zero in {text}")
        if left.const and right.const:
            a, b = left.py, right.py
            both_int = isinstance(a, int) and isinstance(b, int)
            if op == "add":
                return self.number_const(a + b, text)
            if op == "sub":
                return self.number_const(a - b, text)
            if op == "mul":
                return self.number_const(a * b, text)
            if op == "div":
                return self.number_const(_trunc_div(a, b) if both_int else a / b, text)
            return self.number_const(a - b * _trunc_div(a, b) if both_int else math.fmod(a, b), text)
        a, b = left.sql, right.sql
        if op == "add":
            sql = a.op("+", return_type=Float())(b)
        elif op == "sub":
            sql = a.op("-", return_type=Float())(b)
        elif op == "mul":
            sql = a.op("*", return_type=Float())(b)
        elif op == "div":
            sql = self.sql.div(a, b)
        else:
            sql = self.sql.mod(a, b)
        return _Val(NUMBER, sql, text=text)

    def time_arithmetic(self, op: str, left: _Val, right: _Val, text: str) -> _Val:
        """Constant date-times and durations only: ``now() sub duration'P1D'``."""
        try:
            if left.kind == TIME and right.kind == DURATION and op in ("add", "sub") and left.const:
                value = left.py + right.py if op == "add" else left.py - right.py
                return self.time_const(value, text)
            if left.kind == DURATION and right.kind == TIME and op == "add" and right.const:
                return self.time_const(right.py + left.py, text)
        except OverflowError:
            raise self.bad(f"{text} is outside the years 1 to 9999") from None
        raise self.bad(
            f"{text}: only a constant date-time (a literal or now()) plus or minus a duration is supported"
        )


def _trunc_div(a: int, b: int) -> int:
    """Integer division truncating toward zero, as SQL (and OData ``div``) do."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q
