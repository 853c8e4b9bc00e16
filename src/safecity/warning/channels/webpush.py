# SPDX-License-Identifier: Apache-2.0
"""Web Push channel (RFC 8030 with VAPID, RFC 8292, and aes128gcm payload encryption, RFC 8291): the alert
reaches a citizen's browser through its push service even when the citizen page is closed.

The recipient's address is the browser's ``PushSubscription`` as JSON (``{"endpoint", "keys": {"p256dh",
"auth"}}``, what ``pushManager.subscribe()`` gives the page). The payload is JSON in the subscriber's
language: ``{"identifier", "msgType", "title", "body", "category", "url", "tag"}``; the page's service
worker (``/sw.js``) shows it as a notification and opens ``url`` when it is tapped. 긴급/위급 alerts go
with ``Urgency: high`` so a phone in power saving still wakes.

The VAPID key (a P-256 private key in PEM) signs every request; its public key is what the page subscribes
with (``GET /subscriptions/push-key``). It is read from ``warning.webpush.vapid_key`` or created under the data
directory on first use. pywebpush does the encryption and signing.

201/202: sent (the push service has it). 404/410: the subscription is gone, given up. 429, 5xx, a
timeout: retried. Other 4xx: given up.
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import requests
from cryptography.hazmat.primitives import serialization
from py_vapid import Vapid02
from pywebpush import WebPushException, webpush

from safecity.warning.channels.base import PermanentFailure, SendResult, TemporaryFailure
from safecity.warning.message import Message, Recipient

#: How long a push service keeps an alert for a phone that is offline: a day, then it is old news.
TTL_S = 24 * 3600
KEY_FILE = "webpush-vapid.pem"


def load_or_create_key(path: Path) -> Vapid02:
    """The VAPID key in ``path``, created (P-256, PEM, readable by this user only) when absent."""
    if path.is_file():
        return Vapid02.from_file(str(path))
    key = Vapid02()
    key.generate_keys()
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = key.private_pem()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    return key


def public_key(key: Vapid02) -> str:
    """The application server key the browser subscribes with: the uncompressed P-256 point, base64url."""
    raw = key.public_key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


@dataclass(frozen=True)
class PushSubscription:
    endpoint: str
    p256dh: str
    auth: str

    def info(self) -> dict[str, Any]:
        return {"endpoint": self.endpoint, "keys": {"p256dh": self.p256dh, "auth": self.auth}}


def parse_subscription(address: str) -> PushSubscription:
    """The browser's PushSubscription JSON; ValueError saying what is wrong (the API turns it into a 400)."""
    try:
        data = orjson.loads(address)
    except orjson.JSONDecodeError:
        raise ValueError("a webpush address is the browser's PushSubscription as JSON") from None
    if not isinstance(data, dict):
        raise ValueError("a webpush address is a JSON object with endpoint and keys")
    endpoint = data.get("endpoint")
    keys = data.get("keys")
    # https and a public host are checked where a subscription is made (subscriptions._check_webpush)
    if not isinstance(endpoint, str) or not endpoint.startswith(("https://", "http://")):
        raise ValueError("webpush: endpoint must be the push service's https:// URL")
    if not isinstance(keys, dict) or not all(
        isinstance(keys.get(k), str) and keys[k] for k in ("p256dh", "auth")
    ):
        raise ValueError("webpush: keys must hold the browser's p256dh and auth values")
    return PushSubscription(endpoint, keys["p256dh"], keys["auth"])


def push_body(message: Message, recipient: Recipient, page: str) -> bytes:
    """The notification's JSON in the recipient's language (Korean when the alert has none in it)."""
    text = message.text(recipient.language)
    cancelled = message.msg_type == "Cancel"
    return orjson.dumps(
        {
            "identifier": message.identifier,
            "msgType": message.msg_type,
            "title": text.headline,
            "body": text.short_text or text.instruction or text.description,
            "category": message.category_ko,
            "url": page,
            # one notification per alert thread: an update replaces what the phone shows
            "tag": f"safecity-{message.identifier if not cancelled else 'cancel-' + message.identifier}",
        }
    )


class WebPushChannel:
    name = "webpush"

    def __init__(self, key: Vapid02, subject: str, timeout_s: float, page: str = "/citizen") -> None:
        self.key = key
        self.subject = subject
        self.timeout_s = timeout_s
        self.page = page
        self._session = requests.Session()
        self._session.max_redirects = 0  # the endpoint the browser gave, never another

    @property
    def public_key(self) -> str:
        return public_key(self.key)

    def send(self, message: Message, recipient: Recipient, key: str) -> SendResult:
        try:
            sub = parse_subscription(recipient.address)
        except ValueError as e:
            raise PermanentFailure(str(e)) from None
        urgent = message.category_ko in ("위급재난문자", "긴급재난문자")
        try:
            response = webpush(
                sub.info(),
                push_body(message, recipient, self.page).decode("utf-8"),
                vapid_private_key=self.key,
                vapid_claims={"sub": self.subject},
                timeout=self.timeout_s,
                ttl=TTL_S,
                headers={"Urgency": "high" if urgent else "normal", "Topic": _topic(key)},
                requests_session=self._session,
            )
        except WebPushException as e:
            code = e.response.status_code if e.response is not None else None
            reason = f"push service answered {code}: {str(e)[:200]}"
            if code in (404, 410):
                raise PermanentFailure(f"{reason} (the browser's subscription has ended)") from None
            if code is None or code >= 500 or code in (408, 429):
                raise TemporaryFailure(reason) from None
            raise PermanentFailure(reason) from None
        except requests.RequestException as e:
            raise TemporaryFailure(f"push service unreachable: {e}") from None
        status = getattr(response, "status_code", 201)
        return SendResult("sent", f"HTTP {status}")

    def close(self) -> None:
        self._session.close()


def _topic(key: str) -> str:
    # RFC 8030 Topic: at most 32 base64url characters; a repeat of one delivery replaces the undelivered one
    import hashlib

    return base64.urlsafe_b64encode(hashlib.sha256(key.encode()).digest()[:24]).decode("ascii")
