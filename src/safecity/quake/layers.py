# SPDX-License-Identifier: Apache-2.0
"""The earthquake capability's public map layer: the damage map of each assessed incident.

``quake-damage``: one square per grid cell with buildings, the mean probability of each Hazus damage
state, the expected collapses, the strongest shaking and its KMA intensity class, for the current
assessment of each incident (filter ``incident_id``). Aggregated over cells, never per building, so the
public layer names no building and no occupant; ``generated`` says the inventory is synthetic.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.sql import Select
from sqlalchemy.sql.elements import ColumnElement

from safecity.capability import Layer


def damage_layer() -> tuple[Select[Any], ColumnElement[Any], ColumnElement[Any], dict[str, Any]]:
    # imported per request: declaring the layer (safecity --help) must not load the geometry types
    from safecity.quake import tables as t

    c = t.damage_cells.c
    cols = {
        "incident_id": c.incident_id,
        "assessment_id": c.assessment_id,
        "buildings": c.buildings,
        "p_none": c.p_none,
        "p_slight": c.p_slight,
        "p_moderate": c.p_moderate,
        "p_extensive": c.p_extensive,
        "p_complete": c.p_complete,
        "collapses": c.collapses,
        "pga_max_g": c.pga_max_g,
        "kma_intensity": c.kma_intensity,
        "generated": c.generated,
    }
    return select(c.id, c.geom, *cols.values()).where(c.current.is_(True)), c.id, c.geom, cols


DAMAGE = Layer(
    "quake-damage",
    "Earthquake damage map (지진 피해 추정도)",
    "Expected building damage of each earthquake incident's current assessment, per grid cell: mean "
    "probability of each Hazus damage state (p_none … p_complete), expected collapses, strongest PGA (g) "
    "and KMA intensity class. A model's expectation, not observed damage; 'generated' marks a synthetic "
    "building inventory.",
    damage_layer,
    ("earthquake", "damage", "prediction"),
)
