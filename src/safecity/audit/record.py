# SPDX-License-Identifier: Apache-2.0
"""Audit entries written from inside a request handler (a login, a read of personal data)."""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import Request

from safecity.audit.model import ActorKind, AuditEvent
from safecity.audit.service import AuditLog
from safecity.auth.model import Principal
from safecity.core.logging import current_request_id, get_logger

log = get_logger(__name__)


def audit_of(request: Request) -> AuditLog | None:
    """The application's audit log (None in an application built without one)."""
    return getattr(request.app.state, "audit", None)


class RequestAudit:
    """The audit log as auth's :class:`~safecity.auth.access_log.AccessLog` (auth cannot import audit)."""

    def __init__(self, audit: AuditLog) -> None:
        self.audit = audit

    def record(
        self, request: Request, action: str, target: str, outcome: str, *, actor: Principal | None = None
    ) -> None:
        record(request, action, target, outcome, actor=actor)

    def refused(self, request: Request, action: str, claimed: str, outcome: str) -> None:
        self.audit.defer(
            AuditEvent(
                action=action,
                target=f"user:{claimed}",
                actor=claimed,
                actor_kind=ActorKind.rejected,
                outcome=outcome,
                client=request.client.host if request.client else None,
                request_id=current_request_id(),
            )
        )


def record(
    request: Request,
    action: str,
    target: str,
    outcome: str,
    *,
    actor: Principal | None = None,
    claimed: str | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Append an entry for this request now. ``claimed``: a name given with refused credentials."""
    audit = audit_of(request)
    if audit is None:
        return
    if actor is not None:
        name, kind = actor.name, actor.kind
    elif claimed is not None:
        name, kind = claimed, ActorKind.rejected
    else:
        principal = getattr(request.state, "principal", None)
        name, kind = (principal.name, principal.kind) if principal else ("anonymous", ActorKind.anonymous)
    audit.record(
        AuditEvent(
            action=action,
            target=target,
            actor=name,
            actor_kind=kind,
            outcome=outcome,
            client=request.client.host if request.client else None,
            request_id=structlog.contextvars.get_contextvars().get("request_id"),
            details=details or {},
        )
    )
