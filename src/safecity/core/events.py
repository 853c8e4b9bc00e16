# SPDX-License-Identifier: Apache-2.0
"""Typed events that cross capability boundaries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

OBSERVATIONS_ACCEPTED = "sensing.ObservationAccepted"
ENTITY_CHANGED = "sensing.EntityChanged"


@dataclass(frozen=True, slots=True)
class ObservationAccepted:
    """An observation was stored (after quality control). ``result`` is the number, or the JSON value."""

    observation_id: int
    datastream_id: int | None
    multi_datastream_id: int | None
    feature_of_interest_id: int
    phenomenon_time: datetime
    phenomenon_time_end: datetime | None
    result_time: datetime | None
    result: Any
    qc_flags: int


@dataclass(frozen=True, slots=True)
class EntityChanged:
    """A SensorThings entity other than an Observation was created, updated or deleted."""

    entity: str  # entity type name, e.g. "Thing"
    entity_id: int
    action: str  # "created" | "updated" | "deleted"
