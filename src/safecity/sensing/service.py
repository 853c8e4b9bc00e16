# SPDX-License-Identifier: Apache-2.0
"""The sensing capability's public functions: what the API, MQTT and the CLI call."""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.engine import Connection

from safecity.bus import Bus
from safecity.core.clock import Clock
from safecity.sensing.catalogue import Catalogue
from safecity.sensing.events import EntityChanged
from safecity.sensing.ingest import Ingest
from safecity.sensing.sta.write import Writer
from safecity.sensing.tables import datastreams, observations, things
from safecity.store import Store


@dataclass
class Sensing:
    store: Store
    bus: Bus
    clock: Clock
    catalogue: Catalogue
    ingest: Ingest

    def write(self, fn: Callable[[Connection, Writer], Any]) -> Any:
        """Run ``fn`` in one write transaction with a fresh Writer; announce what it changed."""
        writer = Writer(self.ingest, self.clock.now)
        with self.store.write() as conn:
            result = fn(conn, writer)
            for entity, entity_id, action in writer.changes:
                self.bus.publish(
                    conn, EntityChanged.model_validate({"entity": entity, "id": entity_id, "action": action})
                )
        # Ingest caches what it knows of each stream (its Thing, Location, property range); any change
        # to the model may alter that, and such changes are rare next to observations.
        if any(entity != "Observation" for entity, _, _ in writer.changes):
            self.ingest.invalidate()
        self.bus.notify()
        return result


def thing_exists(conn: Connection, thing_id: int) -> bool:
    """Whether a SensorThings Thing exists (for capabilities that refer to Things by id)."""
    return conn.execute(select(things.c.id).where(things.c.id == thing_id)).first() is not None


def existing_ids(
    conn: Connection, kind: Literal["observation", "datastream", "thing"], ids: Collection[int]
) -> set[int]:
    """Which of ``ids`` exist as SensorThings Observations, Datastreams or Things (one query).

    For capabilities that refer to sensing entities by id (an incident's attachments) and must refuse an
    id that names nothing.
    """
    if not ids:
        return set()
    table = {"observation": observations, "datastream": datastreams, "thing": things}[kind]
    return {int(r[0]) for r in conn.execute(select(table.c.id).where(table.c.id.in_(sorted(set(ids)))))}


def historical_location(conn: Connection, hl_id: int) -> tuple[int, datetime, float, float] | None:
    """A SensorThings HistoricalLocation as (Thing id, time, lon, lat) of its Point Location, or None
    when it does not exist or has no Point (for capabilities that follow Things as trackers)."""
    from safecity.sensing.tables import historical_locations, location_historical_locations, locations

    row = conn.execute(
        select(historical_locations.c.thing_id, historical_locations.c.time, locations.c.location)
        .join(
            location_historical_locations,
            location_historical_locations.c.historical_location_id == historical_locations.c.id,
        )
        .join(locations, locations.c.id == location_historical_locations.c.location_id)
        .where(historical_locations.c.id == hl_id)
    ).first()
    if row is None:
        return None
    geo = row[2] if isinstance(row[2], dict) else {}
    if geo.get("type") == "Feature":
        geo = geo.get("geometry") or {}
    coords = geo.get("coordinates") if geo.get("type") == "Point" else None
    if not isinstance(coords, list) or len(coords) < 2:
        return None
    return int(row[0]), row[1], float(coords[0]), float(coords[1])
