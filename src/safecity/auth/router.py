# SPDX-License-Identifier: Apache-2.0
"""``POST /auth/token``: the OAuth2 password flow. Every attempt, kept or refused, is audited.

``POST /auth/refresh``: a new token for the holder of a valid, unexpired one, with the user's roles as
they are now. The dashboard calls it before its token runs out, so an operator is never logged out in
the middle of an event; a deactivated account gets no new token, and an expired one is refused (tokens
are not revocable, so none lives past its own expiry without a refresh while it was valid).

``DELETE /auth/keys/{prefix}``: an administrator revokes a device API key."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from pydantic import BaseModel

from safecity.auth.access_log import access_log_of
from safecity.auth.deps import allow, client_of, refused_login, resolve_principal
from safecity.auth.model import Role
from safecity.auth.service import AuthService
from safecity.capability import provider
from safecity.core.errors import NotFound, SafecityError, Unauthorized

router = APIRouter(prefix="/auth", tags=["auth"])
AuthDep = Annotated[AuthService, Depends(provider(AuthService))]


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int


@router.post("/token", response_model=Token, dependencies=[allow(Role.public)])
def token(
    request: Request, auth: AuthDep, username: Annotated[str, Form()], password: Annotated[str, Form()]
) -> Token:
    """Exchange a username and password for a short-lived bearer token."""
    try:
        principal = auth.authenticate_user(username, password, client_of(request))
    except SafecityError as e:  # wrong (401), throttled (429) or no hash slot (503)
        refused_login(request, "auth.login_failed", username, e)
        raise
    if (log := access_log_of(request)) is not None:
        log.record(request, "auth.login", f"user:{principal.name}", "200", actor=principal)
    access, ttl = auth.issue_token(principal)
    return Token(access_token=access, expires_in=ttl)


@router.post("/refresh", response_model=Token, dependencies=[allow(Role.public)])
def refresh(request: Request, auth: AuthDep) -> Token:
    """Exchange a valid bearer token for a fresh one (the same user, its current roles)."""
    header = request.headers.get("authorization", "")
    if not header.lower().startswith("bearer "):
        raise Unauthorized("Authorization: send the bearer token to refresh (POST /auth/token gives one)")
    principal = resolve_principal(request)
    if principal.kind != "user":
        raise Unauthorized("only a user's token can be refreshed")
    current = auth.current_user(principal.name)
    access, ttl = auth.issue_token(current)
    return Token(access_token=access, expires_in=ttl)


class Revoked(BaseModel):
    revoked: int


@router.delete("/keys/{key_prefix}", response_model=Revoked, dependencies=[allow(Role.admin)])
def revoke_key(request: Request, auth: AuthDep, key_prefix: str) -> Revoked:
    """Revoke a device API key, named by its first 12 characters (or the whole key). It stops working
    over HTTP and MQTT at once here and within 2 s in every other process."""
    n = auth.revoke_api_key(key_prefix)
    if n == 0:
        raise NotFound(
            f"no live API key starts with {key_prefix[:12]}",
            where="key_prefix",
            message_ko=f"{key_prefix[:12]}(으)로 시작하는 유효한 API 키가 없습니다",
        )
    if (log := access_log_of(request)) is not None:
        log.record(request, "auth.key_revoked", f"key:{key_prefix[:12]}", "200")
    return Revoked(revoked=n)
