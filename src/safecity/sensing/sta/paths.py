# SPDX-License-Identifier: Apache-2.0
"""Resource paths: ``Things(1)/Datastreams``, ``Datastreams(7)/Observations(3)``, ``Things(1)/name/$value``,
``Things(1)/Locations/$ref``. Each step is checked against the model and the data: an unknown name or id
is an error that names the segment.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

from safecity.core.errors import MAX_ID, BadRequest, NotFound, is_id
from safecity.sensing.sta.model import BY_SET, ENTITIES, Entity, Nav
from safecity.sensing.sta.relations import children_of

_SEGMENT = re.compile(r"^([A-Za-z]+)(?:\((\d+)\))?$")


@dataclass
class Resolved:
    entity: Entity
    entity_id: int | None = None  # set when the path ends at one entity
    where: ColumnElement[bool] | None = None  # collections reached through a parent
    parent: tuple[Entity, int, Nav] | None = None  # the last navigation step, for $ref and POST
    prop: str | None = None  # Things(1)/name
    value: bool = False  # .../$value
    ref: bool = False  # .../$ref

    @property
    def is_collection(self) -> bool:
        return self.entity_id is None and self.prop is None


def _exists(conn: Connection, entity: Entity, entity_id: int, where: ColumnElement[bool] | None) -> bool:
    stmt = select(entity.table.c.id).where(entity.table.c.id == entity_id)
    if where is not None:
        stmt = stmt.where(where)
    return conn.execute(stmt).first() is not None


def resolve(conn: Connection, path: str) -> Resolved:
    segments = [s for s in path.strip("/").split("/") if s]
    if not segments:
        raise BadRequest("empty resource path")
    m = _SEGMENT.match(segments[0])
    if not m or m.group(1) not in BY_SET:
        raise NotFound(
            f"'{segments[0]}' is not an entity set; use one of {', '.join(BY_SET)}", where="path[0]"
        )
    entity = BY_SET[m.group(1)]
    res = Resolved(entity)
    if m.group(2) is not None:
        res.entity_id = _id(m.group(2), "path[0]")
        if not _exists(conn, entity, res.entity_id, None):
            raise NotFound(f"{entity.set_name}({res.entity_id}) does not exist", where="path[0]")
    for pos, seg in enumerate(segments[1:], start=1):
        where = f"path[{pos}]"
        if res.ref or res.value:
            raise BadRequest(f"nothing may follow $ref or $value (got '{seg}')", where=where)
        if seg == "$ref":
            if res.prop is not None:
                raise BadRequest("$ref follows an entity or a collection, not a property", where=where)
            res.ref = True
            continue
        if seg == "$value":
            if res.prop is None:
                raise BadRequest("$value follows a property, e.g. Things(1)/name/$value", where=where)
            res.value = True
            continue
        if res.entity_id is None or res.prop is not None:
            raise BadRequest(
                f"'{seg}' must follow a single entity, e.g. {res.entity.set_name}(1)/{seg}", where=where
            )
        m = _SEGMENT.match(seg)
        name = m.group(1) if m else seg
        nav = res.entity.nav(name)
        if nav is None:
            if res.entity.prop(name) is not None and (m is None or m.group(2) is None):
                res.prop = name
                continue
            raise NotFound(f"{res.entity.set_name} have no property or navigation '{seg}'", where=where)
        target = ENTITIES[nav.target]
        cond = children_of(nav, res.entity, res.entity_id, target.table)
        parent = (res.entity, res.entity_id, nav)
        child_id = _id(m.group(2), where) if m and m.group(2) else None
        if nav.many:
            if child_id is None:
                res = Resolved(target, None, cond, parent)
            else:
                if not _exists(conn, target, child_id, cond):
                    raise NotFound(
                        f"{seg} is not linked to {res.entity.set_name}({res.entity_id})", where=where
                    )
                res = Resolved(target, child_id, None, parent)
        else:
            if child_id is not None:
                raise BadRequest(f"{name} is a single entity: drop the ({child_id})", where=where)
            found = conn.execute(select(target.table.c.id).where(cond)).scalar()
            if found is None:
                raise NotFound(f"{res.entity.set_name}({res.entity_id}) has no {name}", where=where)
            res = Resolved(target, int(found), None, parent)
    return res


def _id(text: str, where: str) -> int:
    value = int(text)
    if not is_id(value):
        raise NotFound(f"({text}) is not an id this server gives out (1 to {MAX_ID})", where=where)
    return value


def self_link(base: str, entity: Entity, entity_id: Any) -> str:
    return f"{base}/{entity.set_name}({entity_id})"
