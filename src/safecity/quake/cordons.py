# SPDX-License-Identifier: Apache-2.0
"""Collapse cordons around the buildings likely to collapse, and the walking route out of each to the
nearest outdoor earthquake site, through the evacuation capability's public functions.

A cordon is an evacuation hazard zone of kind ``collapse`` (radius 1.5 × height, minimum 10 m:
:func:`safecity.evacuation.zones.collapse_cordon`), so every evacuation route and shelter choice of the
platform avoids it from the moment it is drawn. Its guidance names the nearest outdoor earthquake sites
outside it (an earthquake cordon sends people to open ground, not to a building). The zone says it is a
prediction (``predicted``, the collapse probability, the model) so that nobody mistakes it for an
observed collapse; a new assessment of the incident lifts the previous cordons and draws its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Connection

from safecity.core.clock import Clock
from safecity.core.errors import NotFound, SafecityError
from safecity.core.logging import get_logger
from safecity.evacuation.guidance import default_guidance
from safecity.evacuation.routing import EvacuationRouting, avoided_geometries, network_router
from safecity.evacuation.shelters import suitable_shelters
from safecity.evacuation.zones import Hazard, collapse_cordon, deactivate_zone, insert_zone
from safecity.geo.roads.graph import Mode
from safecity.geo.roads.routing import Avoid
from safecity.quake.report import Inspection
from safecity.store import Store

log = get_logger(__name__)


@dataclass(frozen=True)
class Cordon:
    zone_id: int
    building: str
    lon: float
    lat: float
    radius_m: float
    collapse_probability: float
    occupants: float

    def to_json(self) -> dict[str, Any]:
        return {
            "zoneId": self.zone_id,
            "building": self.building,
            "lon": round(self.lon, 6),
            "lat": round(self.lat, 6),
            "radiusM": round(self.radius_m, 1),
            "collapseProbability": round(self.collapse_probability, 4),
            "occupants": round(self.occupants, 1),
        }


def draw(
    conn: Connection,
    incident_id: int,
    candidates: Sequence[Inspection],
    *,
    most: int,
    min_collapse: float,
    now: datetime,
) -> list[Cordon]:
    """Cordons for up to ``most`` of ``candidates`` (likeliest collapse first) whose collapse
    probability reaches ``min_collapse``; inside the caller's transaction."""
    out: list[Cordon] = []
    for b in [c for c in candidates if c.collapse_probability >= min_collapse][:most]:
        polygon, radius = collapse_cordon(b.lon, b.lat, b.height_m)
        zone = insert_zone(
            conn,
            hazard=Hazard.collapse,
            geom=polygon,
            now=now,
            # where to go: the nearest outdoor earthquake sites outside the cordon, not a building
            guidance=default_guidance(conn, Hazard.earthquake, polygon, now),
            name_ko=f"붕괴 우려 건물 통제구역(예측) — 붕괴 가능성 {b.rank}위",
            name_en=f"Cordon around a building likely to collapse (predicted) — collapse likelihood rank {b.rank}",
            properties={
                "predicted": True,
                "incident_id": incident_id,
                "building": b.id,
                "collapse_probability": round(b.collapse_probability, 4),
                "height_m": b.height_m,
                "radius_m": radius,
                "model": "Hazus PGA fragility (safecity.quake); see docs/earthquake-model.md",
            },
            source=f"quake:incident:{incident_id}",
        )
        out.append(Cordon(zone.id, b.id, b.lon, b.lat, radius, b.collapse_probability, b.occupants))
    return out


def lift(conn: Connection, zone_ids: Sequence[int], now: datetime) -> None:
    """Lift a previous assessment's cordons (one an operator already lifted is left as it is)."""
    for zone_id in zone_ids:
        try:
            deactivate_zone(conn, zone_id, now)
        except (NotFound, SafecityError):
            continue


def routes(store: Store, data_dir: Path, clock: Clock, cordons: Sequence[Cordon]) -> list[dict[str, Any]]:
    """For each cordon, the walk from the building to the nearest open outdoor earthquake site with space,
    around every active cordon and closure (the router drops the cordon the walk starts in). A cordon
    without a route says why (no road network, no site, no way through), in Korean and English."""
    if not cordons:
        return []
    router = network_router(store.engine)
    if router is None:
        EvacuationRouting(store, data_dir, clock)  # registers itself for this store
        router = network_router(store.engine)
    now = clock.now()
    with store.engine.connect() as conn:
        sites = [s for s in suitable_shelters(conn, Hazard.earthquake, now) if not s.geom.is_empty]
        closures, zones = avoided_geometries(conn, now, Hazard.earthquake)
    out: list[dict[str, Any]] = []
    for c in cordons:
        base: dict[str, Any] = {"zoneId": c.zone_id}
        if router is None:
            out.append(base | _why("도로망이 없어 경로를 계산하지 못했습니다", "no road network imported"))
            continue
        if not sites:
            out.append(base | _why("수용 여유가 있는 지진옥외대피장소가 없습니다", "no open outdoor site"))
            continue
        try:
            r = router.nearest(
                (c.lon, c.lat),
                [(s.geom.x, s.geom.y) for s in sites],
                Mode.walk,
                Avoid(tuple(closures), tuple(zones)),
            )
        except SafecityError as e:
            out.append(base | _why(e.message_ko or e.message, e.message))
            continue
        site = sites[r.target]
        out.append(
            base
            | {
                "shelter": {"id": site.id, "nameKo": site.name_ko, "nameEn": site.name_en or site.name_ko},
                "distanceM": round(r.distance_m),
                "durationS": round(r.duration_s),
                "geometry": {
                    "type": "LineString",
                    "coordinates": [[round(x, 6), round(y, 6)] for x, y in r.line.coords],
                },
            }
        )
    return out


def _why(ko: str, en: str) -> dict[str, Any]:
    return {"shelter": None, "reasonKo": ko, "reasonEn": en}
