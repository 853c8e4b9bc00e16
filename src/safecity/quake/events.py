# SPDX-License-Identifier: Apache-2.0
"""The earthquake capability's events on the bus.

* ``quake.DamageAssessed``: an earthquake incident got (or changed) its expected damage. Self-contained:
  the earthquake (magnitude, epicentre, depth, how it was known), the totals an operator or another
  capability acts on, and where the details are (``/quake/incidents/{incidentId}``, the ``quake-damage``
  collection), and the likely collapses with people inside (``candidates``: where a rescue may be needed).
  Published in the transaction that stores the assessment.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from safecity.core.events import Event

DAMAGE_ASSESSED = "quake.DamageAssessed"


class CollapseCandidate(BaseModel):
    """A building likely to have collapsed with people inside: where a rescue may be needed (a prediction,
    not a report). For the dispatcher (the dispatch capability suggests a collapse-rescue call)."""

    model_config = ConfigDict(populate_by_name=True)

    building: str  # the inventory's building id
    lon: float
    lat: float
    district: str
    dong: str
    collapse_probability: float = Field(alias="collapseProbability")
    occupants: float  # expected at the hour of the earthquake


class DamageAssessed(Event):
    type = DAMAGE_ASSESSED

    incident_id: int = Field(alias="incidentId")
    assessment_id: int = Field(alias="assessmentId")
    at: datetime
    origin: str  # "readings" | "cap"
    magnitude: float
    lon: float
    lat: float
    depth_km: float = Field(alias="depthKm")
    stations: int
    buildings: int
    generated: bool  # computed on a generated (synthetic) inventory
    complete: float  # expected buildings at complete damage
    collapses: float
    killed: float
    injured: float  # minor + hospitalised + life-threatening
    displaced: float
    shelter_demand: float = Field(alias="shelterDemand")
    inspections: int
    cordons: list[int]  # evacuation hazard-zone ids of the collapse cordons in force
    # the buildings to inspect first whose collapse is likely (P >= cordon_min_collapse), at most
    # `cordons` of them, most urgent first (added in version 1: an older event has none)
    candidates: list[CollapseCandidate] = Field(default_factory=list)

    def ordering_key(self) -> str:
        return f"incident:{self.incident_id}"
