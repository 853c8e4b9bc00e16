# SPDX-License-Identifier: Apache-2.0
"""The flood capability's map layer: the latest forecast's predicted depth areas (OGC API collection
``flood-forecast``; served by the geography capability from ``Capability.layers``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.sql import Select
from sqlalchemy.sql.elements import ColumnElement


def forecast_areas_layer() -> tuple[Select[Any], ColumnElement[Any], ColumnElement[Any], dict[str, Any]]:
    # imported per request: declaring the layer (safecity --help) must not load the geometry types
    from safecity.flood import tables as t

    a = t.areas.c
    cols = {
        "depth_min_m": a.depth_min_m,
        "depth_max_m": a.depth_max_m,
        "area_m2": a.area_m2,
        "issued_at": a.issued_at,
        "valid_until": a.valid_until,
        "run_id": a.run_id,
    }
    latest = select(func.max(t.runs.c.id)).scalar_subquery()
    return select(t.areas).where(a.run_id == latest), a.id, a.geom, cols


def collections() -> tuple[Any, ...]:
    from safecity.capability import Layer

    return (
        Layer(
            "flood-forecast",
            "Predicted flood depth (침수 예측 수심)",
            "The latest flood forecast: areas where the flood model predicts water within the horizon, by depth"
            " class (5, 15, 30, 60 cm), each with when it was issued and until when it holds.",
            forecast_areas_layer,
            ("flood", "forecast", "prediction"),
        ),
    )
