# SPDX-License-Identifier: Apache-2.0
"""SensorThings ``$filter`` and ``$orderby`` (SensorThings 1.1 §9.3.3, OData 4.0) as SQLAlchemy Core.

Parsing is done by the ``odata-query`` package (its SLY lexer and LALR parser); this module only
extends its vocabulary and translates the tree it returns:

* the lexer also accepts ``geometry'...'`` literals (besides ``geography'...'``), remembers where each
  name starts (for error messages) and keeps dotted names such as ``geo.distance`` whole;
* the parser accepts the SensorThings functions (``substringof``, ``st_within``...) besides the OData
  ones. It reuses the grammar and LALR tables of :class:`ODataParser` unchanged: only the method that
  checks a function call is overridden.

How properties map to SQL (see :class:`~safecity.sensing.sta.model.Kind`):

* ``ID`` and ``TEXT`` are their column;
* ``TIME`` is its column; ``INTERVAL`` (``phenomenonTime``, ``resultTime``, ``validTime``) compares its
  **start** column. Date-time literals must carry ``Z`` or an offset and are handed to
  :meth:`Store.timestamp_literal`, so they compare correctly on SQLite (integer microseconds) and
  PostgreSQL (``timestamptz``). A string literal that is an ISO 8601 instant is also accepted;
* ``GEOJSON`` (``location``, ``feature``, ``observedArea``) is its geometry column, usable in spatial
  functions and in ``eq null`` / ``ne null``;
* ``RESULT`` is ``result_number`` when compared with a number (or used in arithmetic), and the JSON
  value of ``result_json`` when compared with a string or a boolean;
* ``JSON`` properties with a path (``properties/owner``, ``unitOfMeasurement/symbol``,
  ``parameters/depth``, also ``result/x`` into a JSON result) extract the value at that path, typed by
  what it is compared with: a number matches JSON numbers only, a string JSON strings only, a boolean
  JSON booleans only (the same on both databases);
* navigation paths (``Datastream/Thing/name``, ``Thing/Locations/name``) become a correlated
  ``EXISTS`` around the smallest condition that uses them, so a path through a to-many navigation
  means "any". ``X/id`` through a navigation with a local foreign key is that column (``Datastream/id
  eq 7`` is ``datastream_id = 7``, which an index answers).

Null semantics: ``ne`` is ``IS DISTINCT FROM`` (``properties/owner ne 'x'`` also matches things
without an owner, as OData says); other comparisons with a missing value are SQL unknown.

Functions: the ones in :data:`FUNCTIONS`. ``date(t)`` compared with a date literal becomes a range on
``t`` (UTC days); ``time(t)`` compares seconds since midnight UTC; ``totaloffsetminutes`` of a stored
time is 0 (times are stored in UTC); ``now()`` is fixed per request. ``geo.distance`` and ``geo.length``
are geodesic metres. Date-time arithmetic is folded in Python and so only works on constants
(``now() sub duration'P1D'``); durations may use days, hours, minutes and seconds.

Not supported (each answers a BadRequest saying so): lambda operators ``any``/``all``; arithmetic on a
stored time (``phenomenonTime add duration'PT1H'``) and differences of times; durations in years or
months; comparing whole JSON documents or geometries (other than with null); the OData functions
``matchesPattern``, ``totalseconds``, ``hassubset``, ``hassubsequence``, ``cast``, ``isof``; sorting through
a to-many navigation. JSON members are reached by name only: keys that are not OData identifiers
(``water-level``, ``2nd``), keys named like keywords (``null``, ``true``, ``false``, ``any``, ``all``) and
array positions (``result/0``) cannot be addressed. ``not`` follows SQL: ``not (x eq 1)`` is unknown,
not true, where x is missing (``ne`` itself does match missing values).

Errors are :class:`BadRequest` with ``where`` set to ``$filter`` or ``$orderby``; positions in messages
count characters from 1.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import shapely
import shapely.errors
from odata_query import ast
from odata_query.exceptions import ParsingException, TokenizingException
from odata_query.grammar import ODataLexer, ODataParser
from odata_query.visitor import NodeVisitor
from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    Integer,
    Numeric,
    String,
    and_,
    case,
    cast,
    exists,
    false,
    func,
    literal,
    literal_column,
    not_,
    null,
    or_,
    select,
    true,
    type_coerce,
)
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.expression import FromClause

from safecity.core.errors import BadRequest
from safecity.core.timeutil import parse_instant
from safecity.sensing.sta.model import Entity, Kind
from safecity.sensing.sta.relations import related, target
from safecity.store.port import SPATIAL_PREDICATES, Store

__all__ = ["FUNCTIONS", "filter_clause", "order_clauses", "parse_filter", "parse_orderby"]

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

_MIN_TIME = datetime(1, 1, 1, tzinfo=UTC)
_MAX_TIME = datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
_INT64 = 2**63
_MAX_DEPTH = 100  # nesting of the expression tree (a flat "a or b or c ..." counts as one level)
# Operands of one flat and/or chain, items of one 'in' list. SQLite parses a chain of N ORs as a tree
# N deep and refuses more than 1000 levels.
_MAX_ITEMS = 500


# ---------------------------------------------------------------------------------------------------
# Parsing: odata-query's lexer and parser, taught the SensorThings vocabulary.
# ---------------------------------------------------------------------------------------------------


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
        name = func.full_name()
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
        return _with_first(reversed_attr, attr.owner)


def _with_first(node: ast._Node, first: ast._Node) -> Any:
    if isinstance(node, ast.Attribute):
        return ast.Attribute(_with_first(node.owner, first), node.attr)
    return first


def _token_text(text: str, index: int) -> str:
    m = SensorThingsLexer._master_re.match(text, index)  # type: ignore[attr-defined]
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
        tree = SensorThingsParser().parse(SensorThingsLexer().tokenize(body))
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

    def visit(self, node: ast._Node) -> Any:
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


# ---------------------------------------------------------------------------------------------------
# Values: what a sub-expression is, in SQL, and how it may be used.
# ---------------------------------------------------------------------------------------------------

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


@dataclass
class _Scope:
    """Navigation joins used by one condition (filter) or one sort key (orderby)."""

    conds: list[ColumnElement[bool]] = field(default_factory=list)
    aliases: dict[tuple[str, ...], FromClause] = field(default_factory=dict)
    froms: list[FromClause] = field(default_factory=list)  # everything the subquery selects from
    many: bool = False


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
        sa_type = {NUMBER: Float(), STRING: String(), BOOL: Boolean()}[kind]
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


_COMPARATORS: dict[type, str] = {
    ast.Eq: "eq",
    ast.NotEq: "ne",
    ast.Lt: "lt",
    ast.LtE: "le",
    ast.Gt: "gt",
    ast.GtE: "ge",
}
_FLIP = {"eq": "eq", "ne": "ne", "lt": "gt", "le": "ge", "gt": "lt", "ge": "le"}
_ARITHMETIC: dict[type, str] = {
    ast.Add: "add",
    ast.Sub: "sub",
    ast.Mult: "mul",
    ast.Div: "div",
    ast.Mod: "mod",
}
_DATE_PARTS = ("year", "month", "day", "hour", "minute", "second", "fractionalseconds")
_STRING_FUNCTIONS = ("substringof", "contains", "startswith", "endswith", "length", "indexof", "substring")


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


def _article(kind: str) -> str:
    return ("an " if kind[0] in "aeiou" else "a ") + kind


# ---------------------------------------------------------------------------------------------------
# Translation
# ---------------------------------------------------------------------------------------------------


class _Translator(NodeVisitor):
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

    # conditions -----------------------------------------------------------------------------------
    def visit(self, node: ast._Node) -> Any:
        self.depth += 1
        try:
            if self.depth > _MAX_DEPTH:
                raise self.bad(f"the expression is nested more than {_MAX_DEPTH} levels deep")
            return super().visit(node)
        finally:
            self.depth -= 1

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

    # literals -------------------------------------------------------------------------------------
    def number_const(self, value: float, text: str) -> _Val:
        if isinstance(value, int) and not -_INT64 <= value < _INT64:
            raise self.bad(f"the number {text} is out of range")
        if isinstance(value, float) and not math.isfinite(value):
            raise self.bad(f"the number {text} is out of range")
        sa_type = Integer() if isinstance(value, int) else Float()
        if isinstance(value, int) and abs(value) >= 2**31:
            sa_type = BigInteger()
        return _Val(NUMBER, literal(value, sa_type), text=text, py=value)

    def visit_Integer(self, node: ast.Integer) -> _Val:
        return self.number_const(node.py_val, node.val)

    def visit_Float(self, node: ast.Float) -> _Val:
        return self.number_const(node.py_val, node.val)

    def visit_String(self, node: ast.String) -> _Val:
        if "\x00" in node.val:
            raise self.bad("strings cannot contain the NUL character")
        return _Val(STRING, literal(node.val, String()), text=repr(node.val), py=node.val)

    def visit_GUID(self, node: ast.GUID) -> _Val:
        return _Val(STRING, literal(node.val, String()), text=node.val, py=node.val)

    def visit_Boolean(self, node: ast.Boolean) -> _Val:
        return _Val(BOOL, literal(node.py_val, Boolean()), text=node.val.lower(), py=node.py_val)

    def visit_Null(self, node: ast.Null) -> _Val:
        return _Val(NULL, null(), text="null", py=None)

    def time_const(self, value: datetime, text: str) -> _Val:
        return _Val(TIME, self.store.timestamp_literal(value), text=text, py=value)

    def visit_DateTime(self, node: ast.DateTime) -> _Val:
        try:
            value = node.py_val
        except (ValueError, OverflowError):
            raise self.bad(f"{node.val} is not a valid date-time") from None
        if value.tzinfo is None:
            raise self.bad(f"{node.val} has no time zone; add Z or an offset such as +09:00")
        return self.time_const(value, node.val)

    def visit_Date(self, node: ast.Date) -> _Val:
        try:
            value = node.py_val
        except ValueError:
            raise self.bad(f"{node.val} is not a valid date") from None
        return _Val(DATE, None, text=node.val, py=value)

    def visit_Time(self, node: ast.Time) -> _Val:
        try:
            value = node.py_val
        except ValueError:
            raise self.bad(f"{node.val} is not a valid time of day") from None
        seconds = value.hour * 3600 + value.minute * 60 + value.second + value.microsecond / 1e6
        return _Val(TIMEOFDAY, literal(seconds, Float()), text=node.val, py=seconds)

    def visit_Duration(self, node: ast.Duration) -> _Val:
        try:
            sign, years, months, days, hours, minutes, seconds = node.unpack()
        except ValueError:
            raise self.bad(f"duration'{node.val}' is not a valid duration") from None
        if years or months:
            raise self.bad(f"duration'{node.val}': years and months are not supported (use days)")
        try:
            delta = timedelta(days=int(days or 0), hours=int(hours or 0), minutes=int(minutes or 0))
            delta += timedelta(seconds=float(seconds or 0))
        except OverflowError:
            raise self.bad(f"duration'{node.val}' is too long") from None
        return _Val(DURATION, None, text=f"duration'{node.val}'", py=-delta if sign == "-" else delta)

    def visit_Geography(self, node: ast.Geography) -> _Val:
        wkt = node.val.strip()
        if wkt.upper().startswith("SRID="):
            srid, _, wkt = wkt.partition(";")
            if srid.strip().upper() not in ("SRID=4326", "SRID=0"):
                raise self.bad(f"geometry literal {srid}: only WGS84 (SRID=4326) is supported")
        try:
            geom = shapely.from_wkt(wkt)
        except shapely.errors.ShapelyError:
            raise self.bad(f"'{node.val}' is not valid WKT (e.g. POINT(126.978 37.5665))") from None
        if geom is None or geom.is_empty:
            raise self.bad(f"'{node.val}' is an empty geometry")
        minx, miny, maxx, maxy = geom.bounds
        if minx < -180 or maxx > 180 or miny < -90 or maxy > 90:
            raise self.bad(f"'{node.val}' is outside longitude -180..180 / latitude -90..90 (x is longitude)")
        text = f"geography'{node.val}'"
        return _Val(GEOM, self.store.geometry_literal(shapely.to_wkt(geom)), text=text, py=geom)

    def visit_List(self, node: ast.List) -> _Val:
        raise self.bad("a list is only allowed after 'in'")

    def visit_CollectionLambda(self, node: ast.CollectionLambda) -> _Val:
        raise self.bad(
            "lambda operators (any/all) are not supported; a path through a to-many navigation "
            "already means 'any', e.g. Thing/Locations/name eq 'x'"
        )

    def visit_NamedParam(self, node: ast.NamedParam) -> _Val:
        raise self.bad("named function parameters are not supported", getattr(node.name, "pos", None))

    # property paths -------------------------------------------------------------------------------
    def visit_Identifier(self, node: ast.Identifier) -> _Val:
        return self.resolve([node.full_name()], getattr(node, "pos", None))

    visit_Name = visit_Identifier

    def visit_Attribute(self, node: ast.Attribute) -> _Val:
        segments: list[str] = []
        owner: ast._Node = node
        while isinstance(owner, ast.Attribute):
            segments.append(owner.attr)
            owner = owner.owner
        if not isinstance(owner, ast.Identifier):
            raise self.bad("unsupported path expression")
        segments.append(owner.full_name())
        segments.reverse()
        return self.resolve(segments, getattr(owner, "pos", None))

    def resolve(self, segments: list[str], pos: int | None) -> _Val:
        entity, alias = self.entity, self.alias
        scope = self.scopes[-1]
        text = "/".join(segments)
        at = pos
        for i, seg in enumerate(segments):
            seg_pos = at
            if at is not None:
                at += len(seg) + 1
            rest = segments[i + 1 :]
            nav = entity.nav(seg)
            if nav is not None:
                if not rest:
                    raise self.bad(
                        f"{seg} is a navigation property; name one of its properties, e.g. {text}/id", seg_pos
                    )
                if rest == ["id"] and nav.local_fk:
                    col = alias.c[nav.local_fk]
                    return _Val(NUMBER, col, text=text, pos=pos, ident=True)
                key = tuple(segments[: i + 1])
                dst = scope.aliases.get(key)
                if dst is None:
                    dst = target(nav).table.alias()
                    scope.aliases[key] = dst
                    scope.froms.append(dst)
                    if nav.link is not None and nav.link_self and nav.link_target:
                        # Join the association table here rather than nesting related()'s EXISTS: that
                        # one auto-correlates only with the SELECT right around it (so the outer row
                        # would not be correlated), and SQLAlchemy's linter would warn of a cartesian
                        # product between its two sides.
                        link = nav.link.alias()
                        scope.froms.append(link)
                        scope.conds.append(link.c[nav.link_self] == alias.c.id)
                        scope.conds.append(link.c[nav.link_target] == dst.c.id)
                    else:
                        scope.conds.append(related(nav, alias, dst))
                    scope.many = scope.many or nav.many
                entity, alias = target(nav), dst
                continue
            prop = entity.prop(seg)
            if prop is None:
                raise self.bad(f"{entity.set_name} have no property '{seg}'", seg_pos)
            return self.property_value(entity, alias, prop.name, rest, text, pos, seg_pos)
        raise AssertionError("unreachable")  # pragma: no cover - the loop always returns

    def property_value(
        self,
        entity: Entity,
        alias: FromClause,
        name: str,
        rest: list[str],
        text: str,
        pos: int | None,
        seg_pos: int | None,
    ) -> _Val:
        prop = entity.prop(name)
        assert prop is not None
        col = alias.c[prop.column]
        if rest and prop.kind not in (Kind.JSON, Kind.RESULT, Kind.GEOJSON):
            raise self.bad(f"{name} is not a JSON property, so it has no member '{rest[0]}'", seg_pos)
        if prop.kind in (Kind.ID, Kind.TEXT):
            kind = NUMBER if prop.kind == Kind.ID else STRING
            return _Val(kind, col, text=text, pos=pos, ident=prop.kind == Kind.ID)
        if prop.kind in (Kind.TIME, Kind.INTERVAL):
            return _Val(TIME, col, text=text, pos=pos)
        if prop.kind == Kind.GEOJSON and not rest:
            assert prop.geom_column is not None
            geom = alias.c[prop.geom_column]
            return _Val(GEOM, geom, text=text, pos=pos, is_null=lambda: geom.is_(None))
        if prop.kind == Kind.GEOJSON and prop.column == prop.geom_column:
            raise self.bad(f"{name} has no JSON members to select", seg_pos)
        if prop.kind == Kind.RESULT:
            return self.result_value(alias, rest, text, pos)
        return self.json_value(col, rest, text, pos)

    def json_value(self, doc: ColumnElement[Any], path: list[str], text: str, pos: int | None) -> _Val:
        if not path:
            return _Val(JSONDOC, doc, text=text, pos=pos, is_null=lambda: self.sql.json_is_null(doc, []))

        def typed(kind: str, why: str) -> ColumnElement[Any]:
            if kind not in (NUMBER, STRING, BOOL):
                raise self.bad(
                    f"{text} {why} with {_article(kind)}, but a JSON value can only be "
                    "a number, a string or a boolean here",
                    pos,
                )
            return self.sql.json_value(doc, path, kind)

        return _Val(
            ANY, None, text=text, pos=pos, typed=typed, is_null=lambda: self.sql.json_is_null(doc, path)
        )

    def result_value(self, alias: FromClause, path: list[str], text: str, pos: int | None) -> _Val:
        doc = alias.c.result_json
        if path:
            return self.json_value(doc, path, text, pos)
        number = alias.c.result_number

        def typed(kind: str, why: str) -> ColumnElement[Any]:
            if kind == NUMBER:
                return number  # type: ignore[no-any-return]
            if kind in (STRING, BOOL):
                return self.sql.json_value(doc, [], kind)
            raise self.bad(
                f"{text} {why} with {_article(kind)}; results compare with numbers, strings and booleans", pos
            )

        def is_null() -> ColumnElement[bool]:
            return and_(number.is_(None), self.sql.json_is_null(doc, []))

        return _Val(ANY, None, text=text, pos=pos, typed=typed, is_null=is_null)

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
        return cond if op == "eq" else not_(cond)  # type: ignore[no-any-return]

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
        col = left.time_sql
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

    # functions ------------------------------------------------------------------------------------
    def visit_Call(self, node: ast.Call) -> _Val:
        name = node.func.full_name()
        pos = getattr(node.func, "pos", None)
        if name not in FUNCTIONS:  # a tree not made by parse_filter
            raise self.bad(f"unknown function '{name}'", pos)
        lo, hi = FUNCTIONS[name]
        if not lo <= len(node.args) <= hi:
            raise self.bad(f"{name}() takes {lo}-{hi} arguments, got {len(node.args)}", pos)
        if name == "now":
            return self.time_const(self.now, "now()")
        if name == "mindatetime":
            return self.time_const(_MIN_TIME, "mindatetime()")
        if name == "maxdatetime":
            return self.time_const(_MAX_TIME, "maxdatetime()")
        args = [self.visit(a) for a in node.args]
        text = f"{name}({', '.join(a.text for a in args)})"
        if name in _STRING_FUNCTIONS or name in ("tolower", "toupper", "trim", "concat"):
            return self.string_function(name, args, text, pos)
        if name in _DATE_PARTS or name in ("date", "time", "totaloffsetminutes"):
            return self.date_function(name, args, text, pos)
        if name in ("round", "floor", "ceiling"):
            x = self.number(args[0], f"is passed to {name}()")
            if x.const:
                fn = {"round": _round_half_away, "floor": math.floor, "ceiling": math.ceil}[name]
                return self.number_const(fn(x.py), text)
            sql = {"round": self.sql.round, "floor": self.sql.floor, "ceiling": self.sql.ceiling}[name](x.sql)
            return _Val(NUMBER, sql, text=text, pos=pos)
        return self.spatial_function(name, args, text, pos)

    def string_function(self, name: str, args: list[_Val], text: str, pos: int | None) -> _Val:
        why = f"is passed to {name}()"
        if name == "substring":
            s = self.string(args[0], why)
            start = self.number(args[1], why)
            sargs = [s.sql, cast(start.sql, Integer()) + 1]
            if len(args) == 3:
                sargs.append(cast(self.number(args[2], why).sql, Integer()))
            return _Val(STRING, func.substr(*sargs, type_=String()), text=text, pos=pos)
        if name in ("length", "tolower", "toupper", "trim"):
            s = self.string(args[0], why)
            if name == "length":
                return _Val(NUMBER, func.length(s.sql, type_=Integer()), text=text, pos=pos)
            fn = {"tolower": func.lower, "toupper": func.upper, "trim": func.trim}[name]
            return _Val(STRING, fn(s.sql, type_=String()), text=text, pos=pos)
        a, b = self.string(args[0], why).sql, self.string(args[1], why).sql
        if name == "concat":
            return _Val(STRING, a.concat(b), text=text, pos=pos)
        if name == "indexof":
            return _Val(NUMBER, self.sql.strpos(a, b) - 1, text=text, pos=pos)
        if name == "substringof":  # SensorThings 1.0 / OData 3: substringof(needle, haystack)
            a, b = b, a
        if name in ("contains", "substringof"):
            cond = self.sql.strpos(a, b) > 0
        elif name == "startswith":
            cond = func.substr(a, 1, func.length(b)) == b
        else:  # endswith
            cond = and_(
                func.length(a) >= func.length(b),
                func.substr(a, func.length(a) - func.length(b) + 1) == b,
            )
        return _Val(BOOL, cond, text=text, pos=pos)

    def date_function(self, name: str, args: list[_Val], text: str, pos: int | None) -> _Val:
        t = self.timestamp(args[0], f"is passed to {name}()")
        if t.const:
            value: datetime = t.py
            if name == "date":
                return _Val(DATE, None, text=text, pos=pos, py=value.date())
            if name == "time":
                s = value.hour * 3600 + value.minute * 60 + value.second + value.microsecond / 1e6
                return _Val(TIMEOFDAY, literal(s, Float()), text=text, pos=pos, py=s)
            if name == "totaloffsetminutes":
                offset = value.utcoffset() or timedelta(0)
                return self.number_const(int(offset.total_seconds() // 60), text)
            if name == "fractionalseconds":
                return self.number_const(value.microsecond / 1e6, text)
            return self.number_const(getattr(value, name), text)
        if name == "totaloffsetminutes":  # stored times are UTC
            return self.number_const(0, text)
        if name == "date":
            return _Val(DATE, None, text=text, pos=pos, time_sql=t.sql)
        # SQLite's date_part does arithmetic on the column; as a plain integer (its storage) the
        # arithmetic's constants are not run through the Timestamp type. No effect on PostgreSQL's SQL.
        col = type_coerce(t.sql, BigInteger())
        fraction = self.store.date_part("fractionalseconds", col)
        if name == "fractionalseconds":
            return _Val(NUMBER, type_coerce(fraction, Float()), text=text, pos=pos)
        if name == "time":
            h, m, sec = (self.store.date_part(p, col) for p in ("hour", "minute", "second"))
            seconds = h * 3600 + m * 60 + sec + fraction
            return _Val(TIMEOFDAY, type_coerce(seconds, Float()), text=text, pos=pos)
        return _Val(NUMBER, type_coerce(self.store.date_part(name, col), Float()), text=text, pos=pos)

    def spatial_function(self, name: str, args: list[_Val], text: str, pos: int | None) -> _Val:
        geoms = [self.geometry(a, name) for a in args[:2]]
        sql_args = [g.sql for g in geoms]
        if name == "geo.distance":
            return _Val(NUMBER, type_coerce(self.store.spatial(name, sql_args), Float()), text=text, pos=pos)
        if name == "geo.length":
            return _Val(NUMBER, type_coerce(self.store.spatial(name, sql_args), Float()), text=text, pos=pos)
        if name == "st_relate":
            pattern = args[2]
            if pattern.kind != STRING or not pattern.const:
                raise self.bad("st_relate() needs a DE-9IM pattern string such as 'T*F**F***'", pos)
            if len(pattern.py) != 9 or set(pattern.py.upper()) - set("TF*012"):
                raise self.bad(
                    f"{pattern.text} is not a DE-9IM pattern (9 characters of T, F, *, 0, 1, 2)", pos
                )
            sql_args.append(literal(pattern.py.upper(), String()))
        # geo.intersects is st_intersects (SensorThings lists both; the SQLite store knows the latter).
        fname = "st_intersects" if name == "geo.intersects" else name
        return _Val(BOOL, type_coerce(self.store.spatial(fname, sql_args), Boolean()), text=text, pos=pos)


def _trunc_div(a: int, b: int) -> int:
    """Integer division truncating toward zero, as SQL (and OData ``div``) do."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


def _round_half_away(x: float) -> float:
    return float(math.floor(abs(x) + 0.5) * (1 if x >= 0 else -1))


# ---------------------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------------------


def filter_clause(
    text: str, entity: Entity, alias: FromClause, store: Store, *, now: datetime | None = None
) -> ColumnElement[bool]:
    """The WHERE condition for ``$filter=text`` on rows of ``entity`` read through ``alias``.

    ``now`` fixes what ``now()`` means (default: the current time). Navigation paths produce
    subqueries correlated with ``alias``, which must therefore be in the FROM of the enclosing select.
    """
    tree = parse_filter(text)
    return _Translator(entity, alias, store, "$filter", now).condition(tree)


def order_clauses(
    text: str, entity: Entity, alias: FromClause, store: Store, *, now: datetime | None = None
) -> list[ColumnElement[Any]]:
    """ORDER BY clauses for ``$orderby=text`` (e.g. ``phenomenonTime desc,id``).

    Items are property paths (to-one navigation allowed: ``Datastream/name``) or expressions
    (``geo.distance(location, geography'POINT(...)')``), each optionally ``asc`` (default) or ``desc``.
    Nulls sort first ascending and last descending on both databases, as OData says (nothing is added
    for NOT NULL columns, so PostgreSQL can still walk an index either way). ``result`` and JSON paths
    sort numbers first (numerically), then strings.
    """
    translator = _Translator(entity, alias, store, "$orderby", now)
    clauses: list[ColumnElement[Any]] = []
    for node, descending in parse_orderby(text):
        for key in translator.sort_keys(node):
            clause = key.desc() if descending else key.asc()
            if getattr(key, "nullable", True) is not False:
                clause = clause.nulls_last() if descending else clause.nulls_first()
            clauses.append(clause)
    return clauses
