# SPDX-License-Identifier: Apache-2.0
"""Evacuation routes: from a point to the nearest suitable open shelter with space.

Reads shelters, active road closures and active hazard zones from the store (the shelters capability owns
their writes) and routes on the road network imported by ``safecity import roads`` (loaded on first use
and again whenever the file changes).

Which shelters are suitable is decided by :func:`safecity.evacuation.shelters.suitable_shelters`, the same
rule the shelter listing, zone guidance and area plans use: open, ``occupancy < capacity``, safe from the
hazard asked for, and not inside an active zone of that hazard or of a collapse, fire or chemical zone
(with no hazard named: not inside any active zone). A closed shelter is never a destination. Routes
still avoid every active hazard zone and road closure on the way.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from shapely.geometry import Point
from shapely.geometry.base import BaseGeometry
from sqlalchemy import or_, select
from sqlalchemy.engine import Connection, Engine

from safecity.core.clock import Clock
from safecity.core.errors import BadRequest, SafecityError
from safecity.core.logging import get_logger
from safecity.evacuation.shelters import Shelter, suitable_shelters
from safecity.evacuation.tables import hazard_zones, road_closures
from safecity.evacuation.zones import EXCLUSION_HAZARDS, Hazard
from safecity.geo.roads.graph import Mode, graph_path, load_graph
from safecity.geo.roads.routing import Avoid, NoRoute, RoadNetworkMissing, Route, Router
from safecity.store import Store

log = get_logger(__name__)


class NoShelter(SafecityError):
    status = 404
    code = "no_shelter"


#: The routing service of each store's engine, so other evacuation code (area plans) can use the same
#: loaded network without loading it again.
_services: weakref.WeakKeyDictionary[Engine, EvacuationRouting] = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class ShelterRoute:
    shelter: Shelter
    route: Route
    mode: Mode
    hazard: str | None
    closures_avoided: int
    hazard_zones_avoided: int


class EvacuationRouting:
    """The service behind ``GET /evacuation/route``. One per platform; safe to share between threads."""

    def __init__(self, store: Store, data_dir: Path, clock: Clock) -> None:
        self.store = store
        self.path = graph_path(data_dir)
        self.clock = clock
        self._lock = threading.Lock()
        self._router: Router | None = None
        self._stamp: tuple[int, int] | None = None
        _services[store.engine] = self

    def router(self) -> Router:
        """The router on the imported network; RoadNetworkMissing (503) when none has been imported."""
        try:
            st = self.path.stat()
        except FileNotFoundError:
            raise RoadNetworkMissing(
                "no road network has been imported: run `safecity import roads FILE.osm.pbf`",
                message_ko="도로망이 없습니다: `safecity import roads FILE.osm.pbf`로 가져오세요",
            ) from None
        stamp = (st.st_mtime_ns, st.st_size)
        with self._lock:
            if self._router is None or self._stamp != stamp:
                self._router = Router(load_graph(self.path))
                self._stamp = stamp
            return self._router

    def suitable_shelters(self, conn: Connection, hazard: Hazard | None) -> list[Shelter]:
        """Destinations for a route: :func:`safecity.evacuation.shelters.suitable_shelters` now."""
        found = suitable_shelters(conn, hazard, self.clock.now())
        return [s for s in found if isinstance(s.geom, Point) and not s.geom.is_empty]

    def active_geometries(
        self, conn: Connection, hazard: Hazard | None = None
    ) -> tuple[list[BaseGeometry], list[BaseGeometry]]:
        """Active road closures and the hazard zones a route must avoid now (:func:`avoided_geometries`)."""
        return avoided_geometries(conn, self.clock.now(), hazard)

    def route_to_shelter(
        self, lon: float, lat: float, mode: Mode, hazard: str | None, avoid_flood_prone: bool | None = None
    ) -> ShelterRoute:
        """Fastest route to the nearest suitable shelter. ``avoid_flood_prone`` defaults to hazard == flood.

        Raises RoadNetworkMissing (503), OutsideNetwork (422), NoShelter or NoRoute (404).
        """
        wanted = _hazard(hazard)
        router = self.router()
        router.snap(lon, lat, mode)  # outside the network: say so before anything else
        with self.store.engine.connect() as conn:
            candidates = self.suitable_shelters(conn, wanted)
            closures, zones = self.active_geometries(conn, wanted)
        if not candidates:
            what = f"safe from {hazard}" if hazard else "suitable"
            raise NoShelter(
                f"no open shelter {what} with free space",
                message_ko="수용 여유가 있는 개방 대피소가 없습니다",
            )
        flood = wanted is Hazard.flood if avoid_flood_prone is None else avoid_flood_prone
        avoid = Avoid(tuple(closures), tuple(zones), flood)
        try:
            route = router.nearest((lon, lat), [(s.geom.x, s.geom.y) for s in candidates], mode, avoid)
        except NoRoute as e:
            raise NoRoute(
                f"no route to any open shelter: {e.message}", message_ko=e.message_ko, where="from"
            ) from None
        hazard_name = None if wanted is None else wanted.value
        return ShelterRoute(candidates[route.target], route, mode, hazard_name, len(closures), len(zones))


def avoided_geometries(
    conn: Connection, now: datetime, hazard: Hazard | None = None
) -> tuple[list[BaseGeometry], list[BaseGeometry]]:
    """Active, unexpired road closures and the hazard zones a route must avoid (WGS84).

    The zones are those that rule shelters out (:func:`safecity.evacuation.shelters.unsuitable_ids`):
    zones of ``hazard`` and collapse, fire and chemical zones; every active zone when ``hazard`` is
    None. An earthquake route may thus cross a flood-prone zone, and reach a shelter inside one.
    """
    closures = conn.execute(
        select(road_closures.c.geom).where(
            road_closures.c.active.is_(True),
            or_(road_closures.c.expires_at.is_(None), road_closures.c.expires_at > now),
        )
    ).scalars()
    zq = select(hazard_zones.c.geom).where(
        hazard_zones.c.active.is_(True),
        or_(hazard_zones.c.expires_at.is_(None), hazard_zones.c.expires_at > now),
    )
    if hazard is not None:
        relevant = {hazard.value, *(h.value for h in EXCLUSION_HAZARDS)}
        zq = zq.where(hazard_zones.c.hazard.in_(sorted(relevant)))
    zones = conn.execute(zq).scalars()
    return [g for g in closures if g is not None], [g for g in zones if g is not None]


def network_router(engine: Engine) -> Router | None:
    """The router on the imported road network of the platform using ``engine``, or None when the
    platform has no routing service yet, no network has been imported, or the file cannot be read."""
    service = _services.get(engine)
    if service is None or not service.path.is_file():
        return None
    try:
        return service.router()
    except SafecityError as e:
        log.warning("road network not usable", path=str(service.path), error=e.message)
        return None


def _hazard(value: str | Hazard | None) -> Hazard | None:
    """The hazard asked for; BadRequest naming ``hazard`` when it is not one the platform knows."""
    if value is None or isinstance(value, Hazard):
        return value
    try:
        return Hazard(value)
    except ValueError:
        raise BadRequest(
            f"hazard: '{value}' is not a known hazard; use one of {', '.join(h.value for h in Hazard)}",
            where="hazard",
        ) from None


def feature(result: ShelterRoute) -> dict[str, Any]:
    """The GeoJSON Feature (LineString, WGS84) of a shelter route."""
    s, r = result.shelter, result.route
    return {
        "type": "Feature",
        "geometry": {"type": "LineString", "coordinates": [list(c) for c in r.line.coords]},
        "properties": {
            "shelter": {
                "id": s.id,
                "name_ko": s.name_ko,
                "name_en": s.name_en,
                "kind": s.kind.value,
                "capacity": s.capacity,
                "occupancy": s.occupancy,
                "safe_from": list(s.safe_from),
                "location": [s.geom.x, s.geom.y],
            },
            "mode": result.mode.value,
            "hazard": result.hazard,
            "distance_m": round(r.distance_m, 1),
            "duration_s": round(r.duration_s, 1),
            "snap_distance_m": round(r.snap_m, 1),
            "edge_ids": [int(e) for e in r.segments],
            "osm_way_ids": list(r.ways),
            "avoided": {
                "road_closures": result.closures_avoided,
                "hazard_zones": result.hazard_zones_avoided,
            },
        },
    }
