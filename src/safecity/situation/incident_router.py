# SPDX-License-Identifier: Apache-2.0
"""``/incidents`` and ``/situation/rules/stats``: the incident register for the situation room.

Reads and writes are for operators (and admins): incidents name places, sensors and people's reports
before anything is published to citizens (the warning capability does that). Each write is one store
transaction, so a refused request changes nothing.
"""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Path, Query, Request, Response

from safecity.auth.deps import allow, resolve_principal
from safecity.auth.model import Role
from safecity.capability import provider
from safecity.core.errors import MAX_ID
from safecity.situation.incident_inputs import AttachmentIn, ManualIncidentIn, StatusIn
from safecity.situation.incident_read import MAX_LIMIT
from safecity.situation.incidents import Incidents
from safecity.situation.lifecycle import Status

router = APIRouter(tags=["incidents"])

Id = Annotated[int, Path(ge=1, le=MAX_ID)]


def _json(data: dict[str, Any] | list[Any], status: int = 200) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type="application/json")


def _actor(request: Request) -> str:
    # allow() already resolved and cached the caller on the request.
    return resolve_principal(request).name


IncidentsDep = Annotated[Incidents, Depends(provider(Incidents))]


@router.get("/incidents", dependencies=[allow(Role.operator)], summary="Incidents, newest first, filtered")
def list_incidents(
    incidents: IncidentsDep,
    status: Status | None = None,
    hazard: Annotated[str | None, Query(description="heavy_rain, river_flood, facility, ...")] = None,
    open: Annotated[bool, Query(description="only incidents not closed or dismissed")] = False,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Response:
    found = incidents.list(
        status=status.value if status else None, hazard=hazard, open_only=open, limit=limit, offset=offset
    )
    return _json({"numberReturned": len(found), "incidents": [i.to_json() for i in found]})


@router.get(
    "/incidents/{incident_id}",
    dependencies=[allow(Role.operator)],
    summary="One incident with its timeline, areas and sensors",
)
def get_incident(incidents: IncidentsDep, incident_id: Id) -> Response:
    return _json(incidents.get(incident_id).to_json())


@router.post(
    "/incidents",
    dependencies=[allow(Role.operator)],
    status_code=201,
    summary="Open an incident reported by a person",
)
def open_incident(request: Request, incidents: IncidentsDep, body: ManualIncidentIn) -> Response:
    return _json(incidents.open_manual(body, _actor(request)).to_json(), 201)


@router.post(
    "/incidents/{incident_id}/status",
    dependencies=[allow(Role.operator)],
    summary="Acknowledge, respond, recover, close or dismiss (with a reason) an incident",
)
def set_status(
    request: Request,
    incidents: IncidentsDep,
    incident_id: Id,
    body: StatusIn,
) -> Response:
    incident = incidents.transition(
        incident_id, body.status.value, _actor(request), reason=body.reason, note=body.note
    )
    return _json(incident.to_json())


@router.post(
    "/incidents/{incident_id}/attachments",
    dependencies=[allow(Role.operator)],
    status_code=201,
    summary="Attach an observation, datastream, thing, link or note",
)
def attach(
    request: Request,
    incidents: IncidentsDep,
    incident_id: Id,
    body: AttachmentIn,
) -> Response:
    return _json(incidents.attach(incident_id, body, _actor(request)).to_json(), 201)


@router.get(
    "/situation/rules/stats",
    dependencies=[allow(Role.operator)],
    summary="Per rule: conditions fired, incidents opened and dismissed",
)
def rule_stats(incidents: IncidentsDep) -> Response:
    return _json({"rules": [s.to_json() for s in incidents.rule_stats()]})
