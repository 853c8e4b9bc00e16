# SPDX-License-Identifier: Apache-2.0
"""HTTP routes of the care capability: ``/care/...`` for operators and guardians, ``/tracking/...``
for the trackers (public routes: a tracker proves itself with the key issued for it)."""

from __future__ import annotations

import asyncio
import base64
import binascii
from datetime import datetime
from importlib.resources import files
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Path, Query, Request, Response

from safecity.auth.deps import allow, resolve_principal
from safecity.auth.model import Principal, Role
from safecity.capability import provider
from safecity.care import trackers
from safecity.care.checkins import AnswerIn
from safecity.care.fences import FenceIn
from safecity.care.law import articles
from safecity.care.model import Actor, ConsentIn, DeviceIn, GuardianIn, PersonIn, Purpose
from safecity.care.service import Care
from safecity.care.trips import TripIn
from safecity.core.errors import MAX_ID, BadRequest
from safecity.core.logging import current_request_id

router = APIRouter(prefix="/care", tags=["care"])
tracking = APIRouter(prefix="/tracking", tags=["care"])

CareDep = Annotated[Care, Depends(provider(Care))]
Who = Annotated[Principal, Depends(resolve_principal)]
# an id outside what the database gives out is a 422 naming the path parameter, never a database error
PersonId = Annotated[int, Path(ge=1, le=MAX_ID)]
FenceId = Annotated[int, Path(ge=1, le=MAX_ID)]
TripId = Annotated[int, Path(ge=1, le=MAX_ID)]
TaskId = Annotated[int, Path(ge=1, le=MAX_ID)]
PEOPLE = (Role.operator, Role.guardian)

#: Largest tracker request body read (an OwnTracks app that was offline sends a list of locations).
MAX_BODY = 1_000_000


def actor_of(request: Request, who: Principal, reason: str | None = None) -> Actor:
    return Actor(
        who.name,
        who.kind,
        frozenset(r.value for r in who.roles),
        request.client.host if request.client else None,
        current_request_id(),
        reason,
    )


def _json(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


@router.get("/law", dependencies=[allow(Role.public)], summary="The articles the care capability implements")
def law() -> Response:
    return _json(
        [{"id": a.id, "law": a.law, "ko": a.ko, "en": a.en, "code": a.code} for a in articles().values()]
    )


@router.post(
    "/people", status_code=201, dependencies=[allow(Role.operator)], summary="Register a protected person"
)
def add_person(body: PersonIn, care: CareDep, request: Request, who: Who) -> Response:
    return _json(care.add_person(body, actor_of(request, who)).public(), 201)


@router.get("/people", dependencies=[allow(*PEOPLE)], summary="The people the caller looks after")
def list_people(care: CareDep, request: Request, who: Who, reason: str | None = None) -> Response:
    return _json([p.public() for p in care.people_of(actor_of(request, who, reason))])


@router.get("/people/{person_id}", dependencies=[allow(*PEOPLE)], summary="One protected person")
def get_person(
    person_id: PersonId, care: CareDep, request: Request, who: Who, reason: str | None = None
) -> Response:
    actor = actor_of(request, who, reason)
    person = care.person(person_id, actor)
    return _json({**person.public(), "consents": [c.public() for c in care.consents_of(person_id)]})


@router.post(
    "/people/{person_id}/guardians",
    status_code=201,
    dependencies=[allow(Role.operator)],
    summary="Add a guardian or carer",
)
def add_guardian(
    person_id: PersonId, body: GuardianIn, care: CareDep, request: Request, who: Who
) -> Response:
    return _json(care.add_guardian(person_id, body, actor_of(request, who)), 201)


@router.post(
    "/people/{person_id}/consents/{purpose}",
    status_code=201,
    dependencies=[allow(Role.operator)],
    summary="Record a consent received (위치정보법 §15/§18/§25/§26, PIPA §23)",
)
def give_consent(
    person_id: PersonId, purpose: Purpose, body: ConsentIn, care: CareDep, request: Request, who: Who
) -> Response:
    return _json(care.give_consent(person_id, purpose, body, actor_of(request, who)).public(), 201)


@router.delete(
    "/people/{person_id}/consents/{purpose}",
    dependencies=[allow(*PEOPLE)],
    summary="Withdraw a consent: the positions and their records are destroyed at once (§24)",
)
def withdraw(person_id: PersonId, purpose: Purpose, care: CareDep, request: Request, who: Who) -> Response:
    return _json({"destroyed": care.withdraw(person_id, purpose, actor_of(request, who))})


@router.post(
    "/people/{person_id}/devices",
    status_code=201,
    dependencies=[allow(Role.operator)],
    summary="Register a tracker; its key is shown once",
)
def add_device(person_id: PersonId, body: DeviceIn, care: CareDep, request: Request, who: Who) -> Response:
    device, key = care.add_device(person_id, body, actor_of(request, who))
    return _json(
        {
            "id": device.id,
            "personId": person_id,
            "protocol": device.protocol,
            "topicId": device.topic_id,
            "key": key,
        },
        201,
    )


@router.get(
    "/people/{person_id}/positions",
    dependencies=[allow(*PEOPLE)],
    summary="A person's positions (guardians: their own people; operators: with a reason). Audited",
)
def get_positions(
    person_id: PersonId,
    care: CareDep,
    request: Request,
    who: Who,
    reason: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> Response:
    found = care.positions(person_id, actor_of(request, who, reason), since, until, limit)
    return _json([p.public() for p in found])


@router.get(
    "/people/{person_id}/access",
    dependencies=[allow(*PEOPLE)],
    summary="The person's access record: each collection, use and provision of their positions (§16②)",
)
def get_access(
    person_id: PersonId, care: CareDep, request: Request, who: Who, reason: str | None = None
) -> Response:
    return _json(care.access_record(person_id, actor_of(request, who, reason)))


@router.get(
    "/people/{person_id}/notices",
    dependencies=[allow(*PEOPLE)],
    summary="Notices of provision sent or collecting (§19)",
)
def get_notices(
    person_id: PersonId, care: CareDep, request: Request, who: Who, reason: str | None = None
) -> Response:
    return _json(care.notices_of(person_id, actor_of(request, who, reason)))


# -- trackers ------------------------------------------------------------------------------------
async def _body(request: Request) -> bytes:
    body = await request.body()
    if len(body) > MAX_BODY:
        raise BadRequest(f"body: larger than {MAX_BODY} bytes", where="body")
    return body


@tracking.get(
    "/osmand",
    dependencies=[allow(Role.public)],
    summary="OsmAnd / Traccar Client protocol (query parameters); the device id is its issued key",
)
async def osmand_get(request: Request, care: CareDep) -> Response:
    return await osmand(request, care)


@tracking.post(
    "/osmand",
    dependencies=[allow(Role.public)],
    summary="OsmAnd / Traccar Client protocol (query, form or Traccar Client 9's JSON)",
)
async def osmand(request: Request, care: CareDep) -> Response:
    now = care.clock.now()
    params: dict[str, Any] = dict(request.query_params)
    body = await _body(request) if request.method == "POST" else b""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if body and kind == "application/json":
        try:
            doc = orjson.loads(body)
        except orjson.JSONDecodeError as e:
            raise BadRequest(f"body: not JSON ({e})", where="body") from None
        if not isinstance(doc, dict):
            raise BadRequest("body: expected a JSON object with 'location' and 'device_id'", where="body")
        message = trackers.traccar_json({**params, **doc}, now)
    else:
        if body and kind == "application/x-www-form-urlencoded":
            from urllib.parse import parse_qsl

            params.update(parse_qsl(body.decode("utf-8", "replace")))
        message = trackers.osmand(params, now)
    device = await _device(care, message.key)
    if message.alarm == "sos" and message.fixes:
        # Traccar's OsmAnd protocol: alarm=sos is the device's SOS button
        await asyncio.to_thread(care.sos, device, message.fixes[-1])
    else:
        await _ingest(care, device, message.fixes)
    return Response(status_code=200)


@tracking.post(
    "/owntracks",
    dependencies=[allow(Role.public)],
    summary="OwnTracks HTTP mode: the app's JSON; Basic credentials whose password is the issued key",
)
async def owntracks(request: Request, care: CareDep) -> Response:
    body = await _body(request)
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as e:
        raise BadRequest(f"body: not JSON ({e})", where="body") from None
    items = doc if isinstance(doc, list) else [doc]
    for i, m in enumerate(items):
        if not isinstance(m, dict) or "_type" not in m:
            raise BadRequest(f"{i}/_type: missing (an OwnTracks message names its _type)", where=f"{i}/_type")
    fixes = trackers.owntracks(doc, care.clock.now())
    if fixes:
        device = await _device(care, _basic_password(request) or request.query_params.get("key"))
        await _ingest(care, device, fixes)
    return _json([])  # OwnTracks expects a JSON array (messages for the app): we send none


def _basic_password(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    if not header.lower().startswith("basic "):
        return None
    try:
        return base64.b64decode(header[6:].strip()).decode().partition(":")[2] or None
    except (binascii.Error, UnicodeDecodeError):
        raise BadRequest("Authorization: Basic credentials are not valid base64 'user:password'") from None


async def _device(care: Care, key: str | None) -> Any:
    # a key not seen since start-up is looked up in the store: off the event loop
    return care.cached_device(key) or await asyncio.to_thread(care.device_by_key, key)


async def _ingest(care: Care, device: Any, fixes: list[Any]) -> None:
    # the request waits on a future: the batch is written on an executor thread (care.pipeline)
    await care.ingest_async(device, fixes)


# -- fences --------------------------------------------------------------------------------------
@router.post(
    "/people/{person_id}/fences",
    status_code=201,
    dependencies=[allow(*PEOPLE)],
    summary="Draw a fence for a person (enter/exit with a delay, dwell, should be inside/outside on a schedule)",
)
def add_fence(person_id: PersonId, body: FenceIn, care: CareDep, request: Request, who: Who) -> Response:
    fence = care.add_fence(person_id, body, actor_of(request, who))
    return _json({"id": fence.id, "personId": person_id, "name": fence.name, "rule": fence.rule}, 201)


@router.get("/people/{person_id}/fences", dependencies=[allow(*PEOPLE)], summary="A person's fences")
def list_fences(
    person_id: PersonId, care: CareDep, request: Request, who: Who, reason: str | None = None
) -> Response:
    found = care.fences_of(person_id, actor_of(request, who, reason))
    return _json(
        [
            {
                "id": f.id,
                "name": f.name,
                "rule": f.rule,
                "delayS": f.delay_s,
                "dwellS": f.dwell_s,
                "polygon": [list(c) for c in f.shape.exterior.coords],
                "schedule": [w.model_dump(mode="json", by_alias=True) for w in f.schedule],
            }
            for f in found
        ]
    )


@router.delete(
    "/people/{person_id}/fences/{fence_id}",
    status_code=204,
    dependencies=[allow(*PEOPLE)],
    summary="Remove a fence",
)
def remove_fence(
    person_id: PersonId, fence_id: FenceId, care: CareDep, request: Request, who: Who
) -> Response:
    care.remove_fence(person_id, fence_id, actor_of(request, who))
    return Response(status_code=204)


@router.get(
    "/people/{person_id}/alerts",
    dependencies=[allow(*PEOPLE)],
    summary="The alerts a person's fences raised (with positions: audited)",
)
def list_alerts(
    person_id: PersonId, care: CareDep, request: Request, who: Who, reason: str | None = None
) -> Response:
    return _json(care.alerts_of(person_id, actor_of(request, who, reason)))


# -- safe return home ----------------------------------------------------------------------------
@router.post(
    "/people/{person_id}/trips",
    status_code=201,
    dependencies=[allow(*PEOPLE)],
    summary="Start a safe return home: the walk to a destination is watched (deviation, stop, late, signal)",
)
def start_trip(person_id: PersonId, body: TripIn, care: CareDep, request: Request, who: Who) -> Response:
    trip = care.start_trip(person_id, body, actor_of(request, who))
    return _json(trip.public(), 201)


@router.get(
    "/people/{person_id}/trips",
    dependencies=[allow(*PEOPLE)],
    summary="A person's trips, newest first (routes and last fixes: audited)",
)
def list_trips(
    person_id: PersonId, care: CareDep, request: Request, who: Who, reason: str | None = None
) -> Response:
    return _json([t.public(s) for t, s in care.trips_of(person_id, actor_of(request, who, reason))])


@router.get(
    "/trips/escalated",
    dependencies=[allow(Role.operator)],
    summary="Operators: the trips passed to the control room (no positions; audited)",
)
def escalated_trips(care: CareDep, request: Request, who: Who) -> Response:
    return _json(care.escalated_trips(actor_of(request, who)))


@router.get(
    "/people/{person_id}/trips/{trip_id}", dependencies=[allow(*PEOPLE)], summary="One trip (audited)"
)
def get_trip(
    person_id: PersonId, trip_id: TripId, care: CareDep, request: Request, who: Who, reason: str | None = None
) -> Response:
    [(trip, state)] = care.trips_of(person_id, actor_of(request, who, reason), trip_id)
    return _json(trip.public(state))


@router.post(
    "/people/{person_id}/trips/{trip_id}/acknowledge",
    dependencies=[allow(*PEOPLE)],
    summary="A guardian has seen the trip's alert and acts: it is not escalated to the operators",
)
def acknowledge_trip(
    person_id: PersonId, trip_id: TripId, care: CareDep, request: Request, who: Who
) -> Response:
    care.acknowledge_trip(person_id, trip_id, actor_of(request, who))
    return _json({"acknowledged": True})


@router.post(
    "/people/{person_id}/trips/{trip_id}/end",
    dependencies=[allow(*PEOPLE)],
    summary="End a trip (the person is safe, or the walk was called off)",
)
def end_trip(person_id: PersonId, trip_id: TripId, care: CareDep, request: Request, who: Who) -> Response:
    trip = care.end_trip(person_id, trip_id, actor_of(request, who))
    return _json({"id": trip.id, "status": trip.status})


@tracking.post(
    "/sos",
    dependencies=[allow(Role.public)],
    summary="The SOS button: the tracker's key and its position (OsmAnd parameters or JSON); guardians and "
    "operators are alerted at once",
)
async def sos(request: Request, care: CareDep) -> Response:
    params: dict[str, Any] = dict(request.query_params)
    body = await _body(request)
    if body:
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind == "application/json":
            try:
                doc = orjson.loads(body)
            except orjson.JSONDecodeError as e:
                raise BadRequest(f"body: not JSON ({e})", where="body") from None
            if not isinstance(doc, dict):
                raise BadRequest("body: expected a JSON object with id, lat and lon", where="body")
            params.update(doc)
        else:
            from urllib.parse import parse_qsl

            params.update(parse_qsl(body.decode("utf-8", "replace")))
    message = trackers.osmand(params, care.clock.now())
    device = care.device_by_key(message.key)
    if not message.fixes:
        raise BadRequest("valid: an SOS needs a valid position (lat, lon)", where="valid")
    found = await asyncio.to_thread(care.sos, device, message.fixes[-1])
    return _json({"sos": True, **found}, 201)


@router.get(
    "/people/{person_id}/safety-note",
    dependencies=[allow(*PEOPLE)],
    summary="Crash hotspots on the child's usual routes, with a note for the guardian (audited)",
)
def safety_note(
    person_id: PersonId, care: CareDep, request: Request, who: Who, reason: str | None = None
) -> Response:
    return _json(care.safety_note(person_id, actor_of(request, who, reason)))


# -- heat/cold check-ins ---------------------------------------------------------------------------
@router.get(
    "/checkins",
    dependencies=[allow(*PEOPLE)],
    summary="폭염·한파 안부 확인 call list: elderly people living alone to call, who to call, what to say",
)
def list_checkins(
    care: CareDep,
    request: Request,
    who: Who,
    reason: str | None = None,
    everything: Annotated[bool, Query(alias="all", description="also the answered and escalated")] = False,
) -> Response:
    return _json(care.checkin_list(actor_of(request, who, reason), open_only=not everything))


@router.post(
    "/checkins/{task_id}",
    dependencies=[allow(*PEOPLE)],
    summary="Record a check-in call: ok, need_help (to the operators at once) or no_answer",
)
def answer_checkin(task_id: TaskId, body: AnswerIn, care: CareDep, request: Request, who: Who) -> Response:
    return _json(care.answer_checkin(task_id, body, actor_of(request, who)))


# -- the guardian page: a public page with private data (it asks for a login, then reads the API) ----
_STATIC = files("safecity.care") / "static"
_TYPES = {
    "guardian.html": "text/html; charset=utf-8",
    "guardian.js": "text/javascript",
    "guardian.css": "text/css",
    "operator.html": "text/html; charset=utf-8",
    "operator.js": "text/javascript",
}


@router.get(
    "/guardian", dependencies=[allow(Role.public)], summary="The guardian page", include_in_schema=False
)
def guardian_page() -> Response:
    return Response((_STATIC / "guardian.html").read_bytes(), media_type=_TYPES["guardian.html"])


@router.get("/guardian.js", dependencies=[allow(Role.public)], include_in_schema=False)
def guardian_js() -> Response:
    return Response((_STATIC / "guardian.js").read_bytes(), media_type=_TYPES["guardian.js"])


@router.get("/guardian.css", dependencies=[allow(Role.public)], include_in_schema=False)
def guardian_css() -> Response:
    return Response((_STATIC / "guardian.css").read_bytes(), media_type=_TYPES["guardian.css"])


@router.get(
    "/operator",
    dependencies=[allow(Role.public)],
    summary="The control room's view of escalated trips",
    include_in_schema=False,
)
def operator_page() -> Response:
    return Response((_STATIC / "operator.html").read_bytes(), media_type=_TYPES["operator.html"])


@router.get("/operator.js", dependencies=[allow(Role.public)], include_in_schema=False)
def operator_js() -> Response:
    return Response((_STATIC / "operator.js").read_bytes(), media_type=_TYPES["operator.js"])
