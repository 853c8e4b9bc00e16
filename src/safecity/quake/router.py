# SPDX-License-Identifier: Apache-2.0
"""The earthquake capability's routes.

* ``GET /quake/incidents/{id}`` and ``GET /quake/latest`` (operators): an incident's expected damage —
  totals, districts, the buildings to inspect first, collapse cordons and the walks out of them, shelter
  demand per dong against capacity; the damage map is the public ``quake-damage`` collection.
* ``POST /quake/messages`` (operators): a CAP earthquake message (XML body) → an incident with its damage.
* ``GET /quake/after-shaking`` (public, the citizen page): what to do once the shaking has stopped
  (Korean and English, after 행정안전부's guide) and the nearest open outdoor earthquake sites.
"""

from __future__ import annotations

import asyncio
import tomllib
from functools import cache
from importlib import resources
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request

from safecity.auth.deps import allow
from safecity.auth.model import Principal, Role
from safecity.capability import provider
from safecity.core.errors import MAX_ID, BadRequest, NotFound
from safecity.evacuation.route_api import parse_lonlat
from safecity.evacuation.shelters import ShelterKind, ShelterQuery, list_shelters
from safecity.quake.chain import QuakeChain
from safecity.situation.incidents import Incidents

router = APIRouter(prefix="/quake", tags=["quake"])
CAP_XML = "application/cap+xml"
#: How many outdoor sites the citizen page lists.
SITES = 3


def _not_assessed(incident_id: int | None) -> NotFound:
    what = f"incident {incident_id}" if incident_id is not None else "any incident"
    what_ko = f"사건 {incident_id}" if incident_id is not None else "사건"
    return NotFound(
        f"no earthquake damage assessment for {what} yet",
        where="incident_id",
        message_ko=f"{what_ko}에 대한 지진 피해 추정이 아직 없습니다",
    )


@router.get(
    "/incidents/{incident_id}",
    dependencies=[allow(Role.operator)],
    summary="An earthquake incident's expected damage, inspection list, cordons and shelter demand",
)
def incident_damage(
    incident_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    chain: Annotated[QuakeChain, Depends(provider(QuakeChain))],
) -> dict[str, Any]:
    found = chain.report(incident_id)
    if found is None:
        raise _not_assessed(incident_id)
    return found


@router.get(
    "/latest",
    dependencies=[allow(Role.operator)],
    summary="The most recent earthquake damage assessment",
)
def latest_damage(chain: Annotated[QuakeChain, Depends(provider(QuakeChain))]) -> dict[str, Any]:
    found = chain.latest()
    if found is None:
        raise _not_assessed(None)
    return found


@router.post(
    "/messages",
    dependencies=[allow(Role.operator)],
    status_code=201,
    summary="A CAP earthquake message (XML body): opens an earthquake incident with its expected damage",
    openapi_extra={"requestBody": {"content": {CAP_XML: {"schema": {"type": "string"}}}}},
)
async def post_message(request: Request) -> dict[str, Any]:
    body = await request.body()
    if not body.strip():
        raise BadRequest(
            "body: send a CAP 1.2 earthquake message as XML",
            where="body",
            message_ko="body: CAP 1.2 지진 통보문(XML)을 보내세요",
        )
    chain: QuakeChain = request.app.state.services.get(QuakeChain)
    principal: Principal = request.state.principal
    # the chain takes seconds on a city's buildings: off the event loop
    incident_id = await asyncio.to_thread(chain.assess_message, body, principal.name)
    return {"incidentId": incident_id, "damage": chain.report(incident_id)}


@cache
def _after_shaking() -> dict[str, Any]:
    with resources.files("safecity.quake").joinpath("data", "after_shaking.toml").open("rb") as f:
        return tomllib.load(f)


@router.get(
    "/after-shaking",
    dependencies=[allow(Role.public)],
    summary="After an earthquake: what to do once the shaking has stopped, and the nearest outdoor sites",
)
def after_shaking(
    chain: Annotated[QuakeChain, Depends(provider(QuakeChain))],
    incidents: Annotated[Incidents, Depends(provider(Incidents))],
    near: Annotated[
        str | None, Query(description="LON,LAT (WGS84) to list the nearest outdoor sites")
    ] = None,
) -> dict[str, Any]:
    """Both languages at once (the page switches without asking again); ``earthquake.active`` says
    whether an earthquake incident the platform assessed is still open."""
    guide = _after_shaking()
    point = parse_lonlat(near, "near") if near else None
    sites: list[dict[str, Any]] = []
    if point is not None:
        store = chain.store
        with store.engine.connect() as conn:
            found = list_shelters(
                conn,
                ShelterQuery(kind=ShelterKind.earthquake_outdoor, is_open=True, near=point, limit=SITES),
                now=chain.clock.now(),
            )
        sites = [
            {
                "id": s.id,
                "nameKo": s.name_ko,
                "nameEn": s.name_en or s.name_ko,
                "address": s.address,
                "lon": s.geom.x,
                "lat": s.geom.y,
                "distanceM": round(d) if d is not None else None,
                "capacity": s.capacity,
            }
            for s, d in found
        ]
    latest = chain.latest()
    active = False
    if latest is not None:
        active = incidents.get(int(latest["incidentId"])).open
    return {
        "guide": {
            lang: {"title": guide[lang]["title"], "steps": guide[lang]["steps"]} for lang in ("ko", "en")
        },
        "source": {"ko": guide["source_ko"], "en": guide["source_en"]},
        "earthquake": (
            {"active": active, "magnitude": latest["earthquake"]["magnitude"], "at": latest["at"]}
            if latest is not None
            else {"active": False}
        ),
        "sites": sites,
    }
