# SPDX-License-Identifier: Apache-2.0
"""``/sensing``: platform-specific sensing endpoints beside the standard SensorThings API."""

from __future__ import annotations

import orjson
from fastapi import APIRouter, Request, Response

from safecity.auth.deps import allow
from safecity.auth.model import Role
from safecity.sensing.health import stream_health

router = APIRouter(prefix="/sensing", tags=["sensing"])


@router.get("/health", dependencies=[allow(Role.operator)], summary="Stale and suspect sensors")
def health(request: Request) -> Response:
    sensing = request.app.state.sensing
    settings = request.app.state.settings
    with sensing.store.engine.connect() as conn:
        streams = stream_health(conn, sensing.catalogue, sensing.clock.now(), settings.stale_intervals)
    problems = [s.to_json() for s in streams if s.state in ("stale", "suspect")]
    counts: dict[str, int] = {}
    for s in streams:
        counts[s.state] = counts.get(s.state, 0) + 1
    return Response(orjson.dumps({"counts": counts, "problems": problems}), media_type="application/json")


@router.get("/catalogue", dependencies=[allow(Role.public)], summary="Observed properties the platform knows")
def catalogue(request: Request) -> Response:
    from dataclasses import asdict

    specs = [asdict(s) for s in request.app.state.sensing.catalogue.all()]
    return Response(orjson.dumps(specs), media_type="application/json")
