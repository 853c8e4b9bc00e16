# SPDX-License-Identifier: Apache-2.0
from __future__ import annotations

from pydantic import BaseModel, Field


class DispatchSettings(BaseModel):
    """``SAFECITY_DISPATCH__<FIELD>`` or ``[dispatch]`` in the SAFECITY_CONFIG file."""

    join_radius_m: float = Field(
        300.0, gt=0, description="A call this close to an open incident of its category joins it."
    )
    join_minutes: float = Field(60.0, gt=0, description="... if that incident opened this recently.")
    rain: bool = Field(
        False,
        description="Declare rain by hand: the speed model's rain factor applies whatever the rain gauges say.",
    )
    rain_threshold_mm_h: float = Field(
        1.0,
        ge=0,
        description="Mean gauge intensity (mm/h) near a call from which the rain factor applies "
        "(judgement, UNCONFIRMED: the speed surveys say 'rainy days' without an intensity).",
    )
    rain_radius_m: float = Field(5000.0, gt=0, description="Rain gauges this close to a call count for it.")
    rain_window_min: float = Field(
        30.0, gt=0, description="A gauge whose latest reading ended longer ago than this is not heard."
    )
    tracker_property: str = Field(
        "dispatch_unit",
        min_length=1,
        description="The key in a SensorThings Thing's properties naming the unit (callsign) it tracks.",
    )
    quake_min_collapse: float = Field(
        0.1,
        ge=0,
        le=1,
        description="Suggest a collapse-rescue call for a building the earthquake model gives at least this "
        "collapse probability (judgement, UNCONFIRMED: one in ten is worth a dispatcher's look).",
    )
    search_limit_s: float = Field(1800.0, gt=60, description="Longest road time searched for a unit.")
    rule_hazards: list[str] = Field(
        default_factory=lambda: ["fire", "facility", "river_flood", "landslide", "gas"],
        description="Situation incidents of these hazards create a call for the dispatcher.",
    )
