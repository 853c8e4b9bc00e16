# SPDX-License-Identifier: Apache-2.0
"""The earthquake capability's settings (``SAFECITY_QUAKE__<FIELD>`` or ``[quake]`` in SAFECITY_CONFIG)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class QuakeSettings(BaseModel):
    buildings: int = Field(
        592_463,
        ge=100,
        le=5_000_000,
        description="Buildings of the generated inventory (SAFECITY_QUAKE__BUILDINGS); default: Seoul's "
        "published total (2023). Smaller values make a quicker demo or test, with the same shares.",
    )
    seed: int = Field(592_463, description="Seed of the generated inventory (same seed, same buildings).")
    damage_method: Literal["pga", "csm"] = Field(
        "pga",
        description="How buildings' damage states are computed (SAFECITY_QUAKE__DAMAGE_METHOD): 'pga', Hazus'"
        " equivalent-PGA fragilities for every building; 'csm', the capacity-spectrum method (Hazus §5.6:"
        " capacity curve, damped demand spectrum from SA(0.3 s) and SA(1.0 s), Sd fragilities) for every"
        " building whose type has a capacity curve at its design level (high, moderate, low code), PGA for"
        " the rest (pre-code; docs/earthquake-model.md).",
    )
    inspections: int = Field(20, ge=1, le=500, description="Buildings on an incident's inspection list.")
    cordons: int = Field(
        10,
        ge=0,
        le=100,
        description="At most this many collapse cordons per incident: one per expected collapse, around the "
        "buildings likeliest to collapse.",
    )
    cordon_min_collapse: float = Field(
        0.001,
        gt=0,
        le=1,
        description="No cordon around a building whose collapse probability is below this (judgement: one in "
        "a thousand; where that many collapses are expected, these are the likeliest places).",
    )
    cell_m: float = Field(
        1000.0, ge=100, le=10_000, description="Side of the damage map's grid cells, in metres."
    )
    window_min: float = Field(
        15.0,
        gt=0,
        le=240,
        description="Accelerometer peaks this many minutes before the incident opened count as its readings.",
    )
    warm_up: bool = Field(
        True, description="Build the inventory when the server starts, so the first earthquake does not wait."
    )
