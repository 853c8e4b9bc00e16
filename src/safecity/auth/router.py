# SPDX-License-Identifier: Apache-2.0
"""``POST /auth/token``: the OAuth2 password flow. Every attempt, kept or refused, is audited."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from pydantic import BaseModel

from safecity.audit.record import record
from safecity.auth.deps import allow
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
