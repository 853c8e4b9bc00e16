# SPDX-License-Identifier: Apache-2.0
"""Delivery channels of the warning capability, and the registry that builds them from settings.

A channel whose settings are empty is not built, so it is not available: e-mail needs ``warning.smtp.host``
and ``warning.smtp.from_address``, SMS ``warning.sms.gateway_url`` and ``gateway_key``, Mastodon ``warning.mastodon.url``
and ``token``. Webhooks and the public SSE stream need nothing; Web Push (``warning.webpush.enabled``,
on by default) makes its VAPID key under the data directory when none is configured. Each adapter module (and its
client library) is imported only when its channel is built.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from safecity.warning.channels.base import (
    Channel,
    DeliveryError,
    PermanentFailure,
    SendResult,
    TemporaryFailure,
)

if TYPE_CHECKING:
    from safecity.settings import Settings
    from safecity.situation.broadcast import Broadcaster

__all__ = [
    "Channel",
    "DeliveryError",
    "PermanentFailure",
    "SendResult",
    "TemporaryFailure",
    "build_channels",
]


def build_channels(settings: Settings, broadcaster: Broadcaster | None = None) -> dict[str, Channel]:
    """The channels the settings make available, by name (email, webhook, sms, sse, mastodon).

    ``broadcaster`` is the public alert stream's fan-out; without one the SSE channel gets its own
    (reach it as ``channels["sse"].broadcaster``)."""
    from safecity.hygiene.egress import EgressPolicy
    from safecity.warning.channels.sse import SseChannel
    from safecity.warning.channels.webhook import WebhookChannel

    timeout = settings.warning.send_timeout_s
    channels: dict[str, Channel] = {
        "webhook": WebhookChannel(timeout, policy=EgressPolicy(settings.webhook_allow_networks)),
        "sse": SseChannel(broadcaster),
    }
    smtp = settings.warning.smtp
    if smtp.host and smtp.from_address:
        from safecity.warning.channels.smtp import SmtpChannel

        channels["email"] = SmtpChannel(
            smtp.host,
            smtp.port,
            smtp.from_address,
            starttls=smtp.starttls,
            user=smtp.user,
            password=smtp.password.get_secret_value() if smtp.password else None,
            timeout_s=timeout,
        )
    sms = settings.warning.sms
    if sms.gateway_url and sms.gateway_key:
        from safecity.warning.channels.sms import SmsChannel

        channels["sms"] = SmsChannel(
            sms.gateway_url, sms.gateway_key.get_secret_value(), settings.warning.cb.max_chars, timeout
        )
    webpush = settings.warning.webpush
    if webpush.enabled:
        from safecity.warning.channels.webpush import KEY_FILE, WebPushChannel, load_or_create_key

        key = load_or_create_key(webpush.vapid_key or settings.data_dir / KEY_FILE)
        channels["webpush"] = WebPushChannel(key, webpush.subject, timeout)
    mastodon = settings.warning.mastodon
    if mastodon.url and mastodon.token:
        from safecity.warning.channels.mastodon import MastodonChannel

        channels["mastodon"] = MastodonChannel(mastodon.url, mastodon.token.get_secret_value(), timeout)
    return channels
