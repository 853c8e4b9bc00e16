# SPDX-License-Identifier: Apache-2.0
"""Parsing ``$filter`` and ``$orderby``: odata-query's lexer and parser, taught the SensorThings vocabulary.

Problems are reported as :class:`BadRequest` naming the position (from 1) in the query option.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from odata_query import ast
from odata_query.exceptions import ParsingException, TokenizingException
from odata_query.grammar import ODataLexer, ODataParser
from odata_query.visitor import NodeVisitor

from safecity.core.errors import BadRequest
from safecity.store.port import SPATIAL_PREDICATES

#: Functions accepted in expressions, with their (minimum, maximum) number of arguments.
FUNCTIONS: dict[str, tuple[int, int]] = {
    # strings
    "substringof": (2, 2),
    "contains": (2, 2),
    "endswith": (2, 2),
    "startswith": (2, 2),
    "length": (1, 1),
    "indexof": (2, 2),
    "substring": (2, 3),
    "tolower": (1, 1),
    "toupper": (1, 1),
    "trim": (1, 1),
    "concat": (2, 2),
    # date and time
    "year": (1, 1),
    "month": (1, 1),
    "day": (1, 1),
    "hour": (1, 1),
    "minute": (1, 1),
    "second": (1, 1),
    "fractionalseconds": (1, 1),
    "date": (1, 1),
    "time": (1, 1),
    "totaloffsetminutes": (1, 1),
    "now": (0, 0),
    "mindatetime": (0, 0),
    "maxdatetime": (0, 0),
    # math
    "round": (1, 1),
    "floor": (1, 1),
    "ceiling": (1, 1),
    # geospatial
    "geo.distance": (2, 2),
    "geo.length": (1, 1),
    "geo.intersects": (2, 2),
    **{name: (2, 2) for name in SPATIAL_PREDICATES},
    "st_relate": (3, 3),
}


@dataclass(frozen=True)
class Name(ast.Identifier):
    """An identifier that remembers where it starts (0-based index into the parsed text).

    Dotted names (``geo.distance``) are kept whole in ``name``; ``namespace`` stays empty.
    """

    pos: int = field(default=-1, compare=False)


class _Problem(Exception):
    """A problem found while parsing, turned into BadRequest (with the right ``where``) by the caller."""

    def __init__(self, message: str, pos: int | None) -> None:
        super().__init__(message)
        self.message = message
        self.pos = pos


class SensorThingsLexer(ODataLexer):
    """odata-query's lexer, plus ``geometry'...'`` literals and identifier positions."""

    tokens = ODataLexer.tokens

    # Same token (so the parser needs no new rule) and same place in the rule order as the original.
    @_(r"geo(?:graphy|metry)'(?:[^']|'')*'")  # type: ignore[name-defined,untyped-decorator]  # noqa: F821
    def GEOGRAPHY(self, t: Any) -> Any:
        prefix = t.value.index("'")
        t.value = ast.Geography(t.value[prefix + 1 : -1].replace("''", "'"))
        return t

    # Keywords must not swallow the start of a longer name (``allowed``, ``nullable``, ``trueColor``).
    @_(r"(?:true|false)(?!\w)")  # type: ignore[name-defined,untyped-decorator]  # noqa: F821
    def BOOLEAN(self, t: Any) -> Any:
        t.value = ast.Boolean(t.value)
        return t

    @_(r"null(?!\w)")  # type: ignore[name-defined,untyped-decorator]  # noqa: F821
    def NULL(self, t: Any) -> Any:
        t.value = ast.Null()
        return t

    @_(r"any(?!\w)")  # type: ignore[name-defined,untyped-decorator]  # noqa: F821
    def ANY(self, t: Any) -> Any:
        t.value = ast.Any()
        return t

    @_(r"all(?!\w)")  # type: ignore[name-defined,untyped-decorator]  # noqa: F821
    def ALL(self, t: Any) -> Any:
        t.value = ast.All()
        return t

    @_(r"[_a-z](?:\.?\w){0,127}")  # type: ignore[name-defined,untyped-decorator]  # noqa: F821
    def ODATA_IDENTIFIER(self, t: Any) -> Any:
        t.value = Name(t.value, (), t.index)
        return t


class SensorThingsParser(ODataParser):
    """odata-query's parser with the SensorThings functions.

    SLY's metaclass builds a parser's grammar from the rules defined in its own class body, so a
    subclass without rules would fail to build. This subclass defines no rule: it skips the build
    (``_build``) and uses the grammar and LALR tables of :class:`ODataParser`, whose rule functions
    call ``self._function_call`` and ``self._reverse_attributes`` — the two methods overridden here.
    """

    @classmethod
    def _build(cls, definitions: Any) -> None:
        return None

    def _function_call(self, func: ast.Identifier, args: list[ast._Node]) -> ast._Node:
        name: str = func.full_name()
        pos = getattr(func, "pos", None)
        if name == "not" and len(args) == 1:
            # The lexer only knows "not" followed by a space; "not(...)" arrives here as a call.
            return ast.UnaryOp(ast.Not(), args[0])
        if name not in FUNCTIONS:
            raise _Problem(f"unknown function '{name}'", pos)
        lo, hi = FUNCTIONS[name]
        if not lo <= len(args) <= hi:
            expected = str(lo) if lo == hi else f"{lo} to {hi}"
            plural = "" if expected == "1" else "s"
            raise _Problem(f"{name}() takes {expected} argument{plural}, got {len(args)}", pos)
        return ast.Call(func, args)

    def _reverse_attributes(self, attr: ast.Attribute) -> ast.Attribute:
        # The original rebuilds the first segment as a plain Identifier; keep ours (with its position).
        reversed_attr = super()._reverse_attributes(attr)
        return ast.Attribute(_with_first(reversed_attr.owner, attr.owner), reversed_attr.attr)


def _with_first(node: ast._Node, first: ast._Node) -> ast._Node:
    if isinstance(node, ast.Attribute):
        return ast.Attribute(_with_first(node.owner, first), node.attr)
    return first


def _token_text(text: str, index: int) -> str:
    m = SensorThingsLexer._master_re.match(text, index)
    raw = m.group() if m else text[index : index + 1]
    return raw.strip() or raw


def _skip_space(text: str, index: int) -> int:
    while index < len(text) and text[index].isspace():
        index += 1
    return index


def _parse(text: str, where: str, offset: int = 0) -> ast._Node:
    """Parse one expression. ``offset`` is where ``text`` starts in the query option (for messages)."""
    stripped = text.lstrip()
    offset += len(text) - len(stripped)
    body = stripped.rstrip()
    if not body:
        raise BadRequest(f"{where}: the expression is empty", where=where)
    try:
        tree: ast._Node | None = SensorThingsParser().parse(SensorThingsLexer().tokenize(body))
    except TokenizingException as e:
        index = e.token.index
        snippet = body[index : index + 20]
        raise BadRequest(
            f"{where}: cannot read {snippet!r} (at position {offset + index + 1})", where=where
        ) from None
    except ParsingException as e:
        if e.eof or e.token is None:
            raise BadRequest(
                f"{where}: the expression ends too early (at position {offset + len(body) + 1})", where=where
            ) from None
        index = _skip_space(body, e.token.index)
        raise BadRequest(
            f"{where}: syntax error at {_token_text(body, index)!r} (at position {offset + index + 1})",
            where=where,
        ) from None
    except _Problem as e:
        at = f" (at position {offset + e.pos + 1})" if e.pos is not None and e.pos >= 0 else ""
        raise BadRequest(f"{where}: {e.message}{at}", where=where) from None
    except RecursionError:  # e.g. a path of thousands of segments
        raise BadRequest(f"{where}: the expression is nested too deeply", where=where) from None
    if tree is None:
        raise BadRequest(f"{where}: the expression is empty", where=where)
    if offset:
        try:
            tree = _Shift(offset).visit(tree)
        except RecursionError:
            raise BadRequest(f"{where}: the expression is nested too deeply", where=where) from None
    return tree


class _Shift(NodeVisitor):
    """Move the positions of names by ``offset`` (an $orderby item parsed on its own)."""

    def __init__(self, offset: int) -> None:
        self.offset = offset

    def visit(self, node: ast._Node) -> ast._Node:
        if isinstance(node, Name):
            return Name(node.name, node.namespace, node.pos + self.offset)
        if isinstance(node, ast._Node):
            kwargs = {}
            for name in node.__dataclass_fields__:
                value = getattr(node, name)
                if isinstance(value, list):
                    value = [self.visit(v) if isinstance(v, ast._Node) else v for v in value]
                elif isinstance(value, ast._Node):
                    value = self.visit(value)
                kwargs[name] = value
            return type(node)(**kwargs)
        return node


def parse_filter(text: str) -> ast._Node:
    """Parse a ``$filter`` expression into an odata-query tree.

    Raises BadRequest naming the position (from 1) and the token that is wrong, an unknown function or
    a wrong number of arguments.
    """
    return _parse(text, "$filter")


def _split_top_level(text: str) -> list[tuple[int, str]]:
    """Split an $orderby value at the commas outside parentheses and quotes: [(start, item), ...]."""
    items: list[tuple[int, str]] = []
    depth, quoted, start = 0, False, 0
    for i, ch in enumerate(text):
        if ch == "'":
            quoted = not quoted  # '' inside a string toggles twice
        elif quoted:
            continue
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 0:
            items.append((start, text[start:i]))
            start = i + 1
    items.append((start, text[start:]))
    return items


def parse_orderby(text: str) -> list[tuple[ast._Node, bool]]:
    """Parse ``$orderby``: comma-separated expressions, each optionally followed by asc or desc.

    Returns ``[(expression, descending), ...]``.
    """
    where = "$orderby"
    out: list[tuple[ast._Node, bool]] = []
    for start, item in _split_top_level(text):
        body = item.rstrip()
        if not body.strip():
            raise BadRequest(f"{where}: empty sort item (at position {start + 1})", where=where)
        descending = False
        words = body.rsplit(None, 1)
        if len(words) == 2 and words[1].lower() in ("asc", "desc"):
            descending = words[1].lower() == "desc"
            body = body[: len(body) - len(words[1])]
        out.append((_parse(body, where, start), descending))
    return out
