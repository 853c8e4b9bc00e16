# SPDX-License-Identifier: Apache-2.0
"""``/shelters`` and ``/evacuation/...``: the shelter registry, hazard zones, road closures, area plans.

Reads are public (citizens need shelters and zones without logging in); writes are for operators. Each
write runs in one store transaction, so a refused request changes nothing.
"""

from __future__ import annotations

import math
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Path, Query, Request, Response

from safecity.audit.record import record
from safecity.auth.deps import allow, resolve_principal
from safecity.auth.model import Role
from safecity.capability import ClockDep, SettingsDep, StoreDep
from safecity.core.errors import MAX_ID, BadRequest
from safecity.evacuation import derive, zones
from safecity.evacuation import shelters as registry
from safecity.evacuation.area_plan import PlanRequest, plan_for_area
from safecity.evacuation.guidance import default_guidance
from safecity.evacuation.shelters import (
    OccupancyIn,
    ShelterCollection,
    ShelterFeature,
    ShelterIn,
    ShelterKind,
    ShelterPatch,
    ShelterQuery,
)
from safecity.evacuation.zones import CollapseCordonIn, Hazard, HazardZoneIn, RoadClosureIn

_STAFF = frozenset({Role.operator})  # has_any() also admits admins

router = APIRouter(tags=["evacuation"])

Id = Annotated[int, Path(ge=1, le=MAX_ID)]
MAX_LIMIT = 10_000


def _json(data: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type="application/geo+json")


def _floats(value: str, n: int, name: str, example: str) -> tuple[float, ...]:
    try:
        parts = tuple(float(p) for p in value.split(","))
    except ValueError:
        parts = ()
    if len(parts) != n:
        raise BadRequest(f"{name}: expected {n} comma-separated numbers, e.g. {name}={example}", where=name)
    if not all(math.isfinite(p) for p in parts):  # NaN compared false everywhere: it matched every shelter
        raise BadRequest(f"{name}: numbers must be finite, e.g. {name}={example}", where=name)
    return parts


def _personal(request: Request, shelters: list[Any]) -> bool:
    """Whether the caller sees the shelters' contact data (operators), audited when it does."""
    if not resolve_principal(request).has_any(_STAFF):
        return False
    shown = [s.id for s in shelters if s.properties]
    if shown:
        record(
            request, "personal.read", "shelters", "200", details={"shelters": shown[:50], "count": len(shown)}
        )
    return True


def _collection(features: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "FeatureCollection", "numberReturned": len(features), "features": features}


# ---------------------------------------------------------------------------------------------- shelters


@router.get(
    "/shelters",
    dependencies=[allow(Role.public)],
    summary="Shelters as GeoJSON, filtered",
    responses={200: {"model": ShelterCollection}},
)
def list_shelters(
    request: Request,
    store: StoreDep,
    clock: ClockDep,
    kind: ShelterKind | None = None,
    open: Annotated[bool | None, Query(description="only open (true) or closed (false) shelters")] = None,
    has_space: Annotated[
        bool | None,
        Query(description="occupancy below capacity (a shelter of unknown capacity counts as having space)"),
    ] = None,
    safe_from: Annotated[Hazard | None, Query(description="safe from this hazard, outside its zones")] = None,
    near: Annotated[str | None, Query(description="lon,lat: nearest first, with distance_m")] = None,
    within_m: Annotated[float | None, Query(gt=0, description="with near: at most this far (metres)")] = None,
    bbox: Annotated[str | None, Query(description="minlon,minlat,maxlon,maxlat (WGS84)")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 1000,
) -> Response:
    near_pt = _floats(near, 2, "near", "126.978,37.566") if near else None
    box = _floats(bbox, 4, "bbox", "126.9,37.5,127.1,37.6") if bbox else None
    if within_m is not None and near_pt is None:
        raise BadRequest("within_m: needs near=lon,lat", where="within_m")
    if box is not None and not (box[0] <= box[2] and box[1] <= box[3]):
        raise BadRequest("bbox: min must not exceed max (minlon,minlat,maxlon,maxlat)", where="bbox")
    query = ShelterQuery(
        kind=kind,
        is_open=open,
        has_space=has_space,
        safe_from=safe_from,
        near=(near_pt[0], near_pt[1]) if near_pt else None,
        within_m=within_m,
        bbox=(box[0], box[1], box[2], box[3]) if box else None,
        limit=limit,
    )
    with store.engine.connect() as conn:
        found = registry.list_shelters(conn, query, now=clock.now())
    personal = _personal(request, [s for s, _ in found])
    return _json(_collection([s.to_feature(d, personal=personal) for s, d in found]))


@router.get(
    "/shelters/{shelter_id}",
    dependencies=[allow(Role.public)],
    summary="One shelter",
    responses={200: {"model": ShelterFeature}},
)
def get_shelter(request: Request, store: StoreDep, shelter_id: Id) -> Response:
    with store.engine.connect() as conn:
        shelter = registry.get_shelter(conn, shelter_id)
    return _json(shelter.to_feature(personal=_personal(request, [shelter])))


@router.post(
    "/shelters",
    dependencies=[allow(Role.operator)],
    status_code=201,
    summary="Register a shelter",
    responses={201: {"model": ShelterFeature}},
)
def create_shelter(store: StoreDep, clock: ClockDep, body: ShelterIn) -> Response:
    with store.write() as conn:
        shelter = registry.create_shelter(conn, body, clock.now())
    return _json(shelter.to_feature(), 201)


@router.patch(
    "/shelters/{shelter_id}",
    dependencies=[allow(Role.operator)],
    summary="Open or close a shelter, change its capacity, names, accessibility or hazards",
)
def patch_shelter(store: StoreDep, clock: ClockDep, shelter_id: Id, body: ShelterPatch) -> Response:
    with store.write() as conn:
        shelter = registry.update_shelter(conn, shelter_id, body, clock.now())
    return _json(shelter.to_feature())


@router.put(
    "/shelters/{shelter_id}/occupancy",
    dependencies=[allow(Role.operator)],
    summary="Set the number of people in a shelter (409 above capacity)",
)
def put_occupancy(store: StoreDep, clock: ClockDep, shelter_id: Id, body: OccupancyIn) -> Response:
    with store.write() as conn:
        shelter = registry.set_occupancy(conn, shelter_id, body.occupancy, clock.now())
    return _json(shelter.to_feature())


# ---------------------------------------------------------------------------------------------- zones


@router.get(
    "/evacuation/hazard-zones", dependencies=[allow(Role.public)], summary="Hazard zones with guidance"
)
def list_zones(
    store: StoreDep,
    clock: ClockDep,
    hazard: Hazard | None = None,
    include_inactive: Annotated[bool, Query(description="also deactivated and expired zones")] = False,
) -> Response:
    with store.engine.connect() as conn:
        found = zones.list_zones(conn, clock.now(), hazard=hazard, active_only=not include_inactive)
    return _json(_collection([z.to_feature() for z in found]))


@router.post(
    "/evacuation/hazard-zones",
    dependencies=[allow(Role.operator)],
    status_code=201,
    summary="Declare a hazard zone (guidance written from nearby shelters when not given)",
)
def create_zone(store: StoreDep, clock: ClockDep, body: HazardZoneIn) -> Response:
    geom = zones.parse_zone_geometry(body.geometry)
    now = clock.now()
    with store.write() as conn:
        guidance = (
            body.guidance.model_dump() if body.guidance else default_guidance(conn, body.hazard, geom, now)
        )
        zone = zones.insert_zone(
            conn,
            hazard=body.hazard,
            geom=geom,
            now=now,
            guidance=guidance,
            name_ko=body.name_ko,
            name_en=body.name_en,
            properties=body.properties,
            source=body.source,
            expires_at=body.expires_at,
        )
    return _json(zone.to_feature(), 201)


@router.post(
    "/evacuation/hazard-zones/collapse-cordon",
    dependencies=[allow(Role.operator)],
    status_code=201,
    summary="A collapse cordon around a facility: radius = 1.5 × height (min 10 m)",
)
def create_cordon(store: StoreDep, clock: ClockDep, body: CollapseCordonIn) -> Response:
    polygon, radius = zones.collapse_cordon(body.lon, body.lat, body.height_m)
    now = clock.now()
    with store.write() as conn:
        guidance = (
            body.guidance.model_dump()
            if body.guidance
            else default_guidance(conn, Hazard.collapse, polygon, now)
        )
        zone = zones.insert_zone(
            conn,
            hazard=Hazard.collapse,
            geom=polygon,
            now=now,
            guidance=guidance,
            name_ko=body.name_ko,
            name_en=body.name_en,
            properties={
                "facility": {"type": "Point", "coordinates": [body.lon, body.lat]},
                "facility_id": body.facility_id,
                "height_m": body.height_m,
                "radius_m": radius,
                "radius_rule": f"max({zones.COLLAPSE_MIN_RADIUS_M:g} m, "
                f"{zones.COLLAPSE_HEIGHT_FACTOR:g} × height), buffered in EPSG:5186",
            },
            source="collapse-cordon",
            expires_at=body.expires_at,
        )
    return _json(zone.to_feature(), 201)


@router.post(
    "/evacuation/hazard-zones/flood-prone",
    dependencies=[allow(Role.operator)],
    status_code=201,
    summary="Derive flood-prone zones from the DEM: ground below a water level (409 without a DEM)",
)
def derive_flood_prone(
    store: StoreDep, clock: ClockDep, settings: SettingsDep, body: derive.FloodProneIn
) -> Response:
    data_dir = settings.data_dir
    with store.write() as conn:
        result = derive.derive_flood_zones(conn, data_dir, body, clock.now())
    return _json(result.to_json(), 201)


@router.post(
    "/evacuation/hazard-zones/landslide-prone",
    dependencies=[allow(Role.operator)],
    status_code=201,
    summary="Derive landslide-prone zones from the DEM: slopes at or above a threshold (409 without a DEM)",
)
def derive_landslide_prone(
    store: StoreDep, clock: ClockDep, settings: SettingsDep, body: derive.LandslideProneIn
) -> Response:
    data_dir = settings.data_dir
    with store.write() as conn:
        result = derive.derive_landslide_zones(conn, data_dir, body, clock.now())
    return _json(result.to_json(), 201)


@router.post(
    "/evacuation/hazard-zones/{zone_id}/deactivate",
    dependencies=[allow(Role.operator)],
    summary="Lift a hazard zone",
)
def deactivate_zone(store: StoreDep, clock: ClockDep, zone_id: Id) -> Response:
    with store.write() as conn:
        return _json(zones.deactivate_zone(conn, zone_id, clock.now()).to_feature())


# ---------------------------------------------------------------------------------------------- closures


@router.get("/evacuation/road-closures", dependencies=[allow(Role.public)], summary="Closed roads")
def list_closures(
    store: StoreDep,
    clock: ClockDep,
    include_inactive: Annotated[bool, Query(description="also reopened and expired closures")] = False,
) -> Response:
    with store.engine.connect() as conn:
        found = zones.list_closures(conn, clock.now(), active_only=not include_inactive)
    return _json(_collection([c.to_feature() for c in found]))


@router.post(
    "/evacuation/road-closures", dependencies=[allow(Role.operator)], status_code=201, summary="Close a road"
)
def create_closure(store: StoreDep, clock: ClockDep, body: RoadClosureIn) -> Response:
    with store.write() as conn:
        closure = zones.insert_closure(conn, body, clock.now())
    return _json(closure.to_feature(), 201)


@router.post(
    "/evacuation/road-closures/{closure_id}/deactivate",
    dependencies=[allow(Role.operator)],
    summary="Reopen a closed road",
)
def deactivate_closure(store: StoreDep, clock: ClockDep, closure_id: Id) -> Response:
    with store.write() as conn:
        return _json(zones.deactivate_closure(conn, closure_id, clock.now()).to_feature())


# ---------------------------------------------------------------------------------------------- plan


@router.post(
    "/evacuation/plan",
    dependencies=[allow(Role.operator)],
    summary="Assign every resident of an area to a suitable shelter within capacity (HiGHS LP)",
)
def evacuation_plan(store: StoreDep, clock: ClockDep, body: PlanRequest) -> Response:
    with store.engine.connect() as conn:
        plan = plan_for_area(conn, body, clock.now())
    return Response(orjson.dumps(plan), media_type="application/json")
