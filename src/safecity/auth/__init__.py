# SPDX-License-Identifier: Apache-2.0
"""Who may call what: people (OAuth2 password flow + JWT), devices (API keys), roles."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from safecity.auth.service import AuthService
    from safecity.capability import Capability, Context


def _auth(ctx: Context) -> AuthService:
    from datetime import timedelta

    from safecity.auth.service import AuthService

    s = ctx.settings
    return AuthService(ctx.store, s.jwt_secret.get_secret_value(), timedelta(minutes=s.jwt_ttl_minutes))


def setup() -> Capability:
    """The identity capability (safecity.capability): tokens, device keys, roles; ``/auth`` routes."""
    from safecity.auth.cli import admin_app, apikey_app
    from safecity.capability import Capability

    return Capability(
        name="auth",
        summary="People, devices and their roles: tokens and API keys.",
        routers=("safecity.auth.router:router",),
        cli_groups={"admin": admin_app, "apikey": apikey_app},
        tables=("safecity.auth.tables",),
        build=_auth,
    )
