# SPDX-License-Identifier: Apache-2.0
"""A small CQL2-text parser for OGC API – Features filters: Basic CQL2 comparisons.

Grammar (OGC 21-065, Basic CQL2): ``AND``, ``OR``, ``NOT``, parentheses, ``=``, ``<>``, ``<``, ``<=``,
``>``, ``>=``, ``LIKE`` (``%`` and ``_``), ``IS [NOT] NULL``; literals are single-quoted strings
(``''`` escapes a quote), numbers and ``TRUE``/``FALSE``. The left side is a property name (optionally
double-quoted). The parser builds SQLAlchemy conditions over the columns a collection exposes.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import and_, not_, or_
from sqlalchemy.sql.elements import ColumnElement

from safecity.core.errors import BadRequest

_TOKEN = re.compile(
    r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<num>-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)"
    r"|(?P<op><>|<=|>=|=|<|>)|(?P<paren>[()])|(?P<qid>\"[^\"]+\")|(?P<word>[A-Za-z_][\w.:-]*))"
)

#: How deep NOT and parentheses may nest; a real filter needs a handful.
MAX_DEPTH = 50

#: Turns a literal into the column's Python type, or raises ValueError.
Coerce = Callable[[str, Any], Any]


class _Parser:
    def __init__(self, text: str, columns: Mapping[str, ColumnElement[Any]], coerce: Coerce) -> None:
        self.text = text
        self.columns = columns
        self.coerce = coerce
        self.tokens: list[tuple[str, str, int]] = []
        pos = 0
        while pos < len(text):
            if text[pos:].strip() == "":
                break
            m = _TOKEN.match(text, pos)
            if m is None or m.end() == pos:
                self.fail(pos, "unexpected character")
            assert m is not None
            kind = m.lastgroup or ""
            self.tokens.append((kind, m.group(kind), m.start(kind)))
            pos = m.end()
        self.i = 0
        self.depth = 0

    def fail(self, pos: int, why: str) -> None:
        raise BadRequest(
            f"filter: {why} at position {pos} of '{self.text}'; use CQL2 text such as "
            "name_ko = '명동' AND population > 10000",
            where="filter",
        )

    def peek(self) -> tuple[str, str, int] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def word(self, *words: str) -> bool:
        tok = self.peek()
        if tok and tok[0] == "word" and tok[1].upper() in words:
            self.i += 1
            return True
        return False

    def take(self) -> tuple[str, str, int]:
        tok = self.peek()
        if tok is None:
            self.fail(len(self.text), "unexpected end")
        assert tok is not None
        self.i += 1
        return tok

    def parse(self) -> ColumnElement[bool]:
        expr = self.or_expr()
        tok = self.peek()
        if tok is not None:
            self.fail(tok[2], f"unexpected '{tok[1]}'")
        return expr

    def or_expr(self) -> ColumnElement[bool]:
        parts = [self.and_expr()]
        while self.word("OR"):
            parts.append(self.and_expr())
        return parts[0] if len(parts) == 1 else or_(*parts)

    def and_expr(self) -> ColumnElement[bool]:
        parts = [self.not_expr()]
        while self.word("AND"):
            parts.append(self.not_expr())
        return parts[0] if len(parts) == 1 else and_(*parts)

    def not_expr(self) -> ColumnElement[bool]:
        tok = self.peek()
        self.depth += 1
        if self.depth > MAX_DEPTH:
            # each NOT and "(" recurses; thousands of them raised RecursionError (a 500, found by fuzzing)
            self.fail(tok[2] if tok else len(self.text), f"nested more than {MAX_DEPTH} levels deep")
        try:
            return self._not_expr()
        finally:
            self.depth -= 1

    def _not_expr(self) -> ColumnElement[bool]:
        if self.word("NOT"):
            return not_(self.not_expr())
        tok = self.peek()
        if tok and tok[0] == "paren" and tok[1] == "(":
            self.i += 1
            inner = self.or_expr()
            close = self.take()
            if close[1] != ")":
                self.fail(close[2], "expected ')'")
            return inner
        return self.comparison()

    def comparison(self) -> ColumnElement[bool]:
        kind, value, pos = self.take()
        if kind not in ("word", "qid"):
            self.fail(pos, f"expected a property name, found '{value}'")
        name = value.strip('"')
        column = self.columns.get(name)
        if column is None:
            raise BadRequest(
                f"filter: unknown property '{name}'; queryables are {', '.join(sorted(self.columns))}",
                where="filter",
            )
        if self.word("IS"):
            negate = self.word("NOT")
            if not self.word("NULL"):
                self.fail(pos, "expected NULL after IS")
            return column.is_not(None) if negate else column.is_(None)
        negate_like = self.word("NOT")
        if negate_like or self.word("LIKE"):
            if negate_like and not self.word("LIKE"):
                self.fail(pos, "expected LIKE after NOT")
            pattern = self.literal(name)
            cond = column.like(pattern)
            return not_(cond) if negate_like else cond
        op_kind, op, op_pos = self.take()
        if op_kind != "op":
            self.fail(op_pos, f"expected a comparison operator after '{name}', found '{op}'")
        lit = self.literal(name)
        ops: dict[str, Callable[[Any], ColumnElement[bool]]] = {
            "=": column.__eq__,
            "<>": column.__ne__,
            "<": column.__lt__,
            "<=": column.__le__,
            ">": column.__gt__,
            ">=": column.__ge__,
        }
        return ops[op](lit)

    def literal(self, name: str) -> Any:
        kind, value, pos = self.take()
        raw: Any
        try:
            if kind == "str":
                raw = value[1:-1].replace("''", "'")
            elif kind == "num":
                # int() refuses more than 4,300 digits with ValueError, answered below like any bad value
                raw = float(value) if any(c in value for c in ".eE") else int(value)
            elif kind == "word" and value.upper() in ("TRUE", "FALSE"):
                raw = value.upper() == "TRUE"
            else:
                self.fail(pos, f"expected a literal, found '{value}'")
            return self.coerce(name, raw)
        except ValueError:
            raise BadRequest(
                f"filter: '{value}' is not a valid value for property '{name}'", where="filter"
            ) from None


def parse_cql2_text(
    text: str, columns: Mapping[str, ColumnElement[Any]], coerce: Coerce
) -> ColumnElement[bool]:
    """SQL condition for a CQL2-text filter; raises :class:`BadRequest` (``where="filter"``)."""
    if not text.strip():
        raise BadRequest("filter: empty filter expression", where="filter")
    return _Parser(text, columns, coerce).parse()
