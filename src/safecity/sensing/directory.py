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


@dataclass(frozen=True)
class ThingMove:
    """A Thing's move as SensorThings records it: a HistoricalLocation (when a Thing got a new Location
    linked, SensorThings 1.1 §8.2.3), with the Thing's properties and the new Location's point."""

    historical_location_id: int
    thing_id: int
    thing_properties: dict[str, Any]
    time: datetime
    lon: float
    lat: float


def thing_moves(conn: Connection, historical_location_ids: Sequence[int]) -> list[ThingMove]:
    """The moves these HistoricalLocations record (ids naming nothing, or a Location without a
    geometry, are left out), in id order. For capabilities that follow moving Things (a 119 unit's
    tracker) from ``sensing.EntityChanged`` events without reading sensing's tables."""
    if not historical_location_ids:
        return []
    hl, lhl, loc, th = t.historical_locations, t.location_historical_locations, t.locations, t.things
    rows = conn.execute(
        select(hl.c.id, hl.c.thing_id, hl.c.time, th.c.properties, loc.c.geom)
        .join(th, th.c.id == hl.c.thing_id)
        .join(lhl, lhl.c.historical_location_id == hl.c.id)
        .join(loc, loc.c.id == lhl.c.location_id)
        .where(hl.c.id.in_(sorted(set(historical_location_ids))))
        .order_by(hl.c.id, loc.c.id)
    ).all()
    out: dict[int, ThingMove] = {}
    for r in rows:
        if r.id in out or r.geom is None:
            continue  # a Thing at several Locations at once: the first one with a geometry
        geom = r.geom if hasattr(r.geom, "geom_type") else shapely.from_wkt(str(r.geom))
        point = geom if geom.geom_type == "Point" else geom.representative_point()
        out[r.id] = ThingMove(
            historical_location_id=int(r.id),
            thing_id=int(r.thing_id),
            thing_properties=r.properties if isinstance(r.properties, dict) else {},
            time=r.time,
            lon=float(point.coords[0][0]),
            lat=float(point.coords[0][1]),
        )
    return list(out.values())
