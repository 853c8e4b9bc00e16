# SPDX-License-Identifier: Apache-2.0
"""The sensing capability's public map layer: SensorThings Things at their Location.

Each function returns ``(SELECT, id column, geometry column, {queryable name: column})``: the geography
capability's OGC API serves it (bbox, filters, paging) without knowing this capability's tables.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.sql import Select
from sqlalchemy.sql.elements import ColumnElement

from safecity.sensing import tables as st


def sensors_layer() -> tuple[Select[Any], ColumnElement[Any], ColumnElement[Any], dict[str, Any]]:
    th, loc, tl = st.things.c, st.locations.c, st.thing_locations.c
    # A Thing may have several Locations; its first one is its position on the map.
    first = (
        select(tl.thing_id, func.min(tl.location_id).label("location_id"))
        .group_by(tl.thing_id)
        .subquery("first_location")
    )
    cols = {"name": th.name, "description": th.description}
    q = (
        select(th.id, loc.geom, th.name, th.description)
        .join(first, first.c.thing_id == th.id)
        .join(st.locations, loc.id == first.c.location_id)
        .where(loc.geom.is_not(None))
    )
    return q, th.id, loc.geom, cols
