# SPDX-License-Identifier: Apache-2.0
"""Conditions (``$filter``) and sort keys (``$orderby``): where navigation paths become subqueries."""

from __future__ import annotations

from typing import Any

from odata_query import ast
from sqlalchemy import and_, exists, false, literal, not_, or_, select, true
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
    _article,
    _Val,
)
from safecity.sensing.sta.odata.visitor import _MAX_DEPTH, _MAX_ITEMS, _Scope, _Visitor


class _Conditions(_Visitor):
    # conditions -----------------------------------------------------------------------------------
    def condition(self, node: ast._Node) -> ColumnElement[bool]:
        """Translate a boolean expression; navigation paths below it become EXISTS around it."""
        if isinstance(node, ast.BoolOp):
            # a or b or c ... is a left-deep tree; flatten it so long generated lists do not recurse.
            op = type(node.op)
            operands: list[ast._Node] = []
            stack: list[ast._Node] = [node]
            while stack:
                item = stack.pop()
                if isinstance(item, ast.BoolOp) and type(item.op) is op:
                    stack += [item.right, item.left]
                else:
                    operands.append(item)
            if len(operands) > _MAX_ITEMS:
                word = "and" if op is ast.And else "or"
                raise self.bad(
                    f"more than {_MAX_ITEMS} conditions joined by '{word}'; use 'in' for lists of values"
                )
            parts = [self.visit_condition(o) for o in operands]
            return and_(*parts) if op is ast.And else or_(*parts)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            return not_(self.visit_condition(node.operand))
        scope = _Scope()
        self.scopes.append(scope)
        try:
            value = self.visit(node)
        finally:
            self.scopes.pop()
        cond = self.as_condition(value)
        if scope.conds:
            cond = exists(select(literal(1)).where(*scope.conds, cond).correlate_except(*scope.froms))
        return cond

    def visit_condition(self, node: ast._Node) -> ColumnElement[bool]:
        self.depth += 1
        try:
            if self.depth > _MAX_DEPTH:
                raise self.bad(f"the expression is nested more than {_MAX_DEPTH} levels deep")
            return self.condition(node)
        finally:
            self.depth -= 1

    def as_condition(self, v: _Val) -> ColumnElement[bool]:
        if v.kind == BOOL:
            if v.const:
                return true() if v.py else false()
            return v.sql  # type: ignore[no-any-return]
        if v.kind == ANY:
            assert v.typed is not None
            return v.typed(BOOL, "is used as a condition") == literal(True)
        raise self.bad(f"{v.text} is {_article(v.kind)}, not a condition", v.pos)

    def sort_keys(self, node: ast._Node) -> list[ColumnElement[Any]]:
        scope = _Scope()
        self.scopes.append(scope)
        try:
            v = self.visit(node)
        finally:
            self.scopes.pop()
        if v.kind == ANY:
            assert v.typed is not None
            keys = [v.typed(NUMBER, "is sorted"), v.typed(STRING, "is sorted")]
        elif v.kind == DATE:
            keys = [v.time_sql if v.time_sql is not None else v.sql]
        elif v.kind in (GEOM, JSONDOC, NULL, DURATION):
            raise self.bad(f"cannot sort by {v.text} ({_article(v.kind)})", v.pos)
        else:
            keys = [v.sql]
        if scope.conds:
            if scope.many:
                raise self.bad(f"cannot sort by {v.text}: the path goes through a to-many navigation", v.pos)
            keys = [
                select(k).where(*scope.conds).correlate_except(*scope.froms).scalar_subquery() for k in keys
            ]
        return keys

    # boolean operators inside a value (e.g. ``(a eq 1) eq true``) ---------------------------------
    def visit_BoolOp(self, node: ast.BoolOp) -> _Val:
        return _Val(BOOL, self.condition(node), text="(...)")

    def visit_UnaryOp(self, node: ast.UnaryOp) -> _Val:
        if isinstance(node.op, ast.Not):
            return _Val(BOOL, self.condition(node), text="not(...)")
        v = self.number(self.visit(node.operand), "is negated")
        if v.const:
            return self.number_const(-v.py, f"-{v.text}")
        return _Val(NUMBER, -v.sql, text=f"-{v.text}")
