# SPDX-License-Identifier: Apache-2.0
"""The nested parts of the settings: the bus's (``SAFECITY_BUS__<FIELD>``), the MQTT extension's
(``SAFECITY_MQTT__<FIELD>``), the rule engine's (``SAFECITY_SITUATION__<FIELD>``) and the warning capability's
(``SAFECITY_WARNING__<FIELD>``, ``SAFECITY_WARNING__SMTP__<FIELD>``, ``SAFECITY_WARNING__SMS__<FIELD>``...),
and the deprecated flat names those replace (still read, with a warning)."""

from __future__ import annotations

import contextlib
import json
import logging
import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import PydanticBaseSettingsSource


class BusSettings(BaseModel):
    """The bus's retries, dead letters and outbox retention (``SAFECITY_BUS__<FIELD>``, or ``[bus]`` in the TOML)."""

    max_attempts: int = Field(
        default=8,
        ge=1,
        description="Deliveries of one event to one subscriber before it goes to the dead letters. With "
        "the default backoff, 8 attempts span about 2 minutes: long enough to ride out a restarting "
        "dependency, short enough that one bad event does not hold a subscriber back for long.",
    )
    retry_base_s: float = Field(
        default=1.0, gt=0, description="Wait before the first retry; it doubles with every further failure."
    )
    retry_max_s: float = Field(default=300.0, gt=0, description="The longest wait between two retries.")
    retention_hours: float = Field(
        default=168.0,
        gt=0,
        description="Events delivered to every subscriber are pruned from the outbox this long after "
        "they were published (a week: time to investigate an incident's events before they go).",
    )
    prune_every_s: float = Field(
        default=600.0, gt=0, description="How often the dispatcher prunes the outbox."
    )
    nats_stream: str = Field(
        default="SAFECITY",
        pattern=r"^[A-Za-z0-9_\-]+$",
        description="With SAFECITY_BUS_URL=nats://...: the JetStream stream the outbox is relayed to; its "
        "subjects are <stream in lower case>.<event type>.<ordering key>. One per city (or per test).",
    )
    nats_duplicate_window_s: float = Field(
        default=600.0,
        gt=0,
        description="How long JetStream remembers an event id (Nats-Msg-Id) to drop a second publish of "
        "it: longer than a relay takes to restart, so a relay that dies after publishing but before "
        "saving its position does not put an event in the stream twice.",
    )
    nats_ack_wait_s: float = Field(
        default=30.0,
        gt=0,
        description="How long a message handed to a process may stay unacknowledged before JetStream "
        "offers it again (a process that died mid-batch): longer than a handler's slowest batch.",
    )
    leader_interval_s: float = Field(
        default=1.0,
        gt=0,
        description="With safecity worker --role: how often a standby tries to take a singleton role "
        "(rules, incidents, delivery, audit, relay) and its holder checks it still holds it. A holder "
        "killed is replaced within about this long (target: under 5 s).",
    )
    nats_fetch_timeout_s: float = Field(
        default=1.0,
        gt=0,
        description="How long one pull waits for messages the outbox says are there (normally they "
        "are, and it returns at once).",
    )


class RateLimitSettings(BaseModel):
    """Where the anonymous clients' request budgets are kept (``SAFECITY_RATE_LIMIT__<FIELD>``, or
    ``[rate_limit]`` in the TOML); the budget itself is ``SAFECITY_RATE_LIMIT_PER_S`` and ``_BURST``."""

    url: str | None = Field(
        None,
        description="A shared store for the budgets, e.g. redis://127.0.0.1:6379/0, so that every "
        "process behind one load balancer counts a client's requests together (the limits library; "
        "its redis://, rediss:// and redis+sentinel:// URLs). Empty: each process counts in its own "
        "memory, which is right for one process.",
    )
    key_prefix: str = Field(
        "safecity",
        pattern=r"^[A-Za-z0-9_.:\-]+$",
        description="Prefix of the budgets' keys in the shared store: one per city sharing a Redis.",
    )


class SmtpSettings(BaseModel):
    """The e-mail channel of alerts (``SAFECITY_WARNING__SMTP__<FIELD>``, or ``[warning.smtp]`` in the TOML).
    Without ``host`` and ``from_address`` there is no e-mail channel."""

    host: str | None = Field(None, description="SMTP server for e-mail alerts. Empty: no e-mail channel.")
    port: int = Field(587, description="SMTP port (587: submission with STARTTLS).")
    from_address: str | None = Field(
        None,
        description="From address of e-mail alerts, e.g. alerts@safecity.seoul.kr (needed with host).",
    )
    starttls: bool = Field(
        True, description="Upgrade the SMTP connection with STARTTLS (off only for a local relay)."
    )
    user: str | None = Field(None, description="SMTP login. Empty: no authentication.")
    password: SecretStr | None = Field(None, description="SMTP password (with user).")


class SmsSettings(BaseModel):
    """The SMS / cell-broadcast gateway channel of alerts (``SAFECITY_WARNING__SMS__<FIELD>``, or
    ``[warning.sms]`` in the TOML). Without ``gateway_url`` and ``gateway_key`` there is no SMS channel."""

    gateway_url: str | None = Field(
        None,
        description="SMS/cell-broadcast gateway endpoint (JSON contract in safecity.warning.channels.sms). "
        "Empty: no SMS channel.",
    )
    gateway_key: SecretStr | None = Field(
        None, description="API key sent to the SMS gateway as a Bearer token."
    )


class MastodonSettings(BaseModel):
    """The Mastodon channel of alerts (``SAFECITY_WARNING__MASTODON__<FIELD>``, or ``[warning.mastodon]`` in
    the TOML). Without ``url`` and ``token`` there is no Mastodon channel."""

    url: str | None = Field(
        None,
        description="Base URL of the Mastodon instance alerts are posted to. Empty: no Mastodon channel.",
    )
    token: SecretStr | None = Field(None, description="Mastodon access token with the write:statuses scope.")


class WebPushSettings(BaseModel):
    """The Web Push channel of alerts (``SAFECITY_WARNING__WEBPUSH__<FIELD>``, or ``[warning.webpush]`` in
    the TOML)."""

    enabled: bool = Field(
        True,
        description="Web Push for the citizen page: browsers subscribe with this server's VAPID key and the "
        "browser's push service wakes them when an alert is issued, even with the page closed.",
    )
    vapid_key: Path | None = Field(
        None,
        description="PEM file of the VAPID private key (P-256) that signs Web Push requests. Empty: "
        "webpush-vapid.pem under data_dir, created on first use; keep it, as browsers subscribed to its "
        "public key stop receiving alerts when it changes.",
    )
    subject: str = Field(
        "mailto:safecity@localhost",
        pattern=r"^(mailto:|https://)",
        description="The VAPID contact push services may write to about this sender (mailto: or https: "
        "URL); set the city's operations address in production.",
    )


class CellBroadcastSettings(BaseModel):
    """Lengths of cell-broadcast and SMS texts (``SAFECITY_WARNING__CB__<FIELD>``, or ``[warning.cb]`` in the
    TOML)."""

    max_chars: int = Field(
        90,
        gt=0,
        description="Longest 위급/긴급 cell-broadcast/SMS text in characters (90; never more: older phones).",
    )
    safety_max_chars: int = Field(
        90,
        gt=0,
        le=157,
        description="Longest 안전안내문자 (non-urgent) text: 157 where the city takes part in the long-text "
        "service (행정안전부 2026-02-26); 위급/긴급 texts stay at 90 whatever is set.",
    )


class WarningSettings(BaseModel):
    """Alerts: who approves them, their wording and languages, delivery retries, the e-mail channel
    (``SAFECITY_WARNING__<FIELD>``, ``SAFECITY_WARNING__SMTP__<FIELD>``, or ``[warning]`` in the TOML).
    The flat names these replace (``SAFECITY_SMTP_HOST``, ``SAFECITY_WARNING_AUTO_LEVELS``...) still work,
    with a warning: see :data:`DEPRECATED_NAMES`."""

    smtp: SmtpSettings = Field(default_factory=SmtpSettings, description="The e-mail channel.")
    sms: SmsSettings = Field(
        default_factory=SmsSettings, description="The SMS / cell-broadcast gateway channel."
    )
    mastodon: MastodonSettings = Field(default_factory=MastodonSettings, description="The Mastodon channel.")
    webpush: WebPushSettings = Field(default_factory=WebPushSettings, description="The Web Push channel.")
    cb: CellBroadcastSettings = Field(
        default_factory=CellBroadcastSettings, description="Lengths of cell-broadcast and SMS texts."
    )
    send_timeout_s: float = Field(
        10.0, gt=0, description="Timeout of one send on any channel (webhook, SMS gateway, Mastodon, SMTP)."
    )
    lease_s: float | None = Field(
        None,
        gt=0,
        description="How long a delivery being sent stays claimed by its worker; a worker that died mid-send "
        "leaves it to be sent again after this. None: computed to outlast a whole batch of sends at the send "
        "timeout (at least 120 s). Shorter only where one worker runs and sends are quick.",
    )
    retry_base_s: float = Field(
        5.0,
        gt=0,
        description="First retry delay after a temporary failure; doubles per attempt, with jitter.",
    )
    retry_max_s: float = Field(
        300.0,
        gt=0,
        description="Longest retry delay: a receiver that comes back is reached within this time.",
    )
    give_up_s: float = Field(
        86400.0,
        gt=0,
        description="A delivery still failing this long after its alert was queued is given up (dead); an "
        "older alert is no longer a warning.",
    )
    short_sender: dict[str, str] = Field(
        default_factory=lambda: {"ko": "[서울특별시]", "en": "[Seoul]"},
        description="The sender a short text begins with, per language (short: it spends characters).",
    )
    auto_evacuate: bool = Field(
        False,
        description="Issue evacuation orders without an operator. Off: an evacuation order is the district "
        "head's decision and is drafted for an operator to approve.",
    )
    auto_lower: bool = Field(
        True,
        description="Lower or end alerts in force as soon as their areas' levels fall, without waiting for an "
        "operator (an evacuation order must not stay in force after the danger has passed).",
    )
    sender: str = Field(
        "safecity@seoul.go.kr",
        description="CAP sender of the platform's alerts (an address-like id without spaces or commas).",
    )
    auto_levels: list[int] = Field(
        default_factory=list,
        description="Crisis levels (1 관심 .. 4 심각) whose alerts are issued at once, the operator informed, "
        "e.g. [4]. Empty: every alert waits for an operator's approval.",
    )
    auto_hazards: list[str] = Field(
        default_factory=list,
        description='Hazards whose alerts are issued at once (e.g. ["fire", "gas"]).',
    )
    languages: list[str] = Field(
        default_factory=lambda: ["ko", "en"],
        description="Languages of the alerts' CAP info blocks; ko is required. Other than ko and en, each needs "
        "<lang>.toml in wording_dir (copy the package's wording/en.toml).",
    )
    wording_dir: Path | None = Field(
        None, description="A folder of alert wording files (<lang>.toml) overriding or adding languages."
    )


class SituationSettings(BaseModel):
    """The rule engine (``SAFECITY_SITUATION__<FIELD>``, or ``[situation]`` in the TOML)."""

    enabled: bool = Field(True, description="Run the rule engine on incoming observations.")
    tick_s: float = Field(
        5.0,
        gt=0,
        description="How often the rule engine looks at the clock (windows slide, clearing delays run "
        "out and sensors go stale even when no data arrives).",
    )
    snapshot_s: float = Field(
        60.0,
        gt=0,
        description="How often the rule engine saves its state (windows, levels, timers) with the event "
        "position it corresponds to: a restart, or another process taking its districts over, resumes "
        "from it and the events after it instead of re-reading hours of observations. Also saved when "
        "it stops.",
    )
    partition: str = Field(
        "",
        pattern=r"^$|^[1-9][0-9]*/[1-9][0-9]*$",
        description="This rule engine's share of the districts, 'i/n' (e.g. 1/2 and 2/2 in two processes "
        "of the role rules): a district goes to share crc32(code) mod n + 1; share 1 also takes the "
        "sensors outside every district. Empty: every district (one rule engine).",
    )
    districts: list[str] = Field(
        default_factory=list,
        description='This rule engine\'s districts by code (e.g. ["11680", "11650"]; "none" for the '
        "sensors outside every district), instead of a share. Empty: see partition.",
    )

    def model_post_init(self, context: Any) -> None:
        if self.partition:
            i, n = (int(x) for x in self.partition.split("/"))
            if i > n:
                raise ValueError(
                    f"SAFECITY_SITUATION__PARTITION={self.partition}: share {i} of {n} does not exist"
                )
        if self.partition and self.districts:
            raise ValueError(
                "SAFECITY_SITUATION__PARTITION and SAFECITY_SITUATION__DISTRICTS: set one, not both"
            )

    @property
    def partition_tag(self) -> str:
        """What the names of a partitioned rule engine's subscribers and leadership end with ('' for
        one engine of every district): '.p1of2', or '.d' and a digest of the districts."""
        if self.partition:
            i, n = self.partition.split("/")
            return f".p{i}of{n}"
        if self.districts:
            import hashlib

            digest = hashlib.sha1(",".join(sorted(set(self.districts))).encode()).hexdigest()[:10]
            return f".d{digest}"
        return ""


class MqttSettings(BaseModel):
    """The MQTT extension of sensing: the embedded broker or a client of an external one
    (``SAFECITY_MQTT__<FIELD>``, or ``[mqtt]`` in the TOML)."""

    url: str | None = Field(
        None,
        description="External MQTT broker, e.g. mqtt://127.0.0.1:1883. Empty: safecity serve starts its own "
        "broker on host:port.",
    )
    host: str = Field("127.0.0.1", description="Address the embedded MQTT broker listens on.")
    port: int = Field(
        1884, description="Port of the embedded MQTT broker (1883 is often taken by a system Mosquitto)."
    )
    enabled: bool = Field(True, description="Run the MQTT extension (embedded broker or external client).")


#: The flat names of settings that moved into a nested model: old name (``SAFECITY_SMTP_HOST``, or
#: ``smtp_host`` at the top of the TOML file) → its path now (``SAFECITY_WARNING__SMTP__HOST``). Still
#: read, with a warning once per process, when the new name is not set; the new name wins.
DEPRECATED_NAMES: dict[str, tuple[str, ...]] = {
    **{f"smtp_{f}": ("warning", "smtp", f) for f in ("host", "port", "starttls", "user", "password")},
    "smtp_from": ("warning", "smtp", "from_address"),
    **{
        f"warning_{f}": ("warning", f)
        for f in (
            "send_timeout_s",
            "lease_s",
            "retry_base_s",
            "retry_max_s",
            "give_up_s",
            "short_sender",
            "auto_evacuate",
            "auto_lower",
            "sender",
            "auto_levels",
            "auto_hazards",
            "languages",
            "wording_dir",
        )
    },
    "sms_gateway_url": ("warning", "sms", "gateway_url"),
    "sms_gateway_key": ("warning", "sms", "gateway_key"),
    "mastodon_url": ("warning", "mastodon", "url"),
    "mastodon_token": ("warning", "mastodon", "token"),
    **{f"webpush_{f}": ("warning", "webpush", f) for f in ("enabled", "vapid_key", "subject")},
    "cb_max_chars": ("warning", "cb", "max_chars"),
    "cb_safety_max_chars": ("warning", "cb", "safety_max_chars"),
    **{f"situation_{f}": ("situation", f) for f in ("enabled", "tick_s")},
    **{f"mqtt_{f}": ("mqtt", f) for f in ("url", "host", "port", "enabled")},
}
#: the deprecated names whose value is JSON in the environment (lists and tables)
_JSON_VALUES = ("warning_short_sender", "warning_auto_levels", "warning_auto_hazards", "warning_languages")
_warned: set[str] = set()


def env_name(path: tuple[str, ...]) -> str:
    """The environment variable of a setting's path: ``("warning", "smtp", "host")`` →
    ``SAFECITY_WARNING__SMTP__HOST``."""
    return "SAFECITY_" + "__".join(path).upper()


def nest_deprecated(data: dict[str, Any]) -> dict[str, Any]:
    """Move the deprecated flat names of ``data`` to their nested place, unless the new name is set."""
    flat = [k for k in data if k in DEPRECATED_NAMES]
    if not flat:
        return data
    data = dict(data)
    for old in flat:
        value = data.pop(old)
        *parents, leaf = DEPRECATED_NAMES[old]
        node = data
        for part in parents:
            child = node.get(part)
            # a model given whole (Settings(warning=WarningSettings(...))) wins over the flat names
            if isinstance(child, BaseModel):
                child = None
                break
            node = node.setdefault(part, {}) if child is None else child
            if not isinstance(node, dict):
                break
        else:
            node.setdefault(leaf, value)
        if old not in _warned:
            _warned.add(old)
            logging.getLogger("safecity.settings").warning(
                "setting %s is deprecated: use %s", f"SAFECITY_{old.upper()}", env_name(DEPRECATED_NAMES[old])
            )
    return data


class DeprecatedEnv(PydanticBaseSettingsSource):
    """The deprecated flat names in the environment (``SAFECITY_SMTP_HOST``), as flat keys that
    :func:`nest_deprecated` moves to their place."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # unused: __call__ reads the names itself

    def __call__(self) -> dict[str, Any]:
        env = {k.upper(): v for k, v in os.environ.items()}
        found: dict[str, Any] = {}
        for old in DEPRECATED_NAMES:
            value = env.get(f"SAFECITY_{old.upper()}")
            if value is None:
                continue
            if old in _JSON_VALUES:
                with contextlib.suppress(ValueError):  # else validation names the setting
                    value = json.loads(value)
            found[old] = value
        return found
