# SPDX-License-Identifier: Apache-2.0
"""What production mode refuses: development or missing secrets, each named with the setting to set."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import SecretStr

from safecity.core.errors import ConfigError

if TYPE_CHECKING:
    from safecity.settings import Settings

#: Shortest secret accepted in production: 32 characters of `openssl rand -base64 32` are 190+ bits.
MIN_SECRET_CHARS = 32
#: Values people leave in configuration files; refused whatever their length.
PLACEHOLDERS = ("change-me", "changeme", "change_me", "secret", "password", "placeholder", "todo")
_HOW = "e.g. `openssl rand -base64 48`"


def _weak(value: str) -> str | None:
    from safecity.settings import DEV_SECRET_PREFIX

    v = value.strip()
    if not v:
        return "is empty"
    if v.startswith(DEV_SECRET_PREFIX):
        return "is the built-in development value"
    if any(p in v.lower() for p in PLACEHOLDERS) and len(set(v.lower())) < 20:
        return "looks like a placeholder"
    return None


def production_problems(settings: Settings) -> list[str]:
    """Every reason production mode must not start, each naming the ``SAFECITY_*`` setting and the fix.

    Empty outside production mode, and in production when every secret the enabled channels need is set.
    """
    from safecity.settings import Mode

    if settings.mode is not Mode.production:
        return []
    problems: list[str] = []

    def need(name: str, value: SecretStr | None, why: str, min_chars: int = MIN_SECRET_CHARS) -> None:
        env = f"SAFECITY_{name.upper()}"
        if value is None:
            problems.append(f"{env} is not set ({why}); set it, {_HOW}")
            return
        weak = _weak(value.get_secret_value())
        if weak:
            problems.append(f"{env} {weak} ({why}); set a real one, {_HOW}")
        elif len(value.get_secret_value()) < min_chars:
            problems.append(f"{env} is shorter than {min_chars} characters ({why}); {_HOW}")

    need("jwt_secret", settings.jwt_secret, "it signs every access token")
    if settings.admin_password is not None:
        need("admin_password", settings.admin_password, "the first administrator's password", 12)
    if settings.smtp_host and settings.smtp_user:
        need("smtp_password", settings.smtp_password, "e-mail alerts log in as SAFECITY_SMTP_USER", 1)
    if settings.sms_gateway_url:
        need("sms_gateway_key", settings.sms_gateway_key, "the SMS gateway channel is enabled", 1)
    if settings.mastodon_url:
        need("mastodon_token", settings.mastodon_token, "the Mastodon channel is enabled", 1)
    return problems


def check_production(settings: Settings) -> None:
    """Raise :class:`ConfigError` listing every problem (settings built by ``model_copy`` skip the
    validator, so the app factory asks again)."""
    problems = production_problems(settings)
    if problems:
        raise ConfigError(
            "production mode refuses to start: " + "; ".join(problems),
            message_ko="운영 모드는 개발용·누락된 비밀값으로 시작하지 않습니다: 위 설정을 지정하세요",
        )
