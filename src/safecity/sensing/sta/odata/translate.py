# SPDX-License-Identifier: Apache-2.0
"""Translation of parsed ``$filter`` and ``$orderby`` trees into SQLAlchemy Core clauses."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.expression import FromClause

from safecity.sensing.sta.model import Entity
from safecity.sensing.sta.odata.arithmetic import _Arithmetic
from safecity.sensing.sta.odata.compare import _Comparisons
from safecity.sensing.sta.odata.conditions import _Conditions
from safecity.sensing.sta.odata.functions import _Functions
from safecity.sensing.sta.odata.grammar import parse_filter, parse_orderby
from safecity.sensing.sta.odata.literals import _Literals
from safecity.sensing.sta.odata.paths import _Paths
from safecity.store.port import Store


class _Translator(_Conditions, _Comparisons, _Literals, _Paths, _Arithmetic, _Functions):
    """Translates one query option (``where``) on rows of ``entity`` read through ``alias``.

    Each base class handles one kind of node; they share the state and helpers of ``_Visitor``.
    """


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
