# SPDX-License-Identifier: Apache-2.0
"""``/sensing``: platform-specific sensing endpoints beside the standard SensorThings API: sensor health,
the catalogue of observed properties the rules understand, and a city's mappings of its own
ObservedProperties to catalogue keys (:mod:`safecity.sensing.mappings`)."""

from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import APIRouter, Depends, Path, Request, Response
from sqlalchemy.engine import Connection

from safecity.auth.deps import allow
from safecity.auth.model import Principal, Role
from safecity.capability import SettingsDep, provider
from safecity.core.errors import MAX_ID
from safecity.sensing import mappings
from safecity.sensing.events import EntityChanged
from safecity.sensing.health import stream_health
from safecity.sensing.service import Sensing

SensingDep = Annotated[Sensing, Depends(provider(Sensing))]

router = APIRouter(prefix="/sensing", tags=["sensing"])


@router.get("/health", dependencies=[allow(Role.operator)], summary="Stale and suspect sensors")
def health(sensing: SensingDep, settings: SettingsDep) -> Response:
    with sensing.store.engine.connect() as conn:
        streams = stream_health(conn, sensing.catalogue, sensing.clock.now(), settings.stale_intervals)
    problems = [s.to_json() for s in streams if s.state in ("stale", "suspect")]
    counts: dict[str, int] = {}
    for s in streams:
        counts[s.state] = counts.get(s.state, 0) + 1
    return Response(orjson.dumps({"counts": counts, "problems": problems}), media_type="application/json")


@router.get("/catalogue", dependencies=[allow(Role.public)], summary="Observed properties the platform knows")
def catalogue(sensing: SensingDep) -> Response:
    from dataclasses import asdict

    specs = [asdict(s) for s in sensing.catalogue.all()]
    return Response(orjson.dumps(specs), media_type="application/json")


@router.get(
    "/catalogue/mappings",
    dependencies=[allow(Role.operator)],
    summary="A city's own ObservedProperties mapped to catalogue keys",
)
def list_mappings(sensing: SensingDep) -> Response:
    with sensing.store.engine.connect() as conn:
        found = mappings.list_mappings(conn)
    return Response(orjson.dumps([m.to_json() for m in found]), media_type="application/json")


@router.post(
    "/catalogue/mappings",
    dependencies=[allow(Role.admin)],
    status_code=201,
    summary="Map a foreign ObservedProperty (definition URI or name) to a catalogue key (audited)",
)
def add_mapping(request: Request, sensing: SensingDep, body: mappings.MappingIn) -> Response:
    principal: Principal = request.state.principal
    with sensing.store.write() as conn:
        found = mappings.add_mapping(conn, sensing.catalogue, body, principal.name, sensing.clock.now())
        _changed(sensing, conn, found.id)
    sensing.bus.notify()
    return Response(orjson.dumps(found.to_json()), status_code=201, media_type="application/json")


@router.delete(
    "/catalogue/mappings/{mapping_id}",
    dependencies=[allow(Role.admin)],
    status_code=204,
    summary="Remove a property mapping (audited)",
)
def delete_mapping(sensing: SensingDep, mapping_id: Annotated[int, Path(ge=1, le=MAX_ID)]) -> Response:
    with sensing.store.write() as conn:
        mappings.delete_mapping(conn, mapping_id)
        _changed(sensing, conn, mapping_id)
    sensing.bus.notify()
    return Response(status_code=204)


def _changed(sensing: Sensing, conn: Connection, mapping_id: int) -> None:
    """Apply the stored mappings now; tell the rule engine (an ObservedProperty change makes it re-plan)
    and drop ingest's per-stream cache, which holds each stream's matched property."""
    mappings.apply(conn, sensing.catalogue)
    event = EntityChanged.model_validate(
        {"entity": "ObservedProperty", "id": mapping_id, "action": "updated"}
    )
    sensing.bus.publish(conn, event)
    sensing.ingest.invalidate()
