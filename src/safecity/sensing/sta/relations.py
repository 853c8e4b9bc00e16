# SPDX-License-Identifier: Apache-2.0
"""SQL conditions that relate two entity types along a navigation property.

``related`` correlates two table aliases (for $filter paths and $expand); ``children_of`` selects the
targets of one known parent (for URL paths such as ``Datastreams(7)/Observations``) in the form each
database can answer from an index.
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import exists, select
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.expression import FromClause

from safecity.sensing.sta.model import ENTITIES, Entity, Nav


def target(nav: Nav) -> Entity:
    return ENTITIES[nav.target]


def related(nav: Nav, src: FromClause, dst: FromClause) -> ColumnElement[bool]:
    """Condition true when row ``dst`` (target type) is reached from row ``src`` along ``nav``."""
    if nav.local_fk:
        return dst.c.id == src.c[nav.local_fk]
    if nav.remote_fk:
        return dst.c[nav.remote_fk] == src.c.id
    assert nav.link is not None and nav.link_self and nav.link_target
    link = nav.link
    # correlate_except: both src and dst come from enclosing queries, however deeply this is nested.
    return exists(
        select(1)
        .where(link.c[nav.link_self] == src.c.id, link.c[nav.link_target] == dst.c.id)
        .correlate_except(link)
    )


def children_of(nav: Nav, source: Entity, parent_id: Any, dst: FromClause) -> ColumnElement[bool]:
    """Condition selecting the targets of ``nav`` from the ``source`` entity with id ``parent_id``."""
    if nav.local_fk:
        return dst.c.id == (
            select(source.table.c[nav.local_fk]).where(source.table.c.id == parent_id).scalar_subquery()
        )
    if nav.remote_fk:
        # `==` with an untyped (Any) operand is Any to mypy; it builds a boolean SQL condition.
        return cast(ColumnElement[bool], dst.c[nav.remote_fk] == parent_id)
    assert nav.link is not None and nav.link_self and nav.link_target
    link = nav.link
    return dst.c.id.in_(select(link.c[nav.link_target]).where(link.c[nav.link_self] == parent_id))
