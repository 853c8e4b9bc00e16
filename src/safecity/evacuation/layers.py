# SPDX-License-Identifier: Apache-2.0
"""The evacuation capability's public map layers (shelters, active hazard zones).

Each function returns ``(SELECT, id column, geometry column, {queryable name: column})``: the geography
capability's OGC API serves it (bbox, filters, paging) without knowing this capability's tables.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.sql import Select
from sqlalchemy.sql.elements import ColumnElement

from safecity.evacuation import tables as ev


def hazard_zones_layer() -> tuple[Select[Any], ColumnElement[Any], ColumnElement[Any], dict[str, Any]]:
    h = ev.hazard_zones.c
    cols = {
        "hazard": h.hazard,
        "name_ko": h.name_ko,
        "name_en": h.name_en,
        "guidance": h.guidance,
        "created_at": h.created_at,
        "expires_at": h.expires_at,
    }
    return select(ev.hazard_zones).where(h.active.is_(True)), h.id, h.geom, cols


def shelters_layer() -> tuple[Select[Any], ColumnElement[Any], ColumnElement[Any], dict[str, Any]]:
    s = ev.shelters.c
    cols = {
        "code": s.code,
        "kind": s.kind,
        "name_ko": s.name_ko,
        "name_en": s.name_en,
        "address": s.address,
        "capacity": s.capacity,
        "occupancy": s.occupancy,
        "is_open": s.is_open,
        "wheelchair": s.wheelchair,
        "elevator": s.elevator,
        "safe_from": s.safe_from,
        "dong_id": s.area_id,
    }
    # Only public columns are selected: the shelter's free-form properties may hold contact people.
    return select(s.id, s.geom, *cols.values()), s.id, s.geom, cols
