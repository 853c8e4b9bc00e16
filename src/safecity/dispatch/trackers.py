# SPDX-License-Identifier: Apache-2.0
"""Units' positions from their trackers, through the sensing capability's public events and directory.

A unit's tracker is a SensorThings Thing whose ``properties`` name the unit's callsign under the key
``tracker_property`` (``{"dispatch_unit": "공덕구급1"}``). It reports where the unit is in either of the two
ways SensorThings has for moving things:

* **Locations** (HTTP): ``POST /sta/v1.1/Things(id)/Locations`` links a new Location; sensing records the
  move as a HistoricalLocation and announces it (``sensing.EntityChanged``, ``HistoricalLocation``,
  ``created``). The move's time is the HistoricalLocation's.
* **Observations** (HTTP or MQTT, ``v1.1/Datastreams(id)/Observations``): a Datastream of the tracker Thing
  whose results are positions: a GeoJSON Point (``{"type": "Point", "coordinates": [lon, lat]}``, the
  SensorThings way for an ``OM_Observation`` of a location) or ``{"lon": .., "lat": ..}``. The fix's time
  is its phenomenonTime. The other results of a tracker (speed, battery...) are ignored.

A fix older than the position the unit already has is ignored: trackers buffer and MQTT redelivers, and a
unit must never jump back along its route. A unit back in quarters is at its station as of that moment.
The board (``GET /dispatch/units``), the recommendations (road time from where the unit is) and the coverage
map read the position moved here. A callsign naming no unit is logged and ignored (a tracker set up before
its unit).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import or_, update

from safecity.core.logging import get_logger
from safecity.dispatch.sensors import Streams
from safecity.dispatch.service import Dispatch
from safecity.dispatch.tables import units
from safecity.sensing.directory import thing_moves
from safecity.sensing.events import ObservationAccepted

log = get_logger(__name__)


@dataclass(frozen=True)
class Fix:
    """Where a unit was (WGS84 degrees) at ``at``."""

    at: datetime
    lon: float
    lat: float


def point_of(result: Any) -> tuple[float, float] | None:
    """(lon, lat) of a position result (a GeoJSON Point, or ``{"lon", "lat"}``); None for anything else
    (a tracker's other results) or a point off the Earth."""
    if not isinstance(result, Mapping):
        return None
    if result.get("type") == "Point":
        coords = result.get("coordinates")
        if not isinstance(coords, Sequence) or isinstance(coords, str) or len(coords) < 2:
            return None
        lon, lat = coords[0], coords[1]
    else:
        lon, lat = result.get("lon"), result.get("lat")
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (lon, lat)):
        return None
    x, y = float(lon), float(lat)
    if not (math.isfinite(x) and math.isfinite(y) and -180 <= x <= 180 and -90 <= y <= 90):
        return None
    return x, y


class Trackers:
    """Moves units to their trackers' fixes (what the two subscriptions below call)."""

    def __init__(self, dispatch: Dispatch, streams: Streams) -> None:
        self.dispatch = dispatch
        self.streams = streams
        self.key = dispatch.settings.tracker_property

    def callsign(self, thing_properties: Mapping[str, Any]) -> str | None:
        value = thing_properties.get(self.key)
        return (value.strip() or None) if isinstance(value, str) else None

    def tracked(self, stream_ids: Collection[int]) -> set[int]:
        """Those of these Datastreams whose Thing is a unit's tracker (names a callsign)."""
        if not stream_ids:
            return set()
        infos = self.streams.all(stream_ids)
        return {
            i
            for i in stream_ids
            if (info := infos.get(i)) is not None and self.callsign(info.thing_properties)
        }

    def on_observations(self, items: Sequence[ObservationAccepted]) -> int:
        """Move units to the newest position among these observations; returns how many moved."""
        wanted = {o.datastream_id for o in items if o.datastream_id is not None}
        if not wanted:
            return 0
        infos = self.streams.all(wanted)
        fixes: dict[str, Fix] = {}
        for o in items:
            info = infos.get(o.datastream_id) if o.datastream_id is not None else None
            unit = self.callsign(info.thing_properties) if info else None
            point = point_of(o.result) if unit else None
            if unit and point and (unit not in fixes or fixes[unit].at <= o.phenomenon_time):
                fixes[unit] = Fix(o.phenomenon_time, *point)
        return self.move(fixes)

    def on_moves(self, historical_location_ids: Sequence[int]) -> int:
        """Move units to the Locations their trackers were given; returns how many moved."""
        with self.streams.sensing.store.engine.connect() as conn:
            moves = thing_moves(conn, historical_location_ids)
        fixes: dict[str, Fix] = {}
        for m in moves:
            unit = self.callsign(m.thing_properties)
            if unit and (unit not in fixes or fixes[unit].at <= m.time):
                fixes[unit] = Fix(m.time, m.lon, m.lat)
        return self.move(fixes)

    def move(self, fixes: Mapping[str, Fix]) -> int:
        """Set each unit's position to its fix unless the unit's position is newer (one transaction)."""
        if not fixes:
            return 0
        moved = 0
        with self.dispatch.store.write() as conn:
            for callsign, fix in fixes.items():
                done = conn.execute(
                    update(units)
                    .where(
                        units.c.callsign == callsign,
                        or_(units.c.position_at.is_(None), units.c.position_at <= fix.at),
                    )
                    .values(lon=fix.lon, lat=fix.lat, position_at=fix.at)
                ).rowcount
                if done:
                    moved += 1
                elif callsign not in {u.callsign for u in self.dispatch.units(conn)}:
                    log.info("tracker names no unit", callsign=callsign, key=self.key)
        return moved
