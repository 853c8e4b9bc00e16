# SPDX-License-Identifier: Apache-2.0
"""OGC SensorThings API 1.1 over HTTP at ``/sta/v1.1`` (Sensing part, Data Array extension)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import orjson
from fastapi import APIRouter, Depends, Request, Response
from starlette.concurrency import run_in_threadpool

from safecity.auth.deps import allow, resolve_principal
from safecity.auth.model import Principal, Role
from safecity.capability import SettingsDep, provider
from safecity.core.errors import BadRequest, Forbidden, NotFound, PayloadTooLarge
from safecity.core.logging import get_logger
from safecity.core.text import NUL_REFUSED, nul_path
from safecity.sensing.data_array import parse_data_array
from safecity.sensing.ingest import DATASTREAM, MULTI_DATASTREAM
from safecity.sensing.service import Sensing
from safecity.sensing.sta.model import BY_SET, ENTITIES
from safecity.sensing.sta.options import parse_options
from safecity.sensing.sta.paths import resolve, self_link
from safecity.sensing.sta.query import Reader
from safecity.settings import Settings

log = get_logger(__name__)
T = TypeVar("T")
PREFIX = "/sta/v1.1"
router = APIRouter(prefix=PREFIX, tags=["SensorThings"])

CONFORMANCE = [
    "http://www.opengis.net/spec/iot_sensing/1.1/req/datamodel",
    "http://www.opengis.net/spec/iot_sensing/1.1/req/resource-path/resource-path-to-entities",
    "http://www.opengis.net/spec/iot_sensing/1.1/req/request-data",
    "http://www.opengis.net/spec/iot_sensing/1.1/req/create-update-delete",
    "http://www.opengis.net/spec/iot_sensing/1.1/req/data-array/data-array",
    "http://www.opengis.net/spec/iot_sensing/1.1/req/create-observations-via-mqtt/observations-creation",
    "http://www.opengis.net/spec/iot_sensing/1.1/req/receive-updates-via-mqtt/receive-updates",
    "http://www.opengis.net/spec/iot_sensing/1.1/req/multi-datastream",
]
ROW_ERRORS_HEADER = "X-Safecity-Row-Errors"


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type="application/json", headers=headers)


SensingDep = Annotated[Sensing, Depends(provider(Sensing))]


def base_url(request: Request, settings: SettingsDep) -> str:
    """The SensorThings root as clients see it: the configured public URL, else the request's."""
    if settings.public_url:
        return settings.public_url.rstrip("/") + PREFIX
    return str(request.base_url).rstrip("/") + PREFIX


BaseUrl = Annotated[str, Depends(base_url)]


async def read_json(request: Request, limit: int, *, per_row: bool = False) -> Any:
    """The request's JSON body, within ``limit`` bytes (``max_body_bytes``). A NUL character anywhere in it
    is refused (PostgreSQL cannot store one; a 500 there, issue 13) unless ``per_row``: then ingest
    refuses the rows holding one, and only those."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"body: {declared} bytes is over the limit of {limit}; send smaller batches")
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > limit:
            raise PayloadTooLarge(f"body: over the limit of {limit} bytes; send smaller batches")
    if not body:
        raise BadRequest("body: empty; send a JSON document", where="body")
    try:
        doc = orjson.loads(bytes(body))
    except orjson.JSONDecodeError as e:
        raise BadRequest(f"body: malformed JSON: {e}", where=f"body:{e.pos}") from None
    if not per_row and b"\\u0000" in body:  # JSON can carry NUL only as this escape
        found = nul_path(doc)
        if found is not None:
            raise BadRequest(f"body{found}: {NUL_REFUSED}", where=f"body{found}")
    return doc


@router.get("", dependencies=[allow(Role.public)], summary="SensorThings service root")
def service_root(request: Request, base: BaseUrl, settings: SettingsDep) -> Response:
    mqtt = request.app.state.mqtt_endpoints if hasattr(request.app.state, "mqtt_endpoints") else []
    return _json(
        {
            "value": [{"name": e.set_name, "url": f"{base}/{e.set_name}"} for e in ENTITIES.values()],
            "serverSettings": {
                "conformance": CONFORMANCE,
                "http://www.opengis.net/spec/iot_sensing/1.1/req/create-observations-via-mqtt/observations-creation": {
                    "endpoints": mqtt
                },
                "safecity": {"maxTop": settings.max_page_size, "defaultTop": settings.page_size},
            },
        }
    )


@router.get(
    "/{path:path}", dependencies=[allow(Role.public)], summary="Read entities, properties or references"
)
def read(path: str, request: Request, sensing: SensingDep, settings: SettingsDep, base: BaseUrl) -> Response:
    reader = Reader(sensing.store, base, settings.page_size)
    params = dict(request.query_params)
    with sensing.store.engine.connect() as conn:
        res = resolve(conn, path)
        opts = parse_options(params, res.entity, max_top=settings.max_page_size)
        if res.ref:
            if res.entity_id is not None:
                return _json({"@iot.selfLink": self_link(base, res.entity, res.entity_id)})
            return _json(reader.refs(conn, res.entity, res.where, opts))
        if res.prop is not None:
            assert res.entity_id is not None
            body = reader.one(conn, res.entity, res.entity_id, parse_options({}, res.entity))
            assert body is not None
            value = body.get(res.prop)
            if res.value:
                return Response(
                    value if isinstance(value, str) else orjson.dumps(value), media_type="text/plain"
                )
            return _json({res.prop: value})
        if res.entity_id is not None:
            found = reader.one(conn, res.entity, res.entity_id, opts)
            if found is None:
                raise NotFound(f"{res.entity.set_name}({res.entity_id}) does not exist")
            return _json(found)
        next_base = f"{base}/{path.strip('/')}"
        return _json(reader.collection(conn, res.entity, res.where, opts, next_base, params))


@router.post(
    "/CreateObservations",
    dependencies=[allow(Role.device, Role.operator)],
    summary="Data Array extension: create many observations",
)
async def create_observations(
    request: Request, sensing: SensingDep, settings: SettingsDep, base: BaseUrl
) -> Response:
    principal = resolve_principal(request)
    body = await read_json(request, settings.max_body_bytes, per_row=True)
    groups = parse_data_array(body)
    device = principal.thing_id if principal.kind == "device" else None
    result, slots = await _run(lambda: sensing.ingest.ingest_data_array(groups, device_thing=device))
    prefix = f"{base}/Observations("
    answer: list[str] = []
    errors: list[dict[str, Any]] = []
    messages = {e.index: e.message for e in result.errors}
    for position, slot in enumerate(slots):
        if isinstance(slot, str):
            answer.append("error")
            errors.append({"row": position, "message": slot})
            continue
        oid = result.ids[slot]
        if oid is None:
            answer.append("error")
            errors.append({"row": position, "message": messages.get(slot, "rejected")})
        else:
            answer.append(f"{prefix}{oid})")
    headers = {}
    if errors:
        errors.sort(key=lambda e: e["row"])
        log.warning(
            "CreateObservations rows rejected",
            rejected=len(errors),
            first=[{"row": e["row"], "message": _cut(e["message"])} for e in errors[:5]],
            who=principal.name,
        )
        # The standard answers "error" per failed row; the reasons ride in a header so standard clients
        # are unaffected and ours can show them. A header is Latin-1: the JSON is ASCII-escaped (a
        # message quoting Korean text was a 500 after the good rows were stored, issue 13), and each
        # message is cut, so a row quoting a huge value cannot make the header too large.
        shown = [{"row": e["row"], "message": _cut(e["message"])} for e in errors[:20]]
        headers[ROW_ERRORS_HEADER] = json.dumps({"count": len(errors), "errors": shown}, ensure_ascii=True)
    return _json(answer, 201, headers)


def _cut(message: str, limit: int = 300) -> str:
    return message if len(message) <= limit else message[:limit] + "…"


async def _run(fn: Callable[[], T]) -> T:
    """Store work runs in the thread pool: it blocks, and the event loop must keep serving."""
    return await run_in_threadpool(fn)


def _check_device_may(principal: Principal, entity_name: str) -> None:
    if principal.kind == "device" and entity_name != "Observation":
        raise Forbidden("a device key may only create Observations; ask an operator to change other entities")


@router.post(
    "/{path:path}", dependencies=[allow(Role.device, Role.operator)], summary="Create an entity (deep insert)"
)
async def create(
    path: str, request: Request, sensing: SensingDep, settings: SettingsDep, base: BaseUrl
) -> Response:
    principal = resolve_principal(request)
    body = await read_json(request, settings.max_body_bytes)

    def work() -> tuple[int | None, Any]:
        def tx(conn: Any, writer: Any) -> tuple[int | None, Any]:
            res = resolve(conn, path)
            if res.prop is not None or (res.entity_id is not None and not res.ref):
                raise BadRequest("POST goes to a collection, e.g. /Things or /Things(1)/Datastreams")
            if res.ref:
                if res.parent is None:
                    raise BadRequest("$ref POST needs a navigation, e.g. /Things(1)/Locations/$ref")
                _check_device_may(principal, "Link")
                pentity, pid, nav = res.parent
                writer.add_ref(conn, pentity, pid, nav, body)
                return None, None
            _check_device_may(principal, res.entity.name)
            if principal.kind == "device":
                _device_body_check(conn, sensing, principal, res, body)
            parent = (res.parent[2], res.parent[1]) if res.parent else None
            return writer.create(conn, res.entity, body, "", parent), res.entity

        return sensing.write(tx)  # type: ignore[no-any-return]

    new_id, entity = await _run(work)
    if new_id is None:
        return Response(status_code=204)
    link = self_link(base, entity, new_id)
    with sensing.store.engine.connect() as conn:
        created = Reader(sensing.store, base, 1).one(conn, entity, new_id, parse_options({}, entity))
    return _json(created, 201, {"Location": link})


def _device_body_check(conn: Any, sensing: Sensing, principal: Principal, res: Any, body: Any) -> None:
    """A device may add observations only to the streams of its own Thing, and may not deep-insert."""
    if not isinstance(body, dict):
        return
    for kind in (DATASTREAM, MULTI_DATASTREAM, "FeatureOfInterest"):
        ref = body.get(kind)
        if isinstance(ref, dict) and "@iot.id" not in ref:
            raise Forbidden(f"{kind}: a device key may only refer to existing entities by @iot.id")
    stream = None
    if res.parent is not None:
        pentity, pid, _ = res.parent
        if pentity.name in (DATASTREAM, MULTI_DATASTREAM):
            stream = (pentity.name, pid)
    for kind in (DATASTREAM, MULTI_DATASTREAM):
        ref = body.get(kind)
        if isinstance(ref, dict) and isinstance(ref.get("@iot.id"), int):
            stream = (kind, ref["@iot.id"])
    if stream is not None:
        info = sensing.ingest.stream(conn, stream[0], stream[1])
        if info is not None and info.thing_id != principal.thing_id:
            raise Forbidden(
                f"{stream[0]}: {stream[0]}({stream[1]}) belongs to Thing({info.thing_id}); "
                f"this device key is for Thing({principal.thing_id})"
            )


async def _update(path: str, request: Request, sensing: Sensing, settings: Settings, base: str) -> Response:
    body = await read_json(request, settings.max_body_bytes)
    json_patch = request.headers.get("content-type", "").startswith("application/json-patch+json")

    def tx(conn: Any, writer: Any) -> Any:
        res = resolve(conn, path)
        if res.entity_id is None or res.prop is not None or res.ref:
            raise BadRequest("PATCH goes to one entity, e.g. /Things(1)")
        changes = body
        if json_patch:
            current = Reader(sensing.store, "", 1).one(
                conn, res.entity, res.entity_id, parse_options({}, res.entity)
            )
            changes = _apply_json_patch(current or {}, body)
        writer.patch(conn, res.entity, res.entity_id, changes)
        return res

    res = await _run(lambda: sensing.write(tx))
    with sensing.store.engine.connect() as conn:
        updated = Reader(sensing.store, base, 1).one(
            conn, res.entity, res.entity_id, parse_options({}, res.entity)
        )
    return _json(updated)


def _apply_json_patch(current: dict[str, Any], operations: Any) -> dict[str, Any]:
    """SensorThings 1.1 allows JSON Patch (RFC 6902, FROST's clients use it): apply it to the entity's
    JSON and keep the top-level properties it changed, for the ordinary update path."""
    import jsonpatch

    if not isinstance(operations, list):
        raise BadRequest("body: a JSON Patch is an array of operations", where="body")
    try:
        patched = jsonpatch.apply_patch(current, operations)
    except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException, TypeError, KeyError) as e:
        raise BadRequest(f"body: the JSON Patch cannot be applied: {e}", where="body") from None
    return {k: v for k, v in patched.items() if current.get(k) != v and not k.startswith("@iot")}


@router.patch("/{path:path}", dependencies=[allow(Role.operator)], summary="Update an entity")
async def patch(
    path: str, request: Request, sensing: SensingDep, settings: SettingsDep, base: BaseUrl
) -> Response:
    return await _update(path, request, sensing, settings, base)


@router.put("/{path:path}", dependencies=[allow(Role.operator)], summary="Update an entity (as PATCH)")
async def put(
    path: str, request: Request, sensing: SensingDep, settings: SettingsDep, base: BaseUrl
) -> Response:
    return await _update(path, request, sensing, settings, base)


@router.delete("/{path:path}", dependencies=[allow(Role.operator)], summary="Delete an entity or a link")
async def remove(path: str, request: Request, sensing: SensingDep) -> Response:

    def tx(conn: Any, writer: Any) -> None:
        res = resolve(conn, path)
        if res.ref:
            if res.parent is None or res.entity_id is None:
                raise BadRequest("DELETE of a link names it, e.g. /Things(1)/Locations(2)/$ref")
            pentity, pid, nav = res.parent
            writer.remove_ref(conn, pentity, pid, nav, res.entity_id)
            return
        if res.entity_id is None or res.prop is not None:
            raise BadRequest("DELETE goes to one entity, e.g. /Things(1)")
        writer.delete(conn, res.entity, res.entity_id)

    await _run(lambda: sensing.write(tx))
    return Response(status_code=200)


__all__ = ["BY_SET", "router"]
