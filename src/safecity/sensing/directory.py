# SPDX-License-Identifier: Apache-2.0
"""What other capabilities may know about the sensor network without reading sensing's tables: one
:class:`StreamInfo` per Datastream, and the recent observations of some streams (to warm a rule engine
up after a restart)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import shapely
from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from safecity.sensing import tables as t
from safecity.sensing.catalogue import Catalogue
from safecity.sensing.events import ObservationAccepted


@dataclass(frozen=True)
class StreamInfo:
    datastream_id: int
    name: str
    property: str | None  # catalogue key, None when the ObservedProperty is not in the catalogue
    thing_id: int
    thing_name: str
    thing_properties: dict[str, Any] = field(default_factory=dict)
    properties: dict[str, Any] = field(default_factory=dict)
    lon: float | None = None
    lat: float | None = None
    expected_interval_s: float | None = None
    unit: str | None = None


def stream_directory(conn: Connection, catalogue: Catalogue) -> list[StreamInfo]:
    """Every Datastream with its catalogue property, Thing and the Thing's (first) location."""
    ds, op, th, tl, loc = t.datastreams, t.observed_properties, t.things, t.thing_locations, t.locations
    first = (
        select(tl.c.thing_id, func.min(tl.c.location_id).label("location_id"))
        .group_by(tl.c.thing_id)
        .subquery("first_location")
    )
    rows = conn.execute(
        select(
            ds.c.id,
            ds.c.name,
            ds.c.properties,
            ds.c.unit_of_measurement,
            ds.c.expected_interval_s,
            op.c.definition,
            op.c.name.label("op_name"),
            th.c.id.label("thing_id"),
            th.c.name.label("thing_name"),
            th.c.properties.label("thing_properties"),
            loc.c.geom,
        )
        .join(op, op.c.id == ds.c.observed_property_id)
        .join(th, th.c.id == ds.c.thing_id)
        .outerjoin(first, first.c.thing_id == th.c.id)
        .outerjoin(loc, loc.c.id == first.c.location_id)
        .order_by(ds.c.id)
    ).all()
    out = []
    for r in rows:
        unit = r.unit_of_measurement if isinstance(r.unit_of_measurement, dict) else {}
        spec = catalogue.match(r.definition, r.op_name, unit.get("symbol"))
        props = r.properties if isinstance(r.properties, dict) else {}
        interval = props.get("expectedIntervalSeconds")
        if not isinstance(interval, int | float) or isinstance(interval, bool) or interval <= 0:
            interval = r.expected_interval_s or (spec.expected_interval_s if spec else None)
        lon = lat = None
        if r.geom is not None:
            geom = r.geom if hasattr(r.geom, "geom_type") else shapely.from_wkt(str(r.geom))
            point = geom if geom.geom_type == "Point" else geom.representative_point()
            lon, lat = float(point.coords[0][0]), float(point.coords[0][1])
        out.append(
            StreamInfo(
                datastream_id=r.id,
                name=r.name,
                property=spec.key if spec else None,
                thing_id=r.thing_id,
                thing_name=r.thing_name,
                thing_properties=r.thing_properties if isinstance(r.thing_properties, dict) else {},
                properties=props,
                lon=lon,
                lat=lat,
                expected_interval_s=float(interval) if interval else None,
                unit=unit.get("symbol"),
            )
        )
    return out


def recent_observations(
    conn: Connection, datastream_ids: Sequence[int], since: datetime, chunk: int = 50_000
) -> Iterator[list[ObservationAccepted]]:
    """Numeric observations of these streams with phenomenonTime after ``since``, in time order, in
    chunks (what a restarted rule engine needs to refill its windows)."""
    o = t.observations
    if not datastream_ids:
        return
    result = conn.execution_options(stream_results=True, yield_per=chunk).execute(
        select(
            o.c.id,
            o.c.datastream_id,
            o.c.feature_of_interest_id,
            o.c.phenomenon_time,
            o.c.phenomenon_time_end,
            o.c.result_time,
            o.c.result_number,
            o.c.qc_flags,
        )
        .where(
            o.c.datastream_id.in_(list(datastream_ids)),
            o.c.phenomenon_time > since,
            o.c.result_number.is_not(None),
        )
        .order_by(o.c.phenomenon_time, o.c.id)
    )
    for part in result.partitions():
        yield [
            ObservationAccepted(
                r.id,
                r.datastream_id,
                None,
                r.feature_of_interest_id,
                r.phenomenon_time,
                r.phenomenon_time_end,
                r.result_time,
                r.result_number,
                r.qc_flags,
            )
            for r in part
        ]
