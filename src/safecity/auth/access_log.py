# SPDX-License-Identifier: Apache-2.0
"""What identity needs of an audit log, as a small protocol: auth sits below audit in the layers, so it
cannot import the log; the audit capability registers its implementation by this type in the
platform's services (``safecity.audit.record.RequestAudit``), and auth finds it there per request."""

from __future__ import annotations

from typing import Protocol

from fastapi import Request

from safecity.auth.model import Principal
from safecity.capability import Services


class AccessLog(Protocol):
    def record(
        self,
        request: Request,
        action: str,
        target: str,
        outcome: str,
        *,
        actor: Principal | None = None,
    ) -> None:
        """Append an entry for this request now (a login, a revoked key); ``actor`` when the request's
        principal is not the one who acted (a login names the user it authenticated)."""

    def refused(self, request: Request, action: str, claimed: str, outcome: str) -> None:
        """Queue an entry for refused credentials: the name as given (bounded), never the password.
        Queued, so a flood of guesses does not become a flood of commits."""


def access_log_of(request: Request) -> AccessLog | None:
    """The platform's access log, or None in an application built without the audit capability."""
    services: Services | None = getattr(request.app.state, "services", None)
    if services is None or AccessLog not in services:
        return None
    return services.get(AccessLog)  # type: ignore[type-abstract]
