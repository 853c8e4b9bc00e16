# SPDX-License-Identifier: Apache-2.0
"""Each delivery channel against a real server: an HTTP server in a thread (webhook, SMS gateway,
Mastodon), aiosmtpd on a free port (e-mail), the situation Broadcaster on an event loop (SSE)."""

from __future__ import annotations

import email
import hashlib
import hmac
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import default as default_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import Envelope, Session

from safecity.settings import (
    CellBroadcastSettings,
    MastodonSettings,
    Settings,
    SmsSettings,
    SmtpSettings,
    WarningSettings,
    WebPushSettings,
)
from safecity.warning.channels import PermanentFailure, TemporaryFailure, build_channels
from safecity.warning.channels.mastodon import MAX_STATUS, MastodonChannel
from safecity.warning.channels.sms import SmsChannel
from safecity.warning.channels.smtp import SmtpChannel, message_id
from safecity.warning.channels.sse import SseChannel
from safecity.warning.channels.webhook import SIGNATURE_HEADER, WebhookChannel
from safecity.warning.message import Message, MessageText, Recipient
from tests.conftest import free_port

CAP_XML = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">'
    "<identifier>KR-SEOUL-2026-0042</identifier><info><headline>동작구 침수 경보</headline></info></alert>"
).encode()


def sample_message(identifier: str = "KR-SEOUL-2026-0042", msg_type: str = "Alert") -> Message:
    return Message(
        identifier=identifier,
        msg_type=msg_type,
        sent=datetime(2026, 11, 25, 1, 30, tzinfo=UTC),
        category_ko="긴급재난문자",
        texts={
            "ko": MessageText(
                headline="동작구 침수 경보",
                description="도림천 수위가 위험 수위를 넘었습니다.",
                instruction="저지대 주민은 즉시 대피하십시오.",
                area_desc="서울특별시 동작구",
                guide=("지하 공간에서 벗어나십시오", "높은 곳으로 이동하십시오"),
                short_text="[동작구] 도림천 범람 위험. 저지대 주민은 즉시 높은 곳으로 대피하십시오.",
            ),
            "en": MessageText(
                headline="Flood warning, Dongjak-gu",
                description="The Dorimcheon has passed its danger level.",
                instruction="Residents of low-lying areas: evacuate now.",
                area_desc="Dongjak-gu, Seoul",
                guide=("Leave basements", "Move to higher ground"),
                short_text="[Dongjak] Dorimcheon flood risk. Low-lying areas: move to higher ground now.",
            ),
        },
        cap_xml=CAP_XML,
        cap_json={"identifier": identifier, "msgType": msg_type},
        link=f"https://safecity.example/alerts/{identifier}.xml",
    )


# --- a real HTTP receiver ---------------------------------------------------------------------------


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body)


@dataclass
class Receiver:
    """An HTTP server in a thread that records every POST and answers ``respond(request)``
    (default 200). ``stop()`` closes the port (connections are refused); ``start()`` reopens it."""

    port: int = field(default_factory=free_port)
    respond: Callable[[Request], tuple[int, dict[str, str], bytes]] = lambda r: (200, {}, b"{}")
    requests: list[Request] = field(default_factory=list)
    delay_s: float = 0.0

    def __post_init__(self) -> None:
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                req = Request(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                if receiver.delay_s:
                    time.sleep(receiver.delay_s)
                with receiver._lock:
                    receiver.requests.append(req)
                status, headers, out = receiver.respond(req)
                try:
                    self.send_response(status)
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(len(out)))
                    self.end_headers()
                    self.wfile.write(out)
                except (BrokenPipeError, ConnectionResetError):  # the client timed out and left
                    pass

            def log_message(self, format: str, *args: Any) -> None:
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            assert self._thread is not None
            self._thread.join(5)
        self._server = None

    def per_key(self) -> Counter[str]:
        with self._lock:
            return Counter(r.headers["idempotency-key"] for r in self.requests)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    yield r
    r.stop()


def verify_signature(secret: str, req: Request) -> bool:
    expected = "sha256=" + hmac.new(secret.encode(), req.body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, req.headers.get(SIGNATURE_HEADER.lower(), ""))


# --- webhook ----------------------------------------------------------------------------------------


def test_webhook_posts_signed_json_in_the_recipients_language(receiver: Receiver) -> None:
    channel = WebhookChannel(timeout_s=5)
    recipient = Recipient(7, "webhook", receiver.url + "/hook", "en", "public", "s3cret")
    result = channel.send(sample_message(), recipient, "KR-SEOUL-2026-0042|7|webhook")
    channel.close()
    assert result.status == "delivered"
    [req] = receiver.requests
    assert req.path == "/hook"
    assert verify_signature("s3cret", req)
    assert not verify_signature("wrong", req)
    assert req.headers["idempotency-key"] == "KR-SEOUL-2026-0042|7|webhook"
    assert req.headers["content-type"] == "application/json"
    body = req.json()
    assert body["identifier"] == "KR-SEOUL-2026-0042"
    assert body["msgType"] == "Alert"
    assert body["language"] == "en"
    assert body["text"]["headline"] == "Flood warning, Dongjak-gu"
    assert body["text"]["guide"] == ["Leave basements", "Move to higher ground"]
    assert body["cap"] == {"identifier": "KR-SEOUL-2026-0042", "msgType": "Alert"}
    assert body["link"].endswith("/alerts/KR-SEOUL-2026-0042.xml")


def test_webhook_falls_back_to_korean_and_omits_the_signature_without_a_secret(receiver: Receiver) -> None:
    channel = WebhookChannel(timeout_s=5)
    channel.send(sample_message(), Recipient(8, "webhook", receiver.url, "ja", "public", None), "k")
    channel.close()
    [req] = receiver.requests
    assert SIGNATURE_HEADER.lower() not in req.headers
    assert req.json()["language"] == "ko"
    assert req.json()["text"]["headline"] == "동작구 침수 경보"


@pytest.mark.parametrize(
    ("status", "error", "retry_after"),
    [
        (500, TemporaryFailure, None),
        (503, TemporaryFailure, 30.0),
        (408, TemporaryFailure, None),
        (429, TemporaryFailure, 30.0),
        (400, PermanentFailure, None),
        (404, PermanentFailure, None),
        (410, PermanentFailure, None),
        (301, PermanentFailure, None),
    ],
)
def test_webhook_classifies_answers(
    receiver: Receiver, status: int, error: type[Exception], retry_after: float | None
) -> None:
    headers = {"Retry-After": "30"} if retry_after else {}
    headers |= {"Location": "http://127.0.0.1:1/elsewhere"} if status == 301 else {}
    receiver.respond = lambda r: (status, headers, b"nope")
    channel = WebhookChannel(timeout_s=5)
    with pytest.raises(error) as info:
        channel.send(sample_message(), Recipient(1, "webhook", receiver.url, "ko"), "k")
    channel.close()
    assert f"HTTP {status}" in str(info.value)
    if isinstance(info.value, TemporaryFailure):
        assert info.value.retry_after_s == retry_after
    assert len(receiver.requests) == 1  # no redirect followed


def test_webhook_unreachable_or_slow_is_temporary(receiver: Receiver) -> None:
    channel = WebhookChannel(timeout_s=0.3)
    closed = f"http://127.0.0.1:{free_port()}/hook"
    with pytest.raises(TemporaryFailure, match="unreachable"):
        channel.send(sample_message(), Recipient(1, "webhook", closed, "ko"), "k")
    for bad in ("ftp://127.0.0.1/hook", "http://[::1"):
        with pytest.raises(PermanentFailure, match="cannot be used"):
            channel.send(sample_message(), Recipient(1, "webhook", bad, "ko"), "k")
    receiver.delay_s = 1.0
    with pytest.raises(TemporaryFailure, match="timed out"):
        channel.send(sample_message(), Recipient(1, "webhook", receiver.url, "ko"), "k")
    channel.close()


# --- SMS gateway ------------------------------------------------------------------------------------


def test_sms_gateway_gets_the_short_text_with_the_api_key(receiver: Receiver) -> None:
    receiver.respond = lambda r: (202, {"Content-Type": "application/json"}, b'{"id": "gw-991"}')
    channel = SmsChannel(receiver.url + "/sms", "gw-key", max_chars=90, timeout_s=5)
    result = channel.send(sample_message(), Recipient(3, "sms", "+821012345678", "ko"), "A|3|sms")
    channel.close()
    assert result.status == "sent"
    assert result.detail == "gw-991"
    [req] = receiver.requests
    assert req.path == "/sms"
    assert req.headers["authorization"] == "Bearer gw-key"
    assert req.headers["idempotency-key"] == "A|3|sms"
    body = req.json()
    assert body["to"] == "+821012345678"
    assert body["text"] == sample_message().texts["ko"].short_text
    assert body["category"] == "긴급재난문자"


def test_sms_refuses_a_text_longer_than_one_cell_broadcast(receiver: Receiver) -> None:
    channel = SmsChannel(receiver.url, "gw-key", max_chars=20, timeout_s=5)
    with pytest.raises(PermanentFailure, match=r"warning\.cb\.max_chars=20"):
        channel.send(sample_message(), Recipient(3, "sms", "+821012345678", "ko"), "k")
    channel.close()
    assert receiver.requests == []


def test_sms_gateway_errors(receiver: Receiver) -> None:
    channel = SmsChannel(receiver.url, "gw-key", max_chars=90, timeout_s=5)
    receiver.respond = lambda r: (503, {}, b"busy")
    with pytest.raises(TemporaryFailure):
        channel.send(sample_message(), Recipient(3, "sms", "+821012345678", "ko"), "k")
    receiver.respond = lambda r: (422, {}, b"bad number")
    with pytest.raises(PermanentFailure, match="bad number"):
        channel.send(sample_message(), Recipient(3, "sms", "+82", "ko"), "k")
    channel.close()


# --- Mastodon ---------------------------------------------------------------------------------------


def test_mastodon_posts_a_public_status_with_idempotency_key(receiver: Receiver) -> None:
    receiver.respond = lambda r: (200, {"Content-Type": "application/json"}, b'{"id": "1101"}')
    channel = MastodonChannel(receiver.url + "/", "tok", timeout_s=5)
    result = channel.send(sample_message(), Recipient.broadcast("mastodon"), "A|*|mastodon")
    channel.close()
    assert result.status == "delivered"
    assert result.detail == "status 1101"
    [req] = receiver.requests
    assert req.path == "/api/v1/statuses"
    assert req.headers["authorization"] == "Bearer tok"
    assert req.headers["idempotency-key"] == "A|*|mastodon"
    body = req.json()
    assert body["visibility"] == "public"
    assert body["language"] == "ko"
    assert body["status"].startswith("[긴급재난문자] 동작구 침수 경보\n\n저지대 주민은")
    assert body["status"].endswith("\nhttps://safecity.example/alerts/KR-SEOUL-2026-0042.xml")


def test_mastodon_status_is_cut_to_500_characters_keeping_the_link(receiver: Receiver) -> None:
    m = sample_message()
    long = Message(
        m.identifier,
        m.msg_type,
        m.sent,
        m.category_ko,
        {"ko": MessageText(headline="경보 " * 100, instruction="대피 " * 200)},
        link=m.link,
    )
    channel = MastodonChannel(receiver.url, "tok", timeout_s=5)
    channel.send(long, Recipient.broadcast("mastodon"), "k")
    channel.close()
    status = receiver.requests[0].json()["status"]
    assert len(status) <= MAX_STATUS
    assert status.endswith("…\n" + str(m.link))


# --- e-mail -----------------------------------------------------------------------------------------


class MailSink:
    def __init__(self) -> None:
        self.messages: list[tuple[Envelope, EmailMessage]] = []
        self.refuse: set[str] = set()

    async def handle_RCPT(
        self, server: SMTPServer, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        if address in self.refuse:
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTPServer, session: Session, envelope: Envelope) -> str:
        assert isinstance(envelope.content, bytes)
        parsed = email.message_from_bytes(envelope.content, policy=default_policy)
        assert isinstance(parsed, EmailMessage)
        self.messages.append((envelope, parsed))
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_server() -> Iterator[tuple[Controller, MailSink]]:
    sink = MailSink()
    controller = Controller(sink, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller, sink
    controller.stop()


def test_email_arrives_bilingual_with_the_cap_attachment(smtp_server: tuple[Controller, MailSink]) -> None:
    controller, sink = smtp_server
    channel = SmtpChannel(
        "127.0.0.1", controller.port, "alerts@safecity.example", starttls=False, timeout_s=5
    )
    key = "KR-SEOUL-2026-0042|5|email"
    result = channel.send(sample_message(), Recipient(5, "email", "citizen@example.org", "en"), key)
    assert result.status == "sent"
    [(envelope, mail)] = sink.messages
    assert envelope.mail_from == "alerts@safecity.example"
    assert envelope.rcpt_tos == ["citizen@example.org"]
    assert mail["Message-ID"] == message_id(key, "alerts@safecity.example")
    assert mail["Message-ID"].endswith("@safecity.example>")
    assert mail["Subject"] == "[긴급재난문자] Flood warning, Dongjak-gu / 동작구 침수 경보"
    body = mail.get_body(("plain",))
    assert body is not None
    text = body.get_content()
    # the recipient's language first, then Korean
    assert text.index("Flood warning, Dongjak-gu") < text.index("동작구 침수 경보")
    for line in (
        "Residents of low-lying areas: evacuate now.",
        "저지대 주민은 즉시 대피하십시오.",
        "- 높은 곳으로 이동하십시오",
    ):
        assert line in text
    assert "2026-11-25 10:30 KST" in text
    [attachment] = list(mail.iter_attachments())
    assert attachment.get_content_type() == "application/cap+xml"
    assert attachment.get_filename() == "KR-SEOUL-2026-0042.xml"
    assert attachment.get_content() == CAP_XML


def test_email_refused_recipient_is_permanent_and_a_down_server_temporary(
    smtp_server: tuple[Controller, MailSink],
) -> None:
    controller, sink = smtp_server
    sink.refuse.add("gone@example.org")
    channel = SmtpChannel(
        "127.0.0.1", controller.port, "alerts@safecity.example", starttls=False, timeout_s=5
    )
    with pytest.raises(PermanentFailure, match="550"):
        channel.send(sample_message(), Recipient(5, "email", "gone@example.org", "ko"), "k")
    down = SmtpChannel("127.0.0.1", free_port(), "alerts@safecity.example", starttls=False, timeout_s=5)
    with pytest.raises(TemporaryFailure, match="SMTP"):
        down.send(sample_message(), Recipient(5, "email", "citizen@example.org", "ko"), "k")
    assert sink.messages == []


# --- SSE --------------------------------------------------------------------------------------------


def test_sse_delivery_says_the_alert_is_on_the_stream() -> None:
    # the stream itself is fed from the bus (warning.AlertIssued) in every process: tests/warning/
    # test_alert_stream.py; the channel's delivery records it for the alert's delivery report
    channel = SseChannel()
    result = channel.send(sample_message(), Recipient.broadcast("sse"), "A|*|sse")
    assert result.status == "delivered"
    assert "on the stream" in (result.detail or "")


# --- the registry -----------------------------------------------------------------------------------


def test_build_channels_offers_only_what_is_configured(tmp_path: Path) -> None:
    bare = build_channels(
        Settings(data_dir=tmp_path, warning=WarningSettings(webpush=WebPushSettings(enabled=False)))
    )
    assert set(bare) == {"webhook", "sse"}
    # Web Push needs no setting: its VAPID key is made under the data directory
    assert set(build_channels(Settings(data_dir=tmp_path))) == {"webhook", "sse", "webpush"}
    assert (tmp_path / "webpush-vapid.pem").is_file()
    full = build_channels(
        Settings(
            data_dir=tmp_path,
            warning=WarningSettings(
                smtp=SmtpSettings(host="127.0.0.1", from_address="alerts@safecity.example"),
                sms=SmsSettings(gateway_url="http://127.0.0.1:9/sms", gateway_key="k"),
                mastodon=MastodonSettings(url="https://social.example", token="t"),
                cb=CellBroadcastSettings(max_chars=157),
            ),
        )
    )
    assert set(full) == {"webhook", "sse", "email", "sms", "mastodon", "webpush"}
    assert isinstance(full["sms"], SmsChannel)
    assert full["sms"].max_chars == 157
    half = build_channels(
        Settings(
            data_dir=tmp_path,
            warning=WarningSettings(
                smtp=SmtpSettings(host="127.0.0.1"),
                sms=SmsSettings(gateway_url="http://x"),
                webpush=WebPushSettings(enabled=False),
            ),
        )
    )
    assert set(half) == {"webhook", "sse"}  # no sender address, no API key: not available
    for channels in (bare, full, half):
        for c in channels.values():
            c.close()


def test_email_over_starttls_with_login(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, smtp_server: tuple[Controller, MailSink]
) -> None:
    """The production path: STARTTLS (certificate verified) and AUTH LOGIN/PLAIN."""
    import shutil
    import ssl
    import subprocess

    from aiosmtpd.smtp import AuthResult, LoginPassword

    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed (needed to make the test certificate)")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"),
            *("-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
    )
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(cert, key)

    def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"alerts", b"pw")
        return AuthResult(success=ok)

    _, sink = smtp_server
    controller = Controller(
        sink,
        hostname="127.0.0.1",
        port=free_port(),
        tls_context=tls,
        require_starttls=True,
        auth_required=True,
        authenticator=authenticate,
    )
    controller.start()
    try:
        monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # trust the test certificate, as a city CA would be
        good = SmtpChannel(
            "127.0.0.1", controller.port, "alerts@safecity.example", user="alerts", password="pw"
        )
        assert (
            good.send(sample_message(), Recipient(5, "email", "citizen@example.org", "ko"), "k").status
            == "sent"
        )
        assert len(sink.messages) == 1
        bad = SmtpChannel(
            "127.0.0.1",
            controller.port,
            "alerts@safecity.example",
            user="alerts",
            password="no",
            timeout_s=2,
        )
        with pytest.raises(TemporaryFailure, match="SMTP"):  # a configuration fault: retried, not dropped
            bad.send(sample_message(), Recipient(5, "email", "citizen@example.org", "ko"), "k")
        monkeypatch.delenv("SSL_CERT_FILE")
        untrusted = SmtpChannel(
            "127.0.0.1", controller.port, "alerts@safecity.example", user="alerts", password="pw"
        )
        with pytest.raises(TemporaryFailure, match="SSLCertVerificationError"):
            untrusted.send(sample_message(), Recipient(5, "email", "citizen@example.org", "ko"), "k")
        assert len(sink.messages) == 1
    finally:
        controller.stop()
