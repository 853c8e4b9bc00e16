# SPDX-License-Identifier: Apache-2.0
"""``/flood/forecast``: the latest forecast run and what it predicts at underpasses, roads and
semi-basement buildings (the depth areas are the OGC API collection ``flood-forecast``);
``/flood/radar/import``: a radar or nowcast raster for the next runs (flood/radar.py)."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request

from safecity.auth.deps import allow
from safecity.auth.model import Role
from safecity.capability import provider
from safecity.core.errors import BadRequest, NotFound
from safecity.flood.service import FloodForecasts

router = APIRouter(prefix="/flood", tags=["flood"])


def _latest(svc: FloodForecasts, kind: str, wet_only: bool) -> dict[str, Any]:
    with svc.store.engine.connect() as conn:
        found = svc.latest(conn, kind, wet_only)
    if found is None:
        raise NotFound("no flood forecast has run yet (it runs once rain is observed)", where="forecast")
    return found


@router.get(
    "/forecast",
    dependencies=[allow(Role.public)],
    summary="The latest flood forecast at underpasses or roads (depth now, deepest, when it reaches 15 cm)",
)
def forecast(
    svc: Annotated[FloodForecasts, Depends(provider(FloodForecasts))],
    kind: Annotated[Literal["underpass", "road"], Query(description="which places")] = "underpass",
    wet_only: Annotated[bool, Query(alias="wetOnly", description="only places with predicted water")] = True,
) -> dict[str, Any]:
    return _latest(svc, kind, wet_only)


@router.get(
    "/forecast/semi-basements",
    # where vulnerable households live: for the operators who warn them, not for the public
    dependencies=[allow(Role.operator)],
    summary="The latest flood forecast's semi-basement buildings at risk",
)
def semi_basements(svc: Annotated[FloodForecasts, Depends(provider(FloodForecasts))]) -> dict[str, Any]:
    return _latest(svc, "building", True)


@router.post(
    "/radar/import",
    dependencies=[allow(Role.operator)],
    status_code=201,
    summary="Import a radar or nowcast raster (mm/h, one band per frame) for the flood forecasts",
    openapi_extra={
        "requestBody": {"content": {"image/tiff": {"schema": {"type": "string", "format": "binary"}}}}
    },
)
async def import_radar_route(
    request: Request,
    start: Annotated[datetime, Query(description="start of the first frame, with its time zone")],
    step_min: Annotated[float, Query(alias="stepMin", description="minutes each frame covers")] = 10.0,
    name: Annotated[str, Query(max_length=200, description="what the raster is (kept with it)")] = "radar",
) -> dict[str, Any]:
    from safecity.flood.radar import import_radar

    body = await request.body()
    if not body:
        raise BadRequest(
            "body: send the raster file (GeoTIFF or NetCDF) as the request body",
            where="body",
            message_ko="body: 래스터 파일(GeoTIFF, NetCDF)을 본문으로 보내십시오",
        )
    svc: FloodForecasts = request.app.state.services.get(FloodForecasts)
    data_dir = svc.data_dir
    if data_dir is None:
        raise BadRequest("radar: this platform keeps no data directory", where="radar")
    kept = await asyncio.to_thread(import_radar, data_dir, body, start, step_min, name)
    return kept.to_json()
