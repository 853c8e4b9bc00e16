# SPDX-License-Identifier: Apache-2.0
"""Typed events that cross capability boundaries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from safecity.core.timeutil import from_micros

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

    # The outbox keeps observations packed, one outbox row per ingest batch:
    # [id, datastream, multi_datastream, foi, time_us, end_us, result_time_us, result, flags].
    @staticmethod
    def unpack(row: list[Any]) -> ObservationAccepted:
        oid, ds, mds, foi, t, te, rt, result, flags = row
        return ObservationAccepted(
            oid,
            ds,
            mds,
            foi,
            from_micros(t),
            from_micros(te) if te is not None else None,
            from_micros(rt) if rt is not None else None,
            result,
            flags,
        )


@dataclass(frozen=True, slots=True)
class EntityChanged:
    """A SensorThings entity other than an Observation was created, updated or deleted."""

    entity: str  # entity type name, e.g. "Thing"
    entity_id: int
    action: str  # "created" | "updated" | "deleted"
