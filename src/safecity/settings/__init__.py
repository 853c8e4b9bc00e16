# SPDX-License-Identifier: Apache-2.0
"""The one settings object.

Values come from ``SAFECITY_*`` environment variables, then from an optional TOML file named by
``SAFECITY_CONFIG`` (environment wins), then from the defaults below. Build it once in the CLI or the
app factory and pass it down; nothing builds settings at import time.
"""

from __future__ import annotations

import ipaddress
import os
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from safecity.core.errors import ConfigError
from safecity.settings.nested import (
    DEPRECATED_NAMES,
    BusSettings,
    CellBroadcastSettings,
    DeprecatedEnv,
    MastodonSettings,
    MqttSettings,
    RateLimitSettings,
    SituationSettings,
    SmsSettings,
    SmtpSettings,
    WarningSettings,
    WebPushSettings,
    env_name,
    nest_deprecated,
)

__all__ = [
    "DEPRECATED_NAMES",
    "DEV_SECRET_PREFIX",
    "BusSettings",
    "CellBroadcastSettings",
    "MastodonSettings",
    "Mode",
    "MqttSettings",
    "Settings",
    "SituationSettings",
    "SmsSettings",
    "SmtpSettings",
    "WarningSettings",
    "WebPushSettings",
    "check_production",
    "env_name",
    "load_settings",
    "production_problems",
]

#: Marks a development secret. Production mode refuses to start while any secret still has it.
DEV_SECRET_PREFIX = "dev-insecure-"


class Mode(StrEnum):
    dev = "dev"
    production = "production"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="SAFECITY_", env_nested_delimiter="__", extra="ignore", toml_file=None
    )

    mode: Mode = Field(
        Mode.dev, description="dev allows the built-in development secrets; production refuses them."
    )
    data_dir: Path = Field(
        Path("./var"),
        description="Where embedded data lives (SQLite store, backups). Relative paths are from the working directory.",
    )
    store_url: str | None = Field(
        None,
        description="SQLAlchemy URL of the operational store. Empty: SQLite file safecity.db under data_dir. "
        "postgresql://user@host/db selects the PostgreSQL + PostGIS adapter.",
    )
    capabilities: list[str] = Field(
        default_factory=list,
        description="A city's own capabilities: Python modules with a setup() returning a "
        'safecity.capability.Capability, e.g. ["mycity.parking"] (docs/architecture.md).',
    )
    bus_url: str | None = Field(
        None,
        description="Event bus. Empty: in-process bus with a durable outbox in the store (one process). "
        "nats://host:4222: the outbox is relayed to NATS JetStream, for several processes "
        "(docs/scaling.md).",
    )
    bus: BusSettings = Field(
        default_factory=BusSettings,
        description="Retries, dead letters and outbox retention (SAFECITY_BUS__MAX_ATTEMPTS...).",
    )
    warning: WarningSettings = Field(
        default_factory=WarningSettings,
        description="Alerts: approval, wording, delivery and the channels (SAFECITY_WARNING__AUTO_LEVELS, "
        "SAFECITY_WARNING__SMTP__HOST, SAFECITY_WARNING__SMS__GATEWAY_URL...).",
    )
    mqtt: MqttSettings = Field(
        default_factory=MqttSettings,
        description="The MQTT extension: embedded broker or external client (SAFECITY_MQTT__URL...).",
    )
    host: str = Field("127.0.0.1", description="HTTP listen address.")
    port: int = Field(8000, description="HTTP listen port.")
    public_url: str | None = Field(
        None,
        pattern=r"^https?://[^/?#\s]+(/[^?#\s]*)?$",
        description="Base URL clients see (SensorThings @iot.selfLink, OGC API links, alert and feed "
        "links), e.g. https://safecity.seoul.go.kr. Empty (development only): taken from each request's "
        "Host header, which any client sets; production refuses to start without it.",
    )
    jwt_secret: SecretStr = Field(
        SecretStr(DEV_SECRET_PREFIX + "jwt-secret-change-me"),
        description="HMAC key for access tokens. Must be set in production.",
    )
    jwt_ttl_minutes: int = Field(
        30, description="Access token lifetime; short because tokens are not revocable."
    )
    admin_password: SecretStr | None = Field(
        None, description="Password for `safecity admin create` when stdin is not used."
    )
    max_body_bytes: int = Field(
        16 * 1024 * 1024,
        gt=0,
        description="Largest accepted body of an ingest or import request (SensorThings writes, "
        "CreateObservations, /…/import): a 10,000-row CreateObservations is ~1 MB, so 16 MiB leaves room "
        "for a gateway's backlog while keeping one request from filling memory.",
    )
    max_body_bytes_other: int = Field(
        1024 * 1024,
        gt=0,
        description="Largest accepted body of every other request (logins, subscriptions, alert edits): "
        "none needs more than a few kB.",
    )
    rate_limit_per_s: float = Field(
        10.0,
        gt=0,
        description="Requests per second an anonymous client (one address) may make on average; "
        "operators and devices with valid credentials are not limited.",
    )
    rate_limit_burst: int = Field(
        100,
        gt=0,
        description="Requests an anonymous client may make at once (a page load fetches ~15 files).",
    )
    rate_limit: RateLimitSettings = Field(
        default_factory=RateLimitSettings,
        description="Where the anonymous clients' budgets are counted: this process's memory, or a "
        "shared Redis for several processes (SAFECITY_RATE_LIMIT__URL=redis://...).",
    )
    sse_max_per_client: int = Field(
        4, gt=0, description="Open Server-Sent Event streams one client address may hold."
    )
    request_timeout_s: float = Field(
        30.0,
        gt=0,
        description="A request with no response by then gets 503 (SSE streams are exempt once started).",
    )
    import_timeout_s: float = Field(
        600.0,
        gt=0,
        description="The same for ingest and import requests, which may carry 16 MiB of rows.",
    )
    http_keepalive_s: int = Field(
        5, gt=0, description="uvicorn closes an idle keep-alive connection after this many seconds."
    )
    http_max_header_bytes: int = Field(
        16 * 1024,
        gt=0,
        description="Largest request head (request line and headers) uvicorn accepts before answering 400.",
    )
    https: bool = Field(
        False,
        description="The platform is reached over HTTPS (directly or behind a TLS proxy): responses then "
        "carry Strict-Transport-Security. Off in development, where it would pin http://localhost to HTTPS.",
    )
    cors_origins: list[str] = Field(
        default_factory=list,
        description='Web origins allowed to call the API from a browser, e.g. ["https://map.seoul.go.kr"]. '
        "Empty: no cross-origin access (closed by default).",
    )
    csp_img_sources: list[str] = Field(
        default_factory=list,
        description="Extra image sources for the pages' Content-Security-Policy, e.g. a tile server "
        '["https://tile.openstreetmap.org"]. Empty: only the platform itself, data: and blob:.',
    )
    map_tile_url: str | None = Field(
        None,
        description="A raster tile server for the pages' maps, e.g. 'https://tiles.example.go.kr/{z}/{x}/{y}.png' "
        "(its origin is added to the Content-Security-Policy). None: the city's own vector layers are the "
        "only base map and the pages load nothing from another host.",
    )
    map_tile_attribution: str = Field(
        "",
        description="Attribution shown on the maps for map_tile_url's tiles (their licence may require it).",
    )
    page_size: int = Field(100, description="Default $top of SensorThings collections.")
    max_page_size: int = Field(10_000, description="Largest $top a client may ask for.")
    future_tolerance_s: float = Field(
        300.0, description="An observation more than this far in the future gets the future-time flag."
    )
    late_after_s: float = Field(
        3600.0, description="An observation arriving this long after its phenomenonTime gets the late flag."
    )
    stale_intervals: int = Field(
        3, description="A sensor is stale after missing this many of its expected reporting intervals."
    )
    rules_dir: Path | None = Field(
        None,
        description="A folder of the city's own rule files (*.toml, see docs/rules.md), loaded after the "
        "shipped packs; a rule with a shipped rule's id replaces it.",
    )
    situation: SituationSettings = Field(
        default_factory=SituationSettings,
        description="The rule engine (SAFECITY_SITUATION__ENABLED, SAFECITY_SITUATION__TICK_S).",
    )
    webhook_allow_networks: list[str] = Field(
        default_factory=list,
        description='Networks a city\'s own webhook receivers live in (e.g. ["10.20.0.0/16"]), reached although '
        "private. Every other webhook address must be public: loopback, private, link-local and metadata "
        "addresses are refused in any spelling, when subscribing and again when connecting (issue 13).",
    )
    guides_dir: Path | None = Field(
        None,
        description="A folder of the city's action guides (TOML like the package's warning/guides/), "
        "overriding or adding sections.",
    )
    cap_xsd: Path | None = Field(
        None,
        description="Path of the official OASIS CAP 1.2 XSD: when set, every alert is validated against it "
        "before it is issued, and every imported one.",
    )
    demo_geography: bool = Field(
        False,
        description="The districts, roads and terrain are the demo city's generated approximations: pages "
        "say so on the map (set by `safecity demo`).",
    )
    log_level: str = Field("INFO", description="Log level of the structured log.")
    log_json: bool = Field(False, description="JSON log lines (for log shippers) instead of console lines.")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # the deprecated flat names come after the current ones: SAFECITY_WARNING__SMTP__HOST wins
        sources: list[PydanticBaseSettingsSource] = [
            init_settings,
            env_settings,
            DeprecatedEnv(settings_cls),
        ]
        config = os.environ.get("SAFECITY_CONFIG")
        if config:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=Path(config)))
        return tuple(sources)

    @model_validator(mode="before")
    @classmethod
    def _deprecated_names(cls, data: Any) -> Any:
        return nest_deprecated(data) if isinstance(data, dict) else data

    @field_validator("store_url")
    @classmethod
    def _known_store(cls, v: str | None) -> str | None:
        if v and not v.startswith(("sqlite", "postgresql")):
            raise ValueError("SAFECITY_STORE_URL must start with sqlite:// or postgresql://")
        return v or None

    @field_validator("webhook_allow_networks")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        # validated here, not by hygiene.egress (settings sit below every capability and the edge)
        for network in value:
            try:
                ipaddress.ip_network(network, strict=False)
            except ValueError:
                raise ValueError(f"{network!r} is not a network such as 10.20.0.0/16 or 192.0.2.7") from None
        return list(value)

    @model_validator(mode="after")
    def _no_dev_secrets_in_production(self) -> Settings:
        problems = production_problems(self)
        if problems:
            # one message with every missing secret: fixing them one restart at a time is slow at 3 a.m.
            raise ValueError("production mode refuses to start: " + "; ".join(problems))
        return self

    def with_warning(self, **changes: Any) -> Settings:
        """A copy with some warning settings changed (``auto_levels=[4]``; ``smtp=SmtpSettings(...)``)."""
        return self.model_copy(update={"warning": self.warning.model_copy(update=changes)})

    def with_mqtt(self, **changes: Any) -> Settings:
        """A copy with some MQTT settings changed (``enabled=False``; ``url="mqtt://..."``)."""
        return self.model_copy(update={"mqtt": self.mqtt.model_copy(update=changes)})

    @property
    def resolved_store_url(self) -> str:
        if self.store_url:
            return self.store_url
        return f"sqlite:///{(self.data_dir / 'safecity.db').resolve()}"

    @property
    def is_embedded_store(self) -> bool:
        return self.resolved_store_url.startswith("sqlite")


def load_settings(**overrides: Any) -> Settings:
    """Build the settings (environment, optional TOML file, then defaults); overrides win."""
    return Settings(**overrides)


# -- what production mode refuses: development or missing secrets, each named with the setting to set --

#: Shortest secret accepted in production: 32 characters of `openssl rand -base64 32` are 190+ bits.
MIN_SECRET_CHARS = 32
#: Values people leave in configuration files; refused whatever their length.
PLACEHOLDERS = ("change-me", "changeme", "change_me", "secret", "password", "placeholder", "todo")
_HOW = "e.g. `openssl rand -base64 48`"


def _weak(value: str) -> str | None:
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
    if not settings.public_url:
        # Without it every link (SensorThings selfLinks, OGC API, alert feeds) is built from the request's
        # Host header, which the client chooses: a forged Host would make the server hand out links to
        # another site (outside security review, issue 13).
        problems.append(
            "SAFECITY_PUBLIC_URL is not set (links in SensorThings, OGC API and alert feeds would be built "
            "from each request's Host header, which any client sets); set the address clients use, "
            "e.g. https://safecity.seoul.go.kr"
        )
    if settings.admin_password is not None:
        need("admin_password", settings.admin_password, "the first administrator's password", 12)
    smtp = settings.warning.smtp
    if smtp.host and smtp.user:
        need(
            "warning__smtp__password",
            smtp.password,
            "e-mail alerts log in as SAFECITY_WARNING__SMTP__USER",
            1,
        )
    sms, mastodon = settings.warning.sms, settings.warning.mastodon
    if sms.gateway_url:
        need("warning__sms__gateway_key", sms.gateway_key, "the SMS gateway channel is enabled", 1)
    if mastodon.url:
        need("warning__mastodon__token", mastodon.token, "the Mastodon channel is enabled", 1)
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
