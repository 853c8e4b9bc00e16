# SPDX-License-Identifier: Apache-2.0
"""``/situation``: the integrated board, its change stream (Server-Sent Events), the derived series, and
the rules (list, versions, edit, reload).

The board is for the situation room (operators); editing rules is for administrators. Incidents have
their own routes (incident_router).
"""

from __future__ import annotations

import asyncio
import tomllib
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.responses import StreamingResponse

from safecity.auth.deps import allow
from safecity.auth.model import Principal, Role
from safecity.capability import ClockDep, SettingsDep, StoreDep, provider
from safecity.core.errors import BadRequest
from safecity.sensing.health import stream_health
from safecity.situation import official
from safecity.situation.board import UnreadStream
from safecity.situation.service import Situation

router = APIRouter(tags=["situation"])

RuleId = Annotated[str, Path(min_length=1, max_length=100, pattern=r"^[a-z0-9][a-z0-9_.\-]*$")]
#: A comment line every so often keeps proxies from closing an idle stream.
HEARTBEAT_S = 15.0


SituationDep = Annotated[Situation, Depends(provider(Situation))]


def _json(data: dict[str, Any] | list[Any], status: int = 200) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type="application/json")


@router.get(
    "/situation/official",
    dependencies=[allow(Role.operator)],
    summary="The official crisis alert levels (위기경보) in force, as people declared them",
)
def official_levels(store: StoreDep) -> Response:
    with store.engine.connect() as conn:
        return _json(
            {
                "official": official.in_force(conn),
                "labelKo": official.OFFICIAL_LEVEL["ko"],
                "labelEn": official.OFFICIAL_LEVEL["en"],
            }
        )


@router.put(
    "/situation/official",
    dependencies=[allow(Role.operator)],
    summary="Declare (or lift, level 0) the official crisis alert level (위기경보) of a hazard, city-wide or "
    "for one district or dong; the platform's computed risk level is unchanged and shown beside it",
)
def declare_official(
    request: Request, store: StoreDep, clock: ClockDep, body: official.OfficialIn
) -> Response:
    principal: Principal = request.state.principal
    with store.write() as conn:
        official.declare(conn, body, principal.name, clock.now())
    with store.engine.connect() as conn:
        return _json({"official": official.in_force(conn)})


@router.get(
    "/situation",
    dependencies=[allow(Role.operator)],
    summary="The situation board: crisis level per district and hazard, open incidents, active conditions, "
    "sensor health",
)
def board(situation: SituationDep, settings: SettingsDep) -> Response:
    with situation.store.engine.connect() as conn:
        streams = stream_health(conn, situation.catalogue, situation.clock.now(), settings.stale_intervals)
    counts: dict[str, int] = {"total": len(streams)}
    for s in streams:
        counts[s.state] = counts.get(s.state, 0) + 1
    # a city's own sensors the rules do not read yet (map their property: POST /sensing/catalogue/mappings)
    unread = [
        UnreadStream(i.datastream_id, i.name, i.thing_name, i.property) for i in situation.unread_streams()
    ]
    return _json(replace(situation.board(counts), unread_streams=unread).to_json())


@router.get(
    "/situation/stream",
    dependencies=[allow(Role.operator)],
    summary="Changes to the situation as Server-Sent Events (condition, incident and level changes)",
    response_class=StreamingResponse,
)
async def stream(request: Request, situation: SituationDep) -> StreamingResponse:
    last = request.headers.get("last-event-id")
    last_id = int(last) if last and last.isdigit() else None
    client, missed = situation.broadcast.subscribe(last_id)

    async def events() -> AsyncIterator[bytes]:
        try:
            # the first frame tells the client the stream is live (and how long to wait to reconnect)
            yield b"retry: 2000\n: connected\n\n"
            for old in missed:
                yield old.frame()
            while True:
                try:
                    change = await asyncio.wait_for(client.queue.get(), HEARTBEAT_S)
                except TimeoutError:
                    if await request.is_disconnected():
                        return
                    yield b": keep-alive\n\n"
                    continue
                if change is None:  # cut off for falling behind; it reconnects with Last-Event-ID
                    return
                yield change.frame()
        finally:
            situation.broadcast.unsubscribe(client)

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.get(
    "/situation/derived",
    dependencies=[allow(Role.operator)],
    summary="Derived series: rainfall accumulations per gauge and district, daily maximum apparent "
    "temperature, river level trends",
)
def derived(situation: SituationDep) -> Response:
    return _json(situation.derived())


@router.get(
    "/situation/thresholds",
    dependencies=[allow(Role.operator)],
    summary="The thresholds the rules apply to a datastream, per level (for the sensor chart)",
)
def thresholds(
    situation: SituationDep,
    datastream: Annotated[int, Query(ge=1, le=2**63 - 1, description="Datastream id")],
) -> Response:
    return _json(situation.thresholds(datastream))


@router.get("/situation/rules", dependencies=[allow(Role.operator)], summary="Loaded rules and load errors")
def rules(situation: SituationDep) -> Response:
    return _json(situation.rules_summary().to_json())


@router.post(
    "/situation/rules/reload",
    dependencies=[allow(Role.admin)],
    summary="Re-read the rule files and saved rules and apply them without a restart",
)
def reload(situation: SituationDep) -> Response:
    return _json(situation.reload().to_json())


@router.get(
    "/situation/rules/{rule_id}", dependencies=[allow(Role.operator)], summary="A rule and its versions"
)
def rule(situation: SituationDep, rule_id: RuleId) -> Response:
    return _json(situation.rule(rule_id).to_json())


@router.put(
    "/situation/rules/{rule_id}",
    dependencies=[allow(Role.admin)],
    summary="Save a new version of a rule (JSON, or TOML with Content-Type application/toml)",
    openapi_extra={
        "requestBody": {
            "content": {
                "application/json": {"schema": {"type": "object"}},
                "application/toml": {"schema": {"type": "string"}},
            }
        }
    },
)
async def put_rule(request: Request, situation: SituationDep, rule_id: RuleId) -> Response:
    principal: Principal = request.state.principal
    raw = await request.body()
    body = _rule_body(raw, request.headers.get("content-type", ""))
    summary = await asyncio.to_thread(situation.save_rule, rule_id, body, principal.name)
    return _json({"rule": situation.rule(rule_id).to_json(), "rules": summary.to_json()})


@router.delete(
    "/situation/rules/{rule_id}",
    dependencies=[allow(Role.admin)],
    summary="Switch a rule off (a new, inactive version)",
)
def delete_rule(request: Request, situation: SituationDep, rule_id: RuleId) -> Response:
    principal: Principal = request.state.principal
    return _json(situation.delete_rule(rule_id, principal.name).to_json())


def _rule_body(raw: bytes, content_type: str) -> dict[str, Any]:
    if not raw.strip():
        raise BadRequest("send the rule as JSON (or TOML with Content-Type application/toml)", where="body")
    if "toml" in content_type:
        try:
            doc = tomllib.loads(raw.decode("utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
            raise BadRequest(f"not valid TOML: {e}", where="body") from None
        rules = doc.get("rule")
        if isinstance(rules, list):
            if len(rules) != 1:
                raise BadRequest("send one [[rule]] per request", where="rule")
            body = rules[0]
        else:
            body = doc
    else:
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError as e:
            raise BadRequest(f"not valid JSON: {e}", where="body") from None
    if not isinstance(body, dict):
        raise BadRequest("a rule is a JSON object", where="body")
    return body
