# SPDX-License-Identifier: Apache-2.0
"""Webhook channel: POST the alert as JSON to the subscriber's URL.

Body: ``{"identifier", "msgType", "sent", "category", "language", "text": {headline, description,
instruction, areaDesc, guide, shortText}, "cap": <CAP JSON>, "link"}`` with the text in the
subscriber's language (Korean when it has none).

Headers: ``Idempotency-Key`` (the same on every retry of one delivery: a receiver that stores it can
drop a repeat) and, when the subscription has a secret, ``X-Safecity-Signature: sha256=<hex>``, the
HMAC-SHA256 of the raw body with that secret, so the receiver can check the alert came from us:
``hmac.compare_digest(sig, "sha256=" + hmac.new(secret, body, "sha256").hexdigest())``.

2xx: delivered. 5xx, 408, 429, a timeout or a refused connection: retried. Other 4xx: given up.
Redirects are not followed (the subscriber registered this URL, not another).
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import httpx
import orjson

from safecity.hygiene.egress import EgressPolicy, EgressRefused, guarded_transport
from safecity.warning.channels.base import PermanentFailure, SendResult, post_json
from safecity.warning.message import Message, MessageText, Recipient

SIGNATURE_HEADER = "X-Safecity-Signature"
USER_AGENT = "safecity-warning/1"


def sign(secret: str, body: bytes) -> str:
    """The signature header value of ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def text_json(t: MessageText) -> dict[str, Any]:
    return {
        "headline": t.headline,
        "description": t.description,
        "instruction": t.instruction,
        "areaDesc": t.area_desc,
        "guide": list(t.guide),
        "shortText": t.short_text,
    }


def webhook_body(message: Message, recipient: Recipient) -> bytes:
    language = recipient.language if recipient.language in message.texts else "ko"
    return orjson.dumps(
        {
            "identifier": message.identifier,
            "msgType": message.msg_type,
            "sent": message.sent.isoformat(),
            "category": message.category_ko,
            "language": language,
            "text": text_json(message.text(recipient.language)),
            "cap": message.cap_json,
            "link": message.link,
        }
    )


class WebhookChannel:
    """``policy``: where a webhook may go (:mod:`safecity.hygiene.egress`); the platform always gives
    one. A refused address is a permanent failure, and the connection itself is checked again."""

    name = "webhook"

    def __init__(
        self,
        timeout_s: float,
        transport: httpx.BaseTransport | None = None,
        policy: EgressPolicy | None = None,
    ) -> None:
        self._policy = policy
        if transport is None and policy is not None:
            transport = guarded_transport(policy)
        self._client = httpx.Client(
            timeout=timeout_s, follow_redirects=False, headers={"User-Agent": USER_AGENT}, transport=transport
        )

    def send(self, message: Message, recipient: Recipient, key: str) -> SendResult:
        if self._policy is not None:
            try:
                self._policy.check_url(recipient.address)
            except EgressRefused as e:
                raise PermanentFailure(f"webhook address refused: {e}") from None
        body = webhook_body(message, recipient)
        headers = {"Idempotency-Key": key}
        if recipient.secret:
            headers[SIGNATURE_HEADER] = sign(recipient.secret, body)
        response = post_json(self._client, recipient.address, "webhook", body, headers)
        return SendResult("delivered", f"HTTP {response.status_code}")

    def close(self) -> None:
        self._client.close()
