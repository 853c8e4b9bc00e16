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
    from safecity.auth.settings import AuthSettings
    from safecity.core.errors import ConfigError
    from safecity.settings import Mode

    s = ctx.settings
    own = ctx.settings_of("auth", AuthSettings)
    if s.mode is Mode.production and own.password_hash == "cheapest":
        raise ConfigError(
            "production mode refuses SAFECITY_AUTH__PASSWORD_HASH=cheapest (test suites only): unset it",
            message_ko="운영 모드에서는 SAFECITY_AUTH__PASSWORD_HASH=cheapest(시험 전용)를 쓸 수 없습니다: 지우세요",
        )
    return AuthService(
        ctx.store,
        s.jwt_secret.get_secret_value(),
        timedelta(minutes=s.jwt_ttl_minutes),
        hasher=own.hasher(),
    )


def setup() -> Capability:
    """The identity capability (safecity.capability): tokens, device keys, roles; ``/auth`` routes."""
    from safecity.auth.cli import admin_app, apikey_app
    from safecity.auth.settings import AuthSettings
    from safecity.capability import Capability

    return Capability(
        name="auth",
        summary="People, devices and their roles: tokens and API keys.",
        settings=AuthSettings,
        routers=("safecity.auth.router:router",),
        cli_groups={"admin": admin_app, "apikey": apikey_app},
        tables=("safecity.auth.tables",),
        build=_auth,
    )
