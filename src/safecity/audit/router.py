# SPDX-License-Identifier: Apache-2.0
"""``GET /audit``: administrators search the audit log (newest first). Each search is itself audited."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Request, Response
from pydantic import AwareDatetime

from safecity.audit.record import audit_of, record
from safecity.audit.service import MAX_PAGE
from safecity.auth.deps import allow
from safecity.auth.model import Role
from safecity.core.errors import MAX_ID, NotFound

router = APIRouter(tags=["audit"])


@router.get(
    "/audit",
    dependencies=[allow(Role.admin)],
    summary="Search the audit log (administrators) / 감사 기록 검색 (관리자)",
)
def search(
    request: Request,
    actor: Annotated[str | None, Query(max_length=200, description="exact principal name")] = None,
    action: Annotated[str | None, Query(max_length=100, description="e.g. http.POST, auth.login")] = None,
    target: Annotated[
        str | None, Query(max_length=500, description="target prefix, e.g. /sta/v1.1/Things")
    ] = None,
    since: Annotated[
        AwareDatetime | None, Query(description="from this time (inclusive, ISO 8601 with zone)")
    ] = None,
    until: Annotated[AwareDatetime | None, Query(description="before this time (ISO 8601 with zone)")] = None,
    before: Annotated[int | None, Query(ge=1, le=MAX_ID, description="page: entries before this seq")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
) -> Response:
    audit = audit_of(request)
    if audit is None:
        raise NotFound("this server keeps no audit log", message_ko="이 서버에는 감사 기록이 없습니다")
    filters: dict[str, Any] = {
        k: v
        for k, v in {
            "actor": actor,
            "action": action,
            "target": target,
            "since": since.isoformat() if since else None,
            "until": until.isoformat() if until else None,
            "before": before,
            "limit": limit,
        }.items()
        if v is not None
    }
    # written first: reading the log is recorded even if the read then fails
    record(request, "audit.read", "/audit", "200", details=filters)
    entries = audit.search(
        actor=actor,
        action=action,
        target_prefix=target,
        since=since,
        until=until,
        before_seq=before,
        limit=limit,
    )
    body: dict[str, Any] = {"entries": [e.public() for e in entries]}
    if len(entries) == limit:
        body["next"] = entries[-1].seq  # pass as ?before= for the next page
    return Response(orjson.dumps(body), media_type="application/json")
