# SPDX-License-Identifier: Apache-2.0
"""``/alerts``: CAP 1.2 alerts. Issued alerts are public (the Atom feed, each alert's CAP XML and JSON, the
public change stream); drafts, approval, rejection and imports are for the situation room.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, RootModel

from safecity.auth.deps import allow, resolve_principal
from safecity.auth.model import Principal, Role
from safecity.capability import SettingsDep, provider
from safecity.core.errors import BadRequest, NotFound
from safecity.warning.atom import FeedEntry, render_feed
from safecity.warning.channels.sse import AlertStream
from safecity.warning.delivery import Delivery
from safecity.warning.model import AlertSummary
from safecity.warning.service import Warnings
from safecity.warning.targeted import TargetedAlerts

router = APIRouter(tags=["warning"])

Identifier = Annotated[str, Path(min_length=1, max_length=200, pattern=r"^[^\s,<&]+$")]
CAP_XML = "application/cap+xml"
HEARTBEAT_S = 15.0


WarningsDep = Annotated[Warnings, Depends(provider(Warnings))]
TargetedDep = Annotated[TargetedAlerts, Depends(provider(TargetedAlerts))]


def _json(data: dict[str, Any] | list[Any], status: int = 200) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type="application/json")


def _base(request: Request, settings: SettingsDep) -> str:
    return (settings.public_url or str(request.base_url)).rstrip("/")


class TextEdits(BaseModel):
    model_config = ConfigDict(extra="forbid")
    headline: str | None = Field(None, min_length=1, max_length=500)
    description: str | None = Field(None, min_length=1, max_length=10_000)
    instruction: str | None = Field(None, min_length=1, max_length=10_000)
    #: the cell-broadcast text, when the operator writes it instead of the rendered one (warning.cb.max_chars)
    short: str | None = Field(None, min_length=1, max_length=1000)


class AlertEdits(RootModel[dict[str, TextEdits]]):
    """Changes to a draft's texts, per language: ``{"ko": {"instruction": ...}, "en": {...}}``."""

    def changes(self) -> dict[str, dict[str, str]]:
        out = {}
        for lang, edits in self.root.items():
            fields = {k: v for k, v in edits.model_dump().items() if v is not None}
            if fields:
                out[lang] = fields
        return out


class Rejection(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=2000)


@router.get(
    "/alerts", dependencies=[allow(Role.operator)], summary="Alerts: drafts, issued, rejected, imported"
)
def list_alerts(
    warnings: WarningsDep,
    state: Annotated[str | None, Query(pattern="^(draft|issued|rejected|superseded)$")] = None,
    origin: Annotated[str | None, Query(pattern="^(platform|import)$")] = None,
    district: Annotated[str | None, Query(max_length=10)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Response:
    found = warnings.list(state=state, origin=origin, district=district, limit=limit)
    return _json({"numberReturned": len(found), "alerts": [a.to_json() for a in found]})


@router.get(
    "/alerts/feed.atom",
    dependencies=[allow(Role.public)],
    summary="Atom feed of issued alerts (all, or ?district=<code> for one area); entries link to CAP XML",
    response_class=Response,
)
def feed(
    warnings: WarningsDep,
    base: Annotated[str, Depends(_base)],
    settings: SettingsDep,
    # a district code is digits; anything else would end up inside the feed's XML (fuzzing found \x00)
    district: Annotated[str | None, Query(pattern=r"^[0-9]{2,10}$")] = None,
) -> Response:
    alerts = warnings.list(state="issued", origin="platform", district=district, limit=200)
    entries = []
    for a in alerts:
        headlines = a.headlines
        entries.append(
            FeedEntry(
                identifier=a.identifier,
                title=" / ".join(h for h in (headlines.get("ko"), headlines.get("en")) if h) or a.identifier,
                updated=a.sent or a.created_at,  # issued alerts have been sent
                summary=f"{a.msg_type} · {a.severity} · {a.urgency}",
                author=a.sender,
                cap_url=f"{base}/alerts/{a.identifier}.xml",
                category=a.msg_type,
            )
        )
    updated = max((e.updated for e in entries), default=datetime(2026, 1, 1, tzinfo=UTC))
    suffix = f"?district={district}" if district else ""
    body = render_feed(
        entries,
        feed_id=f"{base}/alerts/feed.atom{suffix}",
        title_ko="safecity 재난 경보" + (f" ({district})" if district else ""),
        title_en="safecity alerts" + (f" ({district})" if district else ""),
        self_url=f"{base}/alerts/feed.atom{suffix}",
        updated=updated,
        author=settings.warning.sender,
    )
    return Response(body, media_type="application/atom+xml")


@router.get(
    "/alerts/current",
    dependencies=[allow(Role.public)],
    summary="Warnings in force for a place (lon,lat or a district code), in a language, with the action "
    "guide for a profile (the citizen page)",
)
def current(
    warnings: WarningsDep,
    lon: Annotated[float | None, Query(ge=-180, le=180)] = None,
    lat: Annotated[float | None, Query(ge=-90, le=90)] = None,
    district: Annotated[str | None, Query(pattern=r"^([0-9]{5}|[0-9]{10})$")] = None,  # district or dong
    lang: Annotated[str, Query(pattern=r"^[a-z]{2,3}$")] = "ko",
    audience: Annotated[
        str, Query(pattern="^(general|elderly|children_parents|disability|foreigner)$")
    ] = "general",
) -> Response:
    if (lon is None) != (lat is None):
        raise BadRequest("give both lon and lat (or a district code)", where="lon" if lon is None else "lat")
    if lon is None and district is None:
        raise BadRequest("say where: lon and lat, or district (e.g. 11590)", where="lon")
    found = warnings.current(lon=lon, lat=lat, district=district, lang=lang, audience=audience)
    return _json({"warnings": [w.to_json() for w in found]})


@router.get(
    "/alerts/stream",
    dependencies=[allow(Role.public)],
    summary="Issued alerts as Server-Sent Events (for the citizen page and other web clients)",
    response_class=StreamingResponse,
)
async def stream(
    request: Request, broadcaster: Annotated[AlertStream, Depends(provider(AlertStream))]
) -> StreamingResponse:
    last = request.headers.get("last-event-id")
    client, missed = broadcaster.subscribe(int(last) if last and last.isdigit() else None)

    async def events() -> AsyncIterator[bytes]:
        try:
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
                if change is None:
                    return
                yield change.frame()
        finally:
            broadcaster.unsubscribe(client)

    return StreamingResponse(events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})


@router.post(
    "/alerts/import",
    dependencies=[allow(Role.operator)],
    summary="Import a CAP 1.2 alert of another agency (XML body); shown on the situation board",
    openapi_extra={"requestBody": {"content": {CAP_XML: {"schema": {"type": "string"}}}}},
)
async def import_alert(request: Request, warnings: WarningsDep) -> Response:
    body = await request.body()
    if not body.strip():
        raise BadRequest("send a CAP 1.2 alert as XML", where="body")
    principal: Principal = request.state.principal
    found = await asyncio.to_thread(warnings.import_cap, body, principal.name)
    return _json({"imported": [a.to_json() for a in found]}, 201)


def _visible(request: Request, alert: AlertSummary) -> None:
    """Issued and imported alerts are public; drafts and rejected ones only for the situation room."""
    if alert.state == "issued":
        return
    principal = resolve_principal(request)
    if not principal.has_any(frozenset({Role.operator})):
        raise NotFound(f"no alert {alert.identifier!r}", where="identifier")


@router.get(
    "/alerts/{identifier}.xml",
    dependencies=[allow(Role.public)],
    summary="An alert as CAP 1.2 XML",
    response_class=Response,
)
def alert_xml(request: Request, warnings: WarningsDep, identifier: Identifier) -> Response:
    _visible(request, warnings.get(identifier))
    return Response(warnings.xml(identifier), media_type=CAP_XML)


@router.get("/alerts/{identifier}.json", dependencies=[allow(Role.public)], summary="An alert as CAP JSON")
def alert_json(request: Request, warnings: WarningsDep, identifier: Identifier) -> Response:
    alert = warnings.get(identifier)
    _visible(request, alert)
    return _json(alert.cap)


@router.get(
    "/alerts/{identifier}",
    dependencies=[allow(Role.operator)],
    summary="An alert with its state and approval log",
)
def alert(warnings: WarningsDep, identifier: Identifier) -> Response:
    return _json(warnings.get(identifier).to_json())


@router.patch("/alerts/{identifier}", dependencies=[allow(Role.operator)], summary="Edit a draft's texts")
def edit(request: Request, warnings: WarningsDep, identifier: Identifier, body: AlertEdits) -> Response:
    principal: Principal = request.state.principal
    return _json(warnings.edit(identifier, body.changes(), principal.name).to_json())


@router.post(
    "/alerts/{identifier}/approve",
    dependencies=[allow(Role.operator)],
    summary="Approve a draft (optionally with edits) and issue it",
)
async def approve(
    request: Request, warnings: WarningsDep, identifier: Identifier, body: AlertEdits | None = None
) -> Response:
    principal: Principal = request.state.principal
    if body is not None and body.changes():
        await asyncio.to_thread(warnings.edit, identifier, body.changes(), principal.name)
    issued = await asyncio.to_thread(warnings.issue, identifier, principal.name)
    return _json(issued.to_json())


@router.post(
    "/alerts/{identifier}/check",
    dependencies=[allow(Role.operator)],
    summary="Check a draft's texts with edits (nothing saved): short texts, problems, ko/en disagreements",
)
def check(warnings: WarningsDep, identifier: Identifier, body: AlertEdits | None = None) -> Response:
    return _json(warnings.preview(identifier, body.changes() if body else {}).to_json())


@router.post("/alerts/{identifier}/reject", dependencies=[allow(Role.operator)], summary="Reject a draft")
def reject(request: Request, warnings: WarningsDep, identifier: Identifier, body: Rejection) -> Response:
    principal: Principal = request.state.principal
    return _json(warnings.reject(identifier, principal.name, body.reason).to_json())


class Cancellation(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=2000)


@router.post(
    "/alerts/{identifier}/cancel",
    dependencies=[allow(Role.operator)],
    summary="Cancel an issued alert: issue a CAP Cancel referencing it, with the reason as its note",
)
def cancel(
    request: Request, warnings: WarningsDep, targeted: TargetedDep, identifier: Identifier, body: Cancellation
) -> Response:
    principal: Principal = request.state.principal
    if targeted.owns(identifier) is not None:  # a warning aimed at places at risk (no incident)
        return _json(warnings.get(targeted.cancel(identifier, principal.name, body.reason)).to_json())
    return _json(warnings.cancel(identifier, principal.name, body.reason).to_json())


@router.get(
    "/alerts/{identifier}/deliveries",
    dependencies=[allow(Role.operator)],
    summary="How an alert's deliveries stand, per channel and status (counts only, no addresses)",
)
def deliveries(
    warnings: WarningsDep, identifier: Identifier, delivery: Annotated[Delivery, Depends(provider(Delivery))]
) -> Response:
    warnings.get(identifier)  # 404 naming the alert when there is none
    stats = delivery.stats(identifier)
    return _json(
        {
            "identifier": identifier,
            "channels": stats.counts,
            "total": dict(stats.by_status()),
            "oldestDue": stats.oldest_due.isoformat() if stats.oldest_due else None,
        }
    )
