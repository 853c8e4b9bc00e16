# SPDX-License-Identifier: Apache-2.0
"""Reading SensorThings entities: collections with query options, single entities, properties, refs."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import shapely
from shapely.geometry import mapping
from shapely.geometry.base import BaseGeometry
from sqlalchemy import Select, func, select
from sqlalchemy.engine import Connection, Row
from sqlalchemy.sql.elements import ColumnElement

from safecity.core.timeutil import iso, iso_interval
from safecity.sensing.sta.model import ENTITIES, Entity, Kind
from safecity.sensing.sta.odata import filter_clause, order_clauses
from safecity.sensing.sta.options import Options
from safecity.sensing.sta.paths import self_link
from safecity.sensing.sta.relations import children_of
from safecity.store import Store


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
        out["value"] = [self.entity_json(conn, entity, r, opts) for r in rows]
        if more and next_base is not None:
            params = dict(raw_query or {})
            params["$top"] = str(top)
            params["$skip"] = str(opts.skip + top)
            out["@iot.nextLink"] = (
                next_base + "?" + "&".join(f"{k}={quote(v, safe='$(),/:;=')}" for k, v in params.items())
            )
        return out

    def entity_json(self, conn: Connection, entity: Entity, row: Row[Any], opts: Options) -> dict[str, Any]:
        body = self.render(entity, row, opts.select)
        for nav_name, sub in opts.expand.items():
            nav = entity.nav(nav_name)
            assert nav is not None  # checked when the options were parsed
            target = ENTITIES[nav.target]
            cond = children_of(nav, entity, row.id, target.table)
            if nav.many:
                link = f"{self_link(self.base, entity, row.id)}/{nav_name}"
                sub_out = self.collection(conn, target, cond, sub, link, _options_query(sub))
                body[nav_name] = sub_out["value"]
                if "@iot.count" in sub_out:
                    body[f"{nav_name}@iot.count"] = sub_out["@iot.count"]
                if "@iot.nextLink" in sub_out:
                    body[f"{nav_name}@iot.nextLink"] = sub_out["@iot.nextLink"]
            else:
                stmt = self._base_query(target, cond, sub)
                child = conn.execute(stmt).first()
                if child is not None:
                    body[nav_name] = self.entity_json(conn, target, child, sub)
        return body

    def one(self, conn: Connection, entity: Entity, entity_id: int, opts: Options) -> dict[str, Any] | None:
        row = conn.execute(select(entity.table).where(entity.table.c.id == entity_id)).first()
        if row is None:
            return None
        return self.entity_json(conn, entity, row, opts)

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
