# SPDX-License-Identifier: Apache-2.0
"""Web Push against a real HTTP server standing in for the browser's push service, with a P-256 key pair
and auth secret made here as a browser makes them: the request carries a VAPID JWT that verifies with the
key the page subscribed with, and the body decrypts (aes128gcm, RFC 8291) to the alert in the subscriber's
language. Gone subscriptions are given up, busy push services retried. Through the API: the page reads
the public key, and a subscription's endpoint must be a public https push service."""

from __future__ import annotations

import base64
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import http_ece
import jwt
import orjson
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from safecity.warning.channels import PermanentFailure, TemporaryFailure
from safecity.warning.channels.webpush import WebPushChannel, load_or_create_key, public_key
from safecity.warning.message import Recipient
from tests.conftest import Api
from tests.warning.test_channels import Receiver, sample_message


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Browser:
    """What a browser holds for one push subscription: its own key pair and auth secret."""

    def __init__(self, endpoint: str) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.auth = os.urandom(16)
        raw = self.key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        self.subscription = {"endpoint": endpoint, "keys": {"p256dh": b64url(raw), "auth": b64url(self.auth)}}

    def recipient(self, language: str = "ko") -> Recipient:
        return Recipient(7, "webpush", orjson.dumps(self.subscription).decode(), language)

    def decrypt(self, body: bytes) -> dict[str, object]:
        clear = http_ece.decrypt(body, private_key=self.key, auth_secret=self.auth, version="aes128gcm")
        return orjson.loads(clear)  # type: ignore[no-any-return]


@pytest.fixture
def push_service() -> Iterator[Receiver]:
    r = Receiver(respond=lambda req: (201, {}, b"")).start()
    yield r
    r.stop()


def test_an_alert_reaches_the_browser_encrypted_and_signed(push_service: Receiver, tmp_path: Path) -> None:
    key = load_or_create_key(tmp_path / "vapid.pem")
    channel = WebPushChannel(key, "mailto:ops@safecity.example", 5.0)
    browser = Browser(f"{push_service.url}/push/abc123")
    result = channel.send(sample_message(), browser.recipient("en"), "delivery-42")
    assert result.status == "sent"
    (req,) = push_service.requests
    assert req.path == "/push/abc123"
    h = req.headers
    assert h["content-encoding"] == "aes128gcm" and int(h["ttl"]) == 24 * 3600
    assert h["urgency"] == "high"  # 긴급재난문자 wakes a phone in power saving
    assert len(h["topic"]) <= 32
    # VAPID (RFC 8292): a JWT for this push service's origin, signed by the key the page subscribed with
    fields = dict(part.strip().split("=", 1) for part in h["authorization"].removeprefix("vapid ").split(","))
    token, k = fields["t"], fields["k"]
    assert k == channel.public_key == public_key(key)
    verifier = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64url(k))
    claims = jwt.decode(token, verifier, algorithms=["ES256"], audience=push_service.url)
    assert claims["sub"] == "mailto:ops@safecity.example"
    # only the browser can read it, and it reads the alert in its own language
    shown = browser.decrypt(req.body)
    assert shown["title"] == "Flood warning, Dongjak-gu"
    assert shown["body"] == sample_message().texts["en"].short_text
    assert shown["url"] == "/citizen" and shown["tag"] == "safecity-KR-SEOUL-2026-0042"
    assert b"Dongjak" not in req.body  # encrypted on the wire


def test_a_gone_subscription_is_given_up_and_a_busy_service_retried(
    push_service: Receiver, tmp_path: Path
) -> None:
    channel = WebPushChannel(load_or_create_key(tmp_path / "vapid.pem"), "mailto:ops@safecity.example", 5.0)
    browser = Browser(f"{push_service.url}/push/gone")
    push_service.respond = lambda req: (410, {}, b"subscription expired")
    with pytest.raises(PermanentFailure, match="410"):
        channel.send(sample_message(), browser.recipient(), "k1")
    push_service.respond = lambda req: (429, {"Retry-After": "30"}, b"slow down")
    with pytest.raises(TemporaryFailure, match="429"):
        channel.send(sample_message(), browser.recipient(), "k2")
    push_service.respond = lambda req: (503, {}, b"")
    with pytest.raises(TemporaryFailure, match="503"):
        channel.send(sample_message(), browser.recipient(), "k3")
    push_service.stop()  # nobody listening: try again later
    with pytest.raises(TemporaryFailure, match="unreachable"):
        channel.send(sample_message(), browser.recipient(), "k4")
    with pytest.raises(PermanentFailure, match="PushSubscription"):
        channel.send(sample_message(), Recipient(8, "webpush", "not json", "ko"), "k5")


def test_the_vapid_key_is_made_once_and_kept_private(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "vapid.pem"
    first = public_key(load_or_create_key(path))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert public_key(load_or_create_key(path)) == first  # subscribed browsers keep working after a restart
    assert len(unb64url(first)) == 65 and unb64url(first)[0] == 4  # an uncompressed P-256 point


def test_the_page_gets_the_key_and_only_public_push_services_are_accepted(api: Api) -> None:
    r = api.client.get("/subscriptions/push-key")
    assert r.status_code == 200
    assert r.json()["publicKey"] == api.platform.delivery.channels["webpush"].public_key  # type: ignore[attr-defined]
    assert api.client.get("/sw.js").headers["content-type"].startswith("text/javascript")

    def subscribe(endpoint: str) -> tuple[int, str]:
        address = orjson.dumps(Browser(endpoint).subscription).decode()
        body = {
            "kind": "anonymous",
            "channels": [{"channel": "webpush", "address": address}],
            "areas": [{"kind": "point", "lon": 126.9396, "lat": 37.5124}],
        }
        got = api.client.post("/subscriptions", json=body)
        return got.status_code, got.text

    status, text = subscribe("https://fcm.googleapis.com/fcm/send/dXJ0aGlzIGlzIGEgdGVzdA")
    assert status == 201, text
    for endpoint in ("http://push.example.org/x", "https://127.0.0.1/push", "https://localhost/push"):
        status, text = subscribe(endpoint)
        assert status == 400 and "channels[0].address" in text, (endpoint, text)
    bad = api.client.post(
        "/subscriptions",
        json={
            "kind": "anonymous",
            "channels": [{"channel": "webpush", "address": "{}"}],
            "areas": [{"kind": "point", "lon": 126.9396, "lat": 37.5124}],
        },
    )
    assert bad.status_code == 400 and "endpoint" in bad.text


def test_without_web_push_the_page_is_told_so(api: Api) -> None:
    api.platform.delivery.channels.pop("webpush")
    r = api.client.get("/subscriptions/push-key")
    assert r.status_code == 404 and "SAFECITY_WARNING__WEBPUSH__ENABLED" in r.text
