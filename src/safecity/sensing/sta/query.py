# SPDX-License-Identifier: Apache-2.0
"""Reading SensorThings entities: collections with query options, single entities, properties, refs."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any, ParamSpec, TypeVar
from urllib.parse import quote

import shapely
from shapely.geometry import mapping
from shapely.geometry.base import BaseGeometry
from sqlalchemy import Select, func, select
from sqlalchemy.engine import Connection, Row
from sqlalchemy.exc import DataError
from sqlalchemy.sql.elements import ColumnElement

from safecity.core.errors import BadRequest
from safecity.core.timeutil import iso, iso_interval
from safecity.sensing.sta.model import ENTITIES, Entity, Kind
from safecity.sensing.sta.odata import filter_clause, order_clauses
from safecity.sensing.sta.options import Options
from safecity.sensing.sta.paths import self_link
from safecity.sensing.sta.relations import related
from safecity.store import Store

_P = ParamSpec("_P")
_R = TypeVar("_R")


def _expression_option(opts: Options, where: str = "") -> str | None:
    """The first query option (``$filter``, ``$orderby``, or one inside ``$expand``) with an expression."""
    if opts.filter:
        return f"{where}$filter"
    if opts.orderby:
        return f"{where}$orderby"
    for name, sub in opts.expand.items():
        found = _expression_option(sub, f"{where}$expand({name})/")
        if found:
            return found
    return None


def _evaluated(fn: Callable[_P, _R]) -> Callable[_P, _R]:
    """Turn a database's refusal to evaluate a client's expression into a 400 naming the option.

    Whether ``result mul 1e308`` overflows, or ``substring(name, -1)`` is refused, depends on the stored
    values and the database (PostgreSQL raises, SQLite yields inf or NULL), so it cannot be checked
    when the expression is translated; the query itself is the check.
    """

    @functools.wraps(fn)
    def run(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return fn(*args, **kwargs)
        except DataError as e:
            opts = next((a for a in (*args, *kwargs.values()) if isinstance(a, Options)), None)
            where = _expression_option(opts) if opts is not None else None
            if where is None:
                raise  # not the client's expression: a real server error
            reason = str(e.orig).splitlines()[0] if e.orig is not None else type(e).__name__
            raise BadRequest(
                f"{where}: the database cannot evaluate the expression on the stored values ({reason}); "
                "check the numbers and arguments it uses",
                where=where,
                message_ko=f"{where}: 저장된 값에 대해 식을 계산할 수 없습니다({reason}). 식의 숫자와 인자를 확인하세요",
            ) from None

    return run


class Reader:
    def __init__(self, store: Store, base: str, default_top: int) -> None:
        self.store = store
        self.base = base
        self.default_top = default_top

    # rendering ----------------------------------------------------------------------------------
    def render(self, entity: Entity, row: Row[Any], select_: list[str] | None) -> dict[str, Any]:
        link = self_link(self.base, entity, row.id)
        wanted = set(select_) if select_ else None
        out: dict[str, Any] = {}
        if wanted is None or "id" in wanted:
            out["@iot.id"] = row.id
        if wanted is None:
            out["@iot.selfLink"] = link
        for p in entity.props:
            if p.name == "id" or (wanted is not None and p.name not in wanted):
                continue
            out[p.name] = self._value(p.kind, row, p.column, p.end_column)
        for n in entity.navs:
            if wanted is None or n.name in wanted:
                out[f"{n.name}@iot.navigationLink"] = f"{link}/{n.name}"
        return out

    @staticmethod
    def _value(kind: Kind, row: Row[Any], column: str, end_column: str | None) -> Any:
        m = row._mapping
        if kind is Kind.TIME:
            return iso(m[column])
        if kind is Kind.INTERVAL:
            return iso_interval(m[column], m[end_column]) if end_column else iso(m[column])
        if kind is Kind.RESULT:
            number = m["result_number"]
            if number is not None:
                return int(number) if number.is_integer() and abs(number) < 2**53 else number
            return m["result_json"]
        value = m[column]
        if isinstance(value, BaseGeometry):
            return mapping(value) if not value.is_empty else None
        if (
            isinstance(value, str)
            and kind is Kind.GEOJSON
            and value.startswith(("POINT", "POLYGON", "LINESTRING", "MULTI"))
        ):
            return mapping(shapely.from_wkt(value))
        return value

    # queries ------------------------------------------------------------------------------------
    def _base_query(self, entity: Entity, where: ColumnElement[bool] | None, opts: Options) -> Select[Any]:
        table = entity.table
        stmt = select(table)
        if where is not None:
            stmt = stmt.where(where)
        if opts.filter:
            stmt = stmt.where(filter_clause(opts.filter, entity, table, self.store))
        return stmt

    @_evaluated
    def collection(
        self,
        conn: Connection,
        entity: Entity,
        where: ColumnElement[bool] | None,
        opts: Options,
        next_base: str | None,
        raw_query: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        stmt = self._base_query(entity, where, opts)
        out: dict[str, Any] = {}
        if opts.count:
            out["@iot.count"] = conn.execute(select(func.count()).select_from(stmt.subquery())).scalar_one()
        top = self.default_top if opts.top is None else opts.top
        orders = order_clauses(opts.orderby, entity, entity.table, self.store) if opts.orderby else []
        stmt = stmt.order_by(*orders, entity.table.c.id).offset(opts.skip).limit(top + 1)
        rows = conn.execute(stmt).all()
        more = len(rows) > top
        rows = rows[:top]
        if opts.result_format == "dataArray" and entity.name == "Observation":
            out["value"] = self.data_array(rows, opts)
        else:
            out["value"] = self.render_many(conn, entity, rows, opts)
        if more and next_base is not None:
            out["@iot.nextLink"] = _next_link(next_base, raw_query or {}, top, opts.skip)
        return out

    def data_array(self, rows: Sequence[Row[Any]], opts: Options) -> list[dict[str, Any]]:
        """Observations in the Data Array form (SensorThings 1.1 §14.3): one block per stream."""
        obs = ENTITIES["Observation"]
        components = [
            c
            for c in (opts.select or ["id", "phenomenonTime", "resultTime", "result"])
            if c == "id" or obs.prop(c)
        ]
        blocks: dict[tuple[str, int], dict[str, Any]] = {}
        for row in rows:
            m = row._mapping
            key = (
                ("Datastreams", m["datastream_id"])
                if m["datastream_id"] is not None
                else ("MultiDatastreams", m["multi_datastream_id"])
            )
            block = blocks.get(key)
            if block is None:
                block = blocks[key] = {
                    f"{key[0][:-1]}@iot.navigationLink": f"{self.base}/{key[0]}({key[1]})",
                    "components": components,
                    "dataArray": [],
                }
            rendered = self.render(obs, row, None)
            block["dataArray"].append([row.id if c == "id" else rendered[c] for c in components])
        for block in blocks.values():
            block["dataArray@iot.count"] = len(block["dataArray"])
        return list(blocks.values())

    def render_many(
        self, conn: Connection, entity: Entity, rows: Sequence[Row[Any]], opts: Options
    ) -> list[dict[str, Any]]:
        """Render ``rows`` with their expansions; each navigation costs one query for all rows."""
        bodies = [self.render(entity, r, opts.select) for r in rows]
        if not rows:
            return bodies
        for nav_name, sub in opts.expand.items():
            nav = entity.nav(nav_name)
            assert nav is not None  # checked when the options were parsed
            target = ENTITIES[nav.target]
            if nav.many:
                self._expand_many(conn, entity, nav_name, target, rows, bodies, sub)
            else:
                self._expand_one(conn, nav_name, nav.local_fk or "", target, rows, bodies, sub)
        return bodies

    def _expand_one(
        self,
        conn: Connection,
        nav_name: str,
        local_fk: str,
        target: Entity,
        rows: Sequence[Row[Any]],
        bodies: list[dict[str, Any]],
        sub: Options,
    ) -> None:
        ids = {r._mapping[local_fk] for r in rows} - {None}
        if not ids:
            return
        stmt = self._base_query(target, target.table.c.id.in_(ids), sub)
        children = conn.execute(stmt).all()
        rendered = dict(
            zip((c.id for c in children), self.render_many(conn, target, children, sub), strict=True)
        )
        for row, body in zip(rows, bodies, strict=True):
            child = rendered.get(row._mapping[local_fk])
            if child is not None:
                body[nav_name] = child

    def _expand_many(
        self,
        conn: Connection,
        entity: Entity,
        nav_name: str,
        target: Entity,
        rows: Sequence[Row[Any]],
        bodies: list[dict[str, Any]],
        sub: Options,
    ) -> None:
        nav = entity.nav(nav_name)
        assert nav is not None
        parent = entity.table.alias("parent")
        child = target.table
        inner = target.table.alias("inner")
        top = self.default_top if sub.top is None else sub.top
        # Per parent, the ids of its first top+1 children in order: a correlated subquery each database
        # answers from its (parent, order) index, so the newest Observation of 1,000 Datastreams is one
        # statement of 1,000 index seeks rather than 1,000 statements.
        pick = select(inner.c.id).where(related(nav, parent, inner))
        if sub.filter:
            pick = pick.where(filter_clause(sub.filter, target, inner, self.store))
        inner_orders = order_clauses(sub.orderby, target, inner, self.store) if sub.orderby else []
        pick = pick.order_by(*inner_orders, inner.c.id).offset(sub.skip).limit(top + 1).correlate(parent)
        outer_orders = order_clauses(sub.orderby, target, child, self.store) if sub.orderby else []
        ids = [r.id for r in rows]
        stmt = (
            select(child, parent.c.id.label("sta_parent_id"))
            .select_from(parent)
            .join(child, child.c.id.in_(pick))
            .where(parent.c.id.in_(ids))
            .order_by(parent.c.id, *outer_orders, child.c.id)
        )
        by_parent: dict[int, list[Row[Any]]] = {i: [] for i in ids}
        for r in conn.execute(stmt):
            by_parent[r._mapping["sta_parent_id"]].append(r)
        counts: dict[int, int] = {}
        if sub.count:
            counted = (
                select(parent.c.id, func.count()).select_from(parent).join(inner, related(nav, parent, inner))
            )
            if sub.filter:
                counted = counted.where(filter_clause(sub.filter, target, inner, self.store))
            counts = dict(
                conn.execute(counted.where(parent.c.id.in_(ids)).group_by(parent.c.id)).tuples().all()
            )
        flat: list[Row[Any]] = []
        spans: list[tuple[int, int, bool]] = []
        for pid in ids:
            children = by_parent[pid]
            more = len(children) > top
            spans.append((len(flat), min(len(children), top), more))
            flat.extend(children[:top])
        rendered = self.render_many(conn, target, flat, sub)
        query = _options_query(sub)
        for (start, n, more), body, pid in zip(spans, bodies, ids, strict=True):
            body[nav_name] = rendered[start : start + n]
            if sub.count:
                body[f"{nav_name}@iot.count"] = counts.get(pid, 0)
            if more:
                link = f"{self_link(self.base, entity, pid)}/{nav_name}"
                body[f"{nav_name}@iot.nextLink"] = _next_link(link, query, top, sub.skip)

    def entity_json(self, conn: Connection, entity: Entity, row: Row[Any], opts: Options) -> dict[str, Any]:
        return self.render_many(conn, entity, [row], opts)[0]

    @_evaluated
    def one(self, conn: Connection, entity: Entity, entity_id: int, opts: Options) -> dict[str, Any] | None:
        row = conn.execute(select(entity.table).where(entity.table.c.id == entity_id)).first()
        if row is None:
            return None
        return self.entity_json(conn, entity, row, opts)

    @_evaluated
    def refs(
        self, conn: Connection, entity: Entity, where: ColumnElement[bool] | None, opts: Options
    ) -> dict[str, Any]:
        stmt = self._base_query(entity, where, opts)
        top = self.default_top if opts.top is None else opts.top
        out: dict[str, Any] = {}
        if opts.count:
            out["@iot.count"] = conn.execute(select(func.count()).select_from(stmt.subquery())).scalar_one()
        ids = conn.execute(select(stmt.subquery().c.id).order_by("id").offset(opts.skip).limit(top)).scalars()
        out["value"] = [{"@iot.selfLink": self_link(self.base, entity, i)} for i in ids]
        return out


def _next_link(base: str, params: dict[str, str], top: int, skip: int) -> str:
    query = {**params, "$top": str(top), "$skip": str(skip + top)}
    return base + "?" + "&".join(f"{k}={quote(v, safe='$(),/:;=')}" for k, v in query.items())


def _options_query(opts: Options) -> dict[str, str]:
    q: dict[str, str] = {}
    if opts.filter:
        q["$filter"] = opts.filter
    if opts.orderby:
        q["$orderby"] = opts.orderby
    if opts.select:
        q["$select"] = ",".join(opts.select)
    if opts.count:
        q["$count"] = "true"
    return q
