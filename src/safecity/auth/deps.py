# SPDX-License-Identifier: Apache-2.0
"""Route guards. Every route declares who may call it with ``dependencies=[allow(...)]``.

``allow`` returns a FastAPI dependency that carries its roles (``.roles``), so a test can walk the
application's routes (:func:`app_routes`) and prove that none was left without a declaration.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from fastapi import Depends, Request

from safecity.auth.access_log import access_log_of
from safecity.auth.model import ANONYMOUS, Principal, Role
from safecity.auth.service import AuthService
from safecity.capability import provider
from safecity.core.errors import Forbidden, SafecityError, Unauthorized


def _auth_service(request: Request) -> AuthService:
    # called from other dependencies and middleware (not only as a route's Depends), hence the call
    return provider(AuthService)(request)


def client_of(request: Request) -> str | None:
    """The caller's address, as the server resolved it (proxy headers only from trusted proxies)."""
    return request.client.host if request.client else None


def refused_login(request: Request, action: str, claimed: str, error: SafecityError) -> None:
    """Audit a refused password (queued: a flood of guesses must not become a flood of commits).
    The name as given (bounded), never the password."""
    log = access_log_of(request)
    if log is not None:
        log.refused(request, action, claimed[:64], str(error.status))


def resolve_principal(request: Request) -> Principal:
    """The caller, from a Bearer token, an X-API-Key header or HTTP Basic credentials."""
    cached = getattr(request.state, "principal", None)
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    auth = _auth_service(request)
    principal = ANONYMOUS
    header = request.headers.get("authorization", "")
    key = request.headers.get("x-api-key")
    if key:
        principal = auth.authenticate_key(key)
    elif header.lower().startswith("bearer "):
        principal = auth.verify_token(header[7:].strip())
    elif header.lower().startswith("basic "):
        try:
            user, _, password = base64.b64decode(header[6:].strip()).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise Unauthorized(
                "Authorization: Basic credentials are not valid base64 'user:password'"
            ) from None
        # SensorThings clients (FROST's way) send a device's key as the Basic password.
        if password.startswith("sck_"):
            principal = auth.authenticate_key(password)
        elif password.startswith("trk_"):
            # a tracker's key (safecity.care): OwnTracks sends it as the Basic password; the tracking
            # route checks it itself, so the caller stays anonymous here
            pass
        else:
            try:
                principal = auth.authenticate_user(user, password, client_of(request))
            except SafecityError as e:  # wrong, throttled or busy: every refused guess is audited
                refused_login(request, "auth.basic_failed", user, e)
                raise
    request.state.principal = principal
    return principal


class Allow:
    """Dependency that admits callers holding any of ``roles`` (admin always passes)."""

    def __init__(self, roles: frozenset[Role]) -> None:
        self.roles = roles

    def __call__(self, request: Request) -> Principal:
        principal = resolve_principal(request)
        if principal.has_any(self.roles):
            return principal
        if not principal.authenticated:
            raise Unauthorized(
                "this needs credentials: a bearer token (POST /auth/token), an X-API-Key or HTTP Basic",
                details={"allowed_roles": sorted(self.roles)},
            )
        raise Forbidden(
            f"{principal.name} may not do this; allowed roles: {', '.join(sorted(self.roles))}",
            details={"allowed_roles": sorted(self.roles)},
        )


def allow(*roles: Role) -> Any:
    """``dependencies=[allow(Role.operator)]`` on a route."""
    return Depends(Allow(frozenset(roles)))


def route_roles(route: Any) -> frozenset[Role] | None:
    """The roles a route declared, or None when it declared none."""
    for dep in getattr(route, "dependencies", []) or []:
        if isinstance(dep.dependency, Allow):
            return dep.dependency.roles
    return None


def app_routes(app: Any) -> list[Any]:
    """Every route the application answers, with its effective path, methods and dependencies.

    FastAPI 0.165 (the locked version) keeps an included router as one entry of ``app.routes``:
    walking ``app.routes`` alone sees the application's own routes and misses every router's. Older
    versions copied the routes into ``app.routes``, which is then the whole list.
    """
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # FastAPI before lazy includes
        return list(app.routes)
    return list(iter_route_contexts(app.routes))
