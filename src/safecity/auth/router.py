# SPDX-License-Identifier: Apache-2.0
"""``POST /auth/token``: the OAuth2 password flow. Every attempt, kept or refused, is audited.

``POST /auth/refresh``: a new token for the holder of a valid, unexpired one, with the user's roles as
they are now. The dashboard calls it before its token runs out, so an operator is never logged out in
the middle of an event; a deactivated account gets no new token, and an expired one is refused (tokens
are not revocable, so none lives past its own expiry without a refresh while it was valid)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from pydantic import BaseModel

from safecity.audit.record import record
from safecity.auth.deps import allow, resolve_principal
from safecity.auth.model import Role
from safecity.core.errors import Unauthorized

router = APIRouter(prefix="/auth", tags=["auth"])


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int


@router.post("/token", response_model=Token, dependencies=[allow(Role.public)])
def token(request: Request, username: Annotated[str, Form()], password: Annotated[str, Form()]) -> Token:
    """Exchange a username and password for a short-lived bearer token."""
    auth = request.app.state.auth
    try:
        principal = auth.authenticate_user(username, password)
    except Unauthorized:
        # the name as given (bounded), never the password
        record(request, "auth.login_failed", f"user:{username[:64]}", "401", claimed=username[:64])
        raise
    record(request, "auth.login", f"user:{principal.name}", "200", actor=principal)
    access, ttl = auth.issue_token(principal)
    return Token(access_token=access, expires_in=ttl)


@router.post("/refresh", response_model=Token, dependencies=[allow(Role.public)])
def refresh(request: Request) -> Token:
    """Exchange a valid bearer token for a fresh one (the same user, its current roles)."""
    header = request.headers.get("authorization", "")
    if not header.lower().startswith("bearer "):
        raise Unauthorized("Authorization: send the bearer token to refresh (POST /auth/token gives one)")
    principal = resolve_principal(request)
    if principal.kind != "user":
        raise Unauthorized("only a user's token can be refreshed")
    auth = request.app.state.auth
    current = auth.current_user(principal.name)
    access, ttl = auth.issue_token(current)
    return Token(access_token=access, expires_in=ttl)
