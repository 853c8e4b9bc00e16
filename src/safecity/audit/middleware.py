# SPDX-License-Identifier: Apache-2.0
"""Audit every write request (POST, PUT, PATCH, DELETE), answered or refused.

A pure ASGI middleware around the application's routes, so it sees the final status of every write,
including the 401/403 of a guard and the 400 of a bad body. It sits inside the hygiene middlewares
(request id, security headers, CORS, rate limit, body limit, time budget): a request they turn away
(429, 413) never reaches it. Those refusals are cheap on purpose, and writing an entry for each would
let a flood write to the store; they are counted in the request metrics instead. A request cut off by
the time budget is recorded with the outcome ``cancelled`` (its client was answered 503; a handler in
the thread pool may still have finished the write). Who called is the principal
the route's guard resolved (kept on the request state); when no guard ran (no such route, credentials
refused) the middleware names the caller from the credentials without checking a password again.

Device requests (observations from a Thing's API key) are queued for the audit log's background
writer, which appends them in one transaction per second instead of one per request; everything else
is appended before the response is finished, in a worker thread so the event loop does not wait on
the store.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import anyio
import anyio.to_thread
import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from safecity.audit.model import ActorKind, AuditEvent
from safecity.audit.service import AuditLog
from safecity.auth.model import Principal
from safecity.core.errors import SafecityError
from safecity.core.logging import get_logger

log = get_logger(__name__)

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: Written by their handlers with a more precise action (auth.login, auth.login_failed).
OWN_ENTRIES = frozenset({"/auth/token"})


class AuditMiddleware:
    def __init__(self, app: ASGIApp, audit: AuditLog, auth: Any) -> None:
        self.app = app
        self.audit = audit
        self.auth = auth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in WRITE_METHODS or scope["path"] in OWN_ENTRIES:
            await self.app(scope, receive, send)
            return
        # the guard stores the principal on this dict (Request.state); hold it to read it afterwards
        state: dict[str, Any] = scope.setdefault("state", {})
        status: int | str = 500  # if the application fails before it answers
        request_id: str | None = None

        async def watch(message: Message) -> None:
            nonlocal status, request_id
            if message["type"] == "http.response.start":
                status = int(message["status"])
                for k, v in message.get("headers", []):
                    if k == b"x-request-id":
                        request_id = v.decode("latin-1")
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except anyio.get_cancelled_exc_class():
            status = "cancelled"
            raise
        finally:
            principal = state.get("principal")
            if isinstance(principal, Principal) and principal.kind == ActorKind.device:
                self.audit.defer(self._event(scope, state, status, request_id))
            else:
                # shielded: a request cancelled by its time budget is still recorded
                with anyio.CancelScope(shield=True):
                    # naming a caller no guard resolved may need the store (a key not yet cached)
                    await anyio.to_thread.run_sync(self._record, scope, state, status, request_id)

    def _record(self, scope: Scope, state: dict[str, Any], status: int | str, request_id: str | None) -> None:
        try:
            self.audit.record(self._event(scope, state, status, request_id))
        except Exception:  # the middleware's boundary: the request was served; say loudly it is unaudited
            log.exception("could not write the audit entry", method=scope["method"], path=scope["path"])

    def _event(
        self, scope: Scope, state: dict[str, Any], status: int | str, request_id: str | None
    ) -> AuditEvent:
        principal = state.get("principal")
        actor, kind = (
            (principal.name, principal.kind) if isinstance(principal, Principal) else self._claimed(scope)
        )
        path = scope.get("root_path", "") + scope["path"]
        client = scope.get("client")
        # a handler may add what the path does not say (e.g. whose personal data it changed)
        details: dict[str, Any] = dict(state.get("audit_details") or {})
        query = scope.get("query_string", b"")
        if query:
            details["query"] = query.decode("latin-1")[:500]
        return AuditEvent(
            action=f"http.{scope['method']}",
            target=path,
            actor=actor,
            actor_kind=kind,
            outcome=str(status),
            client=client[0] if client else None,
            request_id=request_id or structlog.contextvars.get_contextvars().get("request_id"),
            details=details,
        )

    def _claimed(self, scope: Scope) -> tuple[str, str]:
        """Who the credentials say the caller is, when no guard resolved them (never checks a password)."""
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers", [])}
        key = headers.get("x-api-key")
        auth = headers.get("authorization", "")
        try:
            if key:
                p = self.auth.authenticate_key(key)
                return p.name, p.kind
            if auth.lower().startswith("bearer "):
                p = self.auth.verify_token(auth[7:].strip())
                return p.name, p.kind
        except SafecityError:
            return "(invalid credentials)", ActorKind.rejected
        if auth.lower().startswith("basic "):
            try:
                user = base64.b64decode(auth[6:].strip()).decode().partition(":")[0]
            except (binascii.Error, UnicodeDecodeError):
                user = "(invalid credentials)"
            # a password was not checked here, so the name is only what the caller claimed
            return user[:64] or "(invalid credentials)", ActorKind.rejected
        return "anonymous", ActorKind.anonymous
