# SPDX-License-Identifier: Apache-2.0
"""``GET /evacuation/route``: the way to the nearest suitable open shelter, as a GeoJSON Feature.

The router's lifespan loads the imported road network when the server starts (if there is one), so the
first citizen asking for a route does not wait for it; a network imported later is picked up on the next
request.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Query, Response

from safecity.auth.deps import allow
from safecity.auth.model import Role
from safecity.capability import Services, provider
from safecity.core.errors import BadRequest, SafecityError
from safecity.core.logging import get_logger
from safecity.evacuation.routing import EvacuationRouting, feature
from safecity.geo.roads.graph import Mode

log = get_logger(__name__)


RoutingDep = Annotated[EvacuationRouting, Depends(provider(EvacuationRouting))]


@asynccontextmanager
async def _lifespan(app: Any) -> AsyncIterator[None]:
    # the evacuation capability built the service (safecity.evacuation.setup); load its network now,
    # before the first request, rather than on it
    services: Services = app.state.services
    service = services.get(EvacuationRouting)
    if service.path.is_file():
        try:
            service.router()
        except SafecityError as e:  # a broken file must not keep the rest of the platform down
            log.error("road network not loaded", path=str(service.path), error=e.message)
    yield


router = APIRouter(prefix="/evacuation", tags=["evacuation"], lifespan=_lifespan)


def parse_lonlat(value: str, name: str = "from") -> tuple[float, float]:
    """``"LON,LAT"`` in WGS84 degrees. BadRequest naming the parameter otherwise."""
    parts = value.split(",")
    try:
        lon, lat = (float(p) for p in parts) if len(parts) == 2 else (math.nan, math.nan)
    except ValueError:
        lon = lat = math.nan
    if not (math.isfinite(lon) and math.isfinite(lat)):
        raise BadRequest(
            f"{name}: give two numbers LON,LAT (e.g. 126.9515,37.5446), not '{value}'", where=name
        )
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise BadRequest(
            f"{name}: longitude must be within ±180 and latitude within ±90 ('{value}')", where=name
        )
    return lon, lat


@router.get(
    "/route",
    dependencies=[allow(Role.public)],
    summary="Route to the nearest suitable open shelter with space",
    response_description="GeoJSON Feature (LineString, WGS84) with the shelter, distance_m, duration_s, mode",
)
def evacuation_route(
    routing: RoutingDep,
    from_: Annotated[str, Query(alias="from", description="Start point LON,LAT (WGS84)")],
    mode: Annotated[Mode, Query(description="walk or drive")] = Mode.walk,
    hazard: Annotated[
        str | None, Query(description="Only shelters safe from this hazard (flood, earthquake, ...)")
    ] = None,
    avoid_flood_prone: Annotated[
        bool | None, Query(description="Avoid bridges, tunnels and underpasses (default: when hazard=flood)")
    ] = None,
) -> Response:
    lon, lat = parse_lonlat(from_)
    result = routing.route_to_shelter(lon, lat, mode, hazard or None, avoid_flood_prone)
    return Response(orjson.dumps(feature(result)), media_type="application/geo+json")
