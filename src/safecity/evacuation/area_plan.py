# SPDX-License-Identifier: Apache-2.0
"""The evacuation plan of an administrative area: residents from ``geo_areas.population``, shelters
suitable for the hazard, solved by :func:`safecity.evacuation.plan.assign`.

Each dong (행정동) in the area is one zone at its representative point (a point guaranteed to lie inside
the polygon, unlike the centroid of a crescent-shaped dong) holding the dong's population.

Travel times (``travel``): ``network`` walks the imported road network (the one ``GET /evacuation/route``
uses), avoiding active road closures and the hazard zones that matter for the hazard, at the plan's
evacuation walking speed (:data:`~safecity.evacuation.plan.WALK_SPEED_MS`); a (zone, shelter) pair with no
path, or a point too far from the network, costs ``inf`` (its residents go elsewhere or stay unassigned).
``straight`` is straight-line distance at the same speed. Without ``travel`` the plan uses the network when
one is loaded and straight lines otherwise; the response says which (``travel``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import numpy as np
import shapely
from pydantic import BaseModel, ConfigDict, Field, model_validator
from shapely.geometry.base import BaseGeometry
from sqlalchemy.engine import Connection

from safecity.core.errors import Conflict, NotFound
from safecity.evacuation.geometry import parse_geojson_geometry, to_metric
from safecity.evacuation.plan import (
    DEFAULT_K,
    WALK_SPEED_MS,
    FloatArray,
    Site,
    TravelTimes,
    Zone,
    assign,
    plan_to_json,
)
from safecity.evacuation.routing import avoided_geometries, network_router
from safecity.evacuation.shelters import Shelter, suitable_shelters
from safecity.evacuation.zones import Hazard
from safecity.geo.areas import AreaRef, area_by_code, areas_of, geometry_of
from safecity.geo.roads.graph import Mode
from safecity.geo.roads.routing import Avoid, Router

#: Shelters farther than this from the area are left out of its plan (walking 5 km takes ~70 min).
DEFAULT_REACH_M = 5000.0
#: With network travel, a (zone, shelter) pair whose walk along the streets takes longer than this is
#: treated as unreachable: a 3-hour walk is no longer a walking evacuation, and the bound keeps each
#: road-network search local (what holds a city-scale plan within the 5 s target).
DEFAULT_MAX_WALK_S = 3 * 3600.0


class PlanRequest(BaseModel):
    """An area (a district or dong code, or a GeoJSON polygon) and the hazard to evacuate from."""

    model_config = ConfigDict(extra="forbid")
    area_code: str | None = Field(default=None, min_length=2, max_length=20)
    area: dict[str, Any] | None = None
    hazard: Hazard
    reach_m: float = Field(default=DEFAULT_REACH_M, gt=0, le=50_000)
    k: int = Field(default=DEFAULT_K, ge=1, le=1000)
    max_walk_s: float = Field(
        default=DEFAULT_MAX_WALK_S,
        gt=0,
        le=24 * 3600,
        description="Network travel only: longer walks count as unreachable",
    )
    travel: Literal["straight", "network"] | None = Field(
        default=None,
        description="Walking times along the road network or in straight lines (default: "
        "network when one has been imported)",
    )

    @model_validator(mode="after")
    def _one_area(self) -> PlanRequest:
        if (self.area_code is None) == (self.area is None):
            raise ValueError(
                "give exactly one of area_code (district or dong code) or area (GeoJSON polygon)"
            )
        return self


def _dong(conn: Connection, ref: AreaRef) -> dict[str, Any]:
    return {
        "id": ref.id,
        "code": ref.code,
        "name_ko": ref.name_ko,
        "name_en": ref.name_en,
        "population": ref.population,
        "geom": geometry_of(conn, ref.id),
    }


def _dongs(conn: Connection, req: PlanRequest) -> tuple[list[dict[str, Any]], str]:
    """The dongs of the requested area (through the geography capability) and a label for it."""
    if req.area_code is not None:
        area = area_by_code(conn, req.area_code)
        if area is None:
            raise NotFound(
                f"area_code: no district or dong has code {req.area_code!r}; import the boundaries "
                "(safecity import layer FILE --as districts|dongs) or check the code system (MOIS vs KOSTAT)",
                where="area_code",
            )
        if area.kind == "dong":
            return [_dong(conn, area)], area.name_ko
        dongs = [_dong(conn, r) for r in areas_of(conn, "dong") if r.parent_id == area.id]
        if not dongs:
            raise Conflict(
                f"area_code: district {req.area_code} has no dongs; import the dong boundaries first",
                where="area_code",
            )
        return dongs, area.name_ko
    assert req.area is not None
    polygon = parse_geojson_geometry(req.area, "area", ("Polygon", "MultiPolygon"))
    shapely.prepare(polygon)
    inside = [_dong(conn, r) for r in areas_of(conn, "dong")]
    dongs = [
        d for d in inside if d["geom"] is not None and polygon.contains(d["geom"].representative_point())
    ]
    if not dongs:
        raise Conflict(
            "area: no imported dong lies inside this polygon; import the dong boundaries first", where="area"
        )
    return dongs, "polygon"


def network_times(
    router: Router,
    zones: list[Zone],
    sites: list[Site],
    avoid: Avoid | None = None,
    max_walk_s: float = DEFAULT_MAX_WALK_S,
) -> FloatArray:
    """Walking times (s) along the road network, shape (zones, sites), at :data:`WALK_SPEED_MS`;
    ``inf`` where a shelter cannot be reached from a zone or only in more than ``max_walk_s``."""
    # The graph's walking edges are timed at its own pace; the plan walks at the evacuation pace.
    scale = router.typical_speed(Mode.walk) / WALK_SPEED_MS
    seconds = router.travel_times(
        [(z.lon, z.lat) for z in zones],
        [(s.lon, s.lat) for s in sites],
        Mode.walk,
        avoid or Avoid(),
        limit=max_walk_s / scale,
    )
    times = seconds * scale
    return np.where(times <= max_walk_s, times, np.inf)


def plan_for_area(
    conn: Connection,
    req: PlanRequest,
    now: datetime,
    travel: TravelTimes | None = None,
    *,
    router: Router | None = None,
) -> dict[str, Any]:
    """The plan as JSON. Raises 404 for an unknown area code, 409 when population is missing or when
    network travel is asked for and no road network has been imported.

    ``travel`` (a callable) overrides the request's choice; ``router`` defaults to the platform's loaded
    road network (:func:`safecity.evacuation.routing.network_router`).
    """
    if travel is None and req.travel != "straight":
        router = router or network_router(conn.engine)
        if router is None and req.travel == "network":
            raise Conflict(
                "travel: no road network has been imported (safecity import roads FILE.osm.pbf); "
                "ask for travel=straight or import one",
                where="travel",
                message_ko="도로망이 없습니다: travel=straight로 요청하거나 도로망을 가져오세요",
            )
    else:
        router = None
    dongs, label = _dongs(conn, req)
    missing = [d["code"] for d in dongs if d["population"] is None]
    if missing:
        raise Conflict(
            f"population: {len(missing)} of {len(dongs)} dongs have no population (e.g. {missing[0]}); "
            "population data must be imported first",
            where="population",
            message_ko="인구 자료를 먼저 가져와야 합니다",
            details={"dongs_without_population": missing[:50]},
        )
    zones = []
    for d in dongs:
        p = d["geom"].representative_point()
        zones.append(Zone(d["code"], p.x, p.y, int(d["population"]), d["name_ko"]))
    union: BaseGeometry = to_metric(shapely.union_all([d["geom"] for d in dongs]))
    shapely.prepare(union)
    candidates = suitable_shelters(conn, req.hazard, now)
    sites = []
    names: dict[int, tuple[str, str | None]] = {}
    unknown: list[Shelter] = []  # within reach but of unknown capacity: the plan cannot count on them
    for s in candidates:
        if union.distance(to_metric(s.geom)) <= req.reach_m:
            if s.available is None:
                unknown.append(s)
                continue
            sites.append(Site(s.id, s.geom.x, s.geom.y, s.available, s.name_ko))
            names[s.id] = (s.name_ko, s.name_en)
    if not sites:
        raise Conflict(
            f"hazard: no open shelter with space within {req.reach_m:g} m is safe from {req.hazard.value}; "
            "open shelters, register more, or widen reach_m",
            where="hazard",
        )
    used = "custom" if travel is not None else "network" if router is not None else "straight"
    times: TravelTimes | FloatArray | None = travel
    if router is not None:
        closures, hazard_zones = avoided_geometries(conn, now, req.hazard)
        avoid = Avoid(tuple(closures), tuple(hazard_zones), req.hazard is Hazard.flood)
        times = network_times(router, zones, sites, avoid, req.max_walk_s)
    plan = assign(zones, sites, times, k=req.k)
    body = plan_to_json(plan, names)
    zone_names = {d["code"]: (d["name_ko"], d["name_en"]) for d in dongs}
    for z in body["zones"]:
        z["name_ko"], z["name_en"] = zone_names[z["zone"]]
    body["area"] = {"label": label, "dongs": len(dongs), "hazard": req.hazard.value, "shelters": len(sites)}
    # Shelters left out because nobody knows how many they hold: the operator sets their capacity
    # (PATCH /evacuation/shelters/{id}) and plans again.
    body["shelters_capacity_unknown"] = [
        {"id": s.id, "code": s.code, "name_ko": s.name_ko, "name_en": s.name_en} for s in unknown
    ]
    body["travel"] = {"mode": used, "walk_speed_ms": WALK_SPEED_MS}
    if router is not None and isinstance(times, np.ndarray):
        body["travel"]["max_walk_s"] = req.max_walk_s
        body["travel"]["unreachable_pairs"] = int(np.isinf(times).sum())
    return body
