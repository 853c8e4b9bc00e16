# SPDX-License-Identifier: Apache-2.0
"""``POST /auth/token``: the OAuth2 password flow."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from pydantic import BaseModel

from safecity.auth.deps import allow
from safecity.auth.model import Role

router = APIRouter(prefix="/auth", tags=["auth"])


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int


@router.post("/token", response_model=Token, dependencies=[allow(Role.public)])
def token(request: Request, username: Annotated[str, Form()], password: Annotated[str, Form()]) -> Token:
    """Exchange a username and password for a short-lived bearer token."""
    auth = request.app.state.auth
    principal = auth.authenticate_user(username, password)
    access, ttl = auth.issue_token(principal)
    return Token(access_token=access, expires_in=ttl)
