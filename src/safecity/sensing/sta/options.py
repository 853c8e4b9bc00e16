# SPDX-License-Identifier: Apache-2.0
"""Query options ($filter, $expand, $select, $orderby, $top, $skip, $count) parsed into a tree.

``$expand`` items carry their own options in parentheses, separated by ``;``, and may nest; a path form
``Datastreams/Observations`` expands level by level.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from safecity.core.errors import BadRequest
from safecity.sensing.sta.model import ENTITIES, Entity

#: The largest $top/$skip: PostgreSQL's and SQLite's LIMIT/OFFSET are signed 64-bit.
MAX_INT = 2**63 - 1
#: Deepest $expand (levels of navigation); real clients use two or three.
MAX_EXPAND_DEPTH = 8
KNOWN = {"$filter", "$expand", "$select", "$orderby", "$top", "$skip", "$count", "$resultFormat"}


@dataclass
class Options:
    filter: str | None = None
    orderby: str | None = None
    select: list[str] | None = None
    top: int | None = None
    skip: int = 0
    count: bool = False
    expand: dict[str, Options] = field(default_factory=dict)
    result_format: str | None = None


def split_top(text: str, sep: str, where: str) -> list[str]:
    """Split at ``sep`` outside parentheses and quotes."""
    parts: list[str] = []
    depth, quote, start = 0, False, 0
    for i, ch in enumerate(text):
        if ch == "'":
            quote = not quote
        elif not quote and ch == "(":
            depth += 1
        elif not quote and ch == ")":
            depth -= 1
            if depth < 0:
                raise BadRequest(f"{where}: unbalanced ')' at position {i}", where=where)
        elif not quote and depth == 0 and ch == sep:
            parts.append(text[start:i])
            start = i + 1
    if depth != 0:
        raise BadRequest(f"{where}: unbalanced '(' in '{text}'", where=where)
    if quote:
        raise BadRequest(f"{where}: unterminated string in '{text}'", where=where)
    parts.append(text[start:])
    return [p.strip() for p in parts if p.strip()]


def _int(value: str, name: str, minimum: int) -> int:
    if len(value) > 20:  # int() of a huge digit string is itself slow, and no count is that long
        raise BadRequest(f"{name}: '{value[:20]}…' is not an integer up to {MAX_INT}", where=name)
    try:
        n = int(value)
    except ValueError:
        raise BadRequest(f"{name}: '{value}' is not an integer", where=name) from None
    if n < minimum:
        raise BadRequest(f"{name}: must be at least {minimum}, got {n}", where=name)
    if n > MAX_INT:  # the databases' BIGINT: a larger OFFSET is a database error, not an empty page
        raise BadRequest(f"{name}: must be at most {MAX_INT}, got {n}", where=name)
    return n


def _expand_depth(opts: Options) -> int:
    return 1 + max((_expand_depth(sub) for sub in opts.expand.values()), default=0) if opts.expand else 0


def _nesting(text: str) -> int:
    """The deepest parenthesis nesting of an option's text, outside string literals."""
    depth = deepest = 0
    quote = False
    for ch in text:
        if ch == "'":
            quote = not quote
        elif not quote and ch == "(":
            depth += 1
            deepest = max(deepest, depth)
        elif not quote and ch == ")":
            depth -= 1
    return deepest


def parse_options(
    params: Mapping[str, str], entity: Entity, where: str = "", max_top: int = 10_000
) -> Options:
    opts = Options()
    for key, value in params.items():
        name = f"{where}{key}"
        if key not in KNOWN:
            if key.startswith("$"):
                raise BadRequest(
                    f"{name}: unknown query option; use one of {', '.join(sorted(KNOWN))}", where=name
                )
            continue
        if key == "$filter":
            opts.filter = value
        elif key == "$orderby":
            opts.orderby = value
        elif key == "$top":
            opts.top = _int(value, name, 0)
            if opts.top > max_top:
                raise BadRequest(f"{name}: at most {max_top}", where=name)
        elif key == "$skip":
            opts.skip = _int(value, name, 0)
        elif key == "$count":
            if value not in ("true", "false"):
                raise BadRequest(f"{name}: use true or false", where=name)
            opts.count = value == "true"
        elif key == "$resultFormat":
            if value != "dataArray":
                raise BadRequest(f"{name}: only dataArray is supported", where=name)
            if entity.name != "Observation":
                raise BadRequest(f"{name}: dataArray applies to Observations", where=name)
            opts.result_format = value
        elif key == "$select":
            fields = [f.strip() for f in value.split(",") if f.strip()]
            for f in fields:
                if f != "id" and entity.prop(f) is None and entity.nav(f) is None:
                    raise BadRequest(f"{name}: {entity.set_name} have no property '{f}'", where=name)
            opts.select = fields
        elif key == "$expand":
            # Each level of nesting is a parse (and a query) of its own: a deep one is refused before
            # any work, where it once ran out of recursion after seconds of parsing (issue 13).
            if not where and _nesting(value) > MAX_EXPAND_DEPTH:
                raise BadRequest(
                    f"{name}: nested more than {MAX_EXPAND_DEPTH} levels deep; expand less at once",
                    where=name,
                )
            for item in split_top(value, ",", name):
                _add_expand(opts, item, entity, name, max_top)
    if not where and _expand_depth(opts) > MAX_EXPAND_DEPTH:
        raise BadRequest(
            f"$expand: more than {MAX_EXPAND_DEPTH} levels deep; expand less at once", where="$expand"
        )
    return opts


def _add_expand(opts: Options, item: str, entity: Entity, where: str, max_top: int) -> None:
    inner = ""
    head = item
    if "(" in item:
        if not item.endswith(")"):
            raise BadRequest(f"{where}: '{item}' must end with ')'", where=where)
        head, inner = item[: item.index("(")], item[item.index("(") + 1 : -1]
    path = head.split("/")
    current_opts, current = opts, entity
    for depth, nav_name in enumerate(path):
        nav = current.nav(nav_name)
        if nav is None:
            raise BadRequest(
                f"{where}: {current.set_name} have no navigation property '{nav_name}' "
                f"(have: {', '.join(n.name for n in current.navs)})",
                where=where,
            )
        target = ENTITIES[nav.target]
        sub = current_opts.expand.get(nav_name)
        if sub is None:
            sub = Options()
            current_opts.expand[nav_name] = sub
        if depth == len(path) - 1 and inner:
            params: dict[str, str] = {}
            for part in split_top(inner, ";", where):
                k, eq, v = part.partition("=")
                if not eq:
                    raise BadRequest(
                        f"{where}: '{part}' in {nav_name}(...) must be $option=value", where=where
                    )
                params[k.strip()] = v.strip()
            parsed = parse_options(params, target, f"{where}({nav_name})/", max_top)
            for name in ("filter", "orderby", "select", "top", "skip", "count", "result_format"):
                setattr(sub, name, getattr(parsed, name))
            sub.expand.update(parsed.expand)
        current_opts, current = sub, target
