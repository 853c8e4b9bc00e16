# SPDX-License-Identifier: Apache-2.0
"""Sensor health: which datastreams are stale (missed N expected reports) or suspect (QC-flagged).

A stream's expected interval comes from its ``properties.expectedIntervalSeconds``, else from the
catalogue default of its observed property; streams with neither are never called stale.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection

from safecity.core.timeutil import iso
from safecity.sensing import tables as t
from safecity.sensing.catalogue import Catalogue
from safecity.sensing.quality import flags_to_quality


@dataclass(frozen=True)
class StreamHealth:
    datastream_id: int
    name: str
    thing_id: int
    state: str  # "ok" | "stale" | "suspect" | "never-reported"
    last_received_at: datetime | None
    expected_interval_s: float | None
    flags: list[str] | None

    def to_json(self) -> dict[str, Any]:
        return {
            "datastream": self.datastream_id,
            "name": self.name,
            "thing": self.thing_id,
            "state": self.state,
            "lastReceivedAt": iso(self.last_received_at),
            "expectedIntervalSeconds": self.expected_interval_s,
            "flags": self.flags,
        }


def stream_health(
    conn: Connection, catalogue: Catalogue, now: datetime, stale_intervals: int
) -> list[StreamHealth]:
    ds, op = t.datastreams, t.observed_properties
    rows = conn.execute(
        select(
            ds.c.id,
            ds.c.name,
            ds.c.thing_id,
            ds.c.properties,
            ds.c.last_received_at,
            ds.c.last_qc_flags,
            ds.c.unit_of_measurement,
            op.c.definition,
            op.c.name.label("op_name"),
        )
        .join(op, op.c.id == ds.c.observed_property_id)
        .order_by(ds.c.id)
    ).all()
    out: list[StreamHealth] = []
    for r in rows:
        interval = None
        props = r.properties if isinstance(r.properties, dict) else {}
        value = props.get("expectedIntervalSeconds")
        if isinstance(value, (int, float)) and value > 0:
            interval = float(value)
        else:
            unit = r.unit_of_measurement if isinstance(r.unit_of_measurement, dict) else {}
            spec = catalogue.match(r.definition, r.op_name, unit.get("symbol"))
            if spec is not None and spec.expected_interval_s:
                interval = float(spec.expected_interval_s)
        flags = flags_to_quality(r.last_qc_flags or 0)
        if r.last_received_at is None:
            state = "never-reported"
        elif interval is not None and (now - r.last_received_at).total_seconds() > stale_intervals * interval:
            state = "stale"
        elif flags:
            state = "suspect"
        else:
            state = "ok"
        out.append(StreamHealth(r.id, r.name, r.thing_id, state, r.last_received_at, interval, flags))
    return out
