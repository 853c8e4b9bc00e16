# SPDX-License-Identifier: Apache-2.0
"""Evacuation routes: from a point to the nearest suitable open shelter with space.

Reads shelters, active road closures and active hazard zones from the store (the shelters capability owns
their writes) and routes on the road network imported by ``safecity import roads`` (loaded on first use
and again whenever the file changes).

A shelter is suitable when it is open, ``occupancy < capacity``, it is safe from the hazard asked for
(``hazard in safe_from``), and it does not lie inside an active hazard zone. A closed shelter is never a
destination.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shapely.geometry import Point
from shapely.geometry.base import BaseGeometry
from sqlalchemy import or_, select
from sqlalchemy.engine import Connection

from safecity.core.clock import Clock
from safecity.core.errors import SafecityError
from safecity.evacuation.tables import hazard_zones, road_closures, shelters
from safecity.geo.roads.graph import Mode, graph_path, load_graph
from safecity.geo.roads.routing import Avoid, NoRoute, RoadNetworkMissing, Route, Router
from safecity.store import Store


class NoShelter(SafecityError):
    status = 404
    code = "no_shelter"


@dataclass(frozen=True)
class Shelter:
    id: int
    kind: str
    name_ko: str
    name_en: str | None
    capacity: int
    occupancy: int
    safe_from: tuple[str, ...]
    geom: Point


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

    def suitable_shelters(self, conn: Connection, hazard: str | None) -> list[Shelter]:
        rows = conn.execute(
            select(
                shelters.c.id,
                shelters.c.kind,
                shelters.c.name_ko,
                shelters.c.name_en,
                shelters.c.capacity,
                shelters.c.occupancy,
                shelters.c.safe_from,
                shelters.c.geom,
            ).where(shelters.c.is_open.is_(True), shelters.c.occupancy < shelters.c.capacity)
        ).all()
        out = []
        for r in rows:
            safe = tuple(str(h) for h in (r.safe_from or []))
            if hazard is not None and hazard not in safe:
                continue
            if not isinstance(r.geom, Point) or r.geom.is_empty:
                continue
            out.append(Shelter(r.id, r.kind, r.name_ko, r.name_en, r.capacity, r.occupancy, safe, r.geom))
        return out

    def active_geometries(self, conn: Connection) -> tuple[list[BaseGeometry], list[BaseGeometry]]:
        """Active, unexpired road closures and hazard zones (WGS84)."""
        now = self.clock.now()
        closures = conn.execute(
            select(road_closures.c.geom).where(
                road_closures.c.active.is_(True),
                or_(road_closures.c.expires_at.is_(None), road_closures.c.expires_at > now),
            )
        ).scalars()
        zones = conn.execute(
            select(hazard_zones.c.geom).where(
                hazard_zones.c.active.is_(True),
                or_(hazard_zones.c.expires_at.is_(None), hazard_zones.c.expires_at > now),
            )
        ).scalars()
        return [g for g in closures if g is not None], [g for g in zones if g is not None]

    def route_to_shelter(
        self, lon: float, lat: float, mode: Mode, hazard: str | None, avoid_flood_prone: bool | None = None
    ) -> ShelterRoute:
        """Fastest route to the nearest suitable shelter. ``avoid_flood_prone`` defaults to hazard == flood.

        Raises RoadNetworkMissing (503), OutsideNetwork (422), NoShelter or NoRoute (404).
        """
        router = self.router()
        router.snap(lon, lat, mode)  # outside the network: say so before anything else
        with self.store.engine.connect() as conn:
            candidates = self.suitable_shelters(conn, hazard)
            closures, zones = self.active_geometries(conn)
        candidates = [s for s in candidates if not any(z.covers(s.geom) for z in zones)]
        if not candidates:
            what = f"safe from {hazard}" if hazard else "suitable"
            raise NoShelter(
                f"no open shelter {what} with free space",
                message_ko="수용 여유가 있는 개방 대피소가 없습니다",
            )
        flood = hazard == "flood" if avoid_flood_prone is None else avoid_flood_prone
        avoid = Avoid(tuple(closures), tuple(zones), flood)
        try:
            route = router.nearest((lon, lat), [(s.geom.x, s.geom.y) for s in candidates], mode, avoid)
        except NoRoute as e:
            raise NoRoute(
                f"no route to any open shelter: {e.message}", message_ko=e.message_ko, where="from"
            ) from None
        return ShelterRoute(candidates[route.target], route, mode, hazard, len(closures), len(zones))


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
                "kind": s.kind,
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
