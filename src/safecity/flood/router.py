# SPDX-License-Identifier: Apache-2.0
"""``/flood/forecast``: the latest forecast run and what it predicts at underpasses, roads and
semi-basement buildings (the depth areas are the OGC API collection ``flood-forecast``)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query

from safecity.auth.deps import allow
from safecity.auth.model import Role
from safecity.capability import provider
from safecity.core.errors import NotFound
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
