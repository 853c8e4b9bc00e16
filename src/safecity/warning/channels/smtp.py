# SPDX-License-Identifier: Apache-2.0
"""E-mail channel: one plain-text message per recipient through the configured SMTP server.

The body is bilingual: the recipient's language first, then Korean or English (whichever is not
first), each with headline, area, description, instruction and action lines. The CAP XML is attached
as ``application/cap+xml``. The ``Message-ID`` is derived from the delivery's idempotency key, so the
rare repeat after a crash mid-send carries the same id and mail clients and archives can fold it.

A 4xx answer, a dropped connection or a timeout is retried; a 5xx refusal of the recipient or of the
message is given up. Login and sender refusals are retried: they are configuration faults the
operator fixes, after which the queue drains.
"""

from __future__ import annotations

import hashlib
import smtplib
import ssl
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime
from zoneinfo import ZoneInfo

from safecity.warning.channels.base import PermanentFailure, SendResult, TemporaryFailure
from safecity.warning.message import Message, MessageText, Recipient

KST = ZoneInfo("Asia/Seoul")
_LABELS = {
    "ko": {
        "area": "지역",
        "instruction": "행동요령",
        "guide": "지금 할 일",
        "sent": "발송",
        "link": "자세히",
    },
    "en": {
        "area": "Area",
        "instruction": "Instructions",
        "guide": "What to do now",
        "sent": "Sent",
        "link": "Details",
    },
}


def message_id(key: str, sender: str) -> str:
    domain = sender.rpartition("@")[2] or "safecity.invalid"
    return f"<{hashlib.sha256(key.encode()).hexdigest()[:40]}@{domain}>"


def _section(message: Message, lang: str, t: MessageText) -> str:
    labels = _LABELS.get(lang, _LABELS["en"])
    lines = [t.headline, ""]
    if t.area_desc:
        lines.append(f"{labels['area']}: {t.area_desc}")
    lines.append(f"{labels['sent']}: {message.sent.astimezone(KST):%Y-%m-%d %H:%M} KST")
    if t.description:
        lines += ["", t.description]
    if t.instruction:
        lines += ["", f"{labels['instruction']}: {t.instruction}"]
    if t.guide:
        lines += ["", f"{labels['guide']}:", *(f"- {g}" for g in t.guide)]
    if message.link:
        lines += ["", f"{labels['link']}: {message.link}"]
    return "\n".join(lines)


def languages_for(message: Message, language: str) -> list[str]:
    """The recipient's language, then Korean and English, each once and only where the alert has it."""
    out: list[str] = []
    for lang in (language, "ko", "en"):
        if lang in message.texts and lang not in out:
            out.append(lang)
    return out or list(message.texts)[:1]


def build_email(message: Message, recipient: Recipient, key: str, sender: str) -> EmailMessage:
    langs = languages_for(message, recipient.language)
    email = EmailMessage(policy=SMTP)
    headlines = " / ".join(dict.fromkeys(message.texts[lang].headline for lang in langs))
    prefix = (
        f"[{message.category_ko}]" if message.msg_type != "Cancel" else f"[{message.category_ko} 해제/Cancel]"
    )
    email["Subject"] = f"{prefix} {headlines}"
    email["From"] = sender
    email["To"] = recipient.address
    email["Date"] = format_datetime(message.sent)
    email["Message-ID"] = message_id(key, sender)
    email["Auto-Submitted"] = "auto-generated"
    email["Content-Language"] = ", ".join(langs)
    email.set_content(
        "\n\n----------\n\n".join(_section(message, lang, message.texts[lang]) for lang in langs)
    )
    if message.cap_xml:
        email.add_attachment(
            message.cap_xml,
            maintype="application",
            subtype="cap+xml",
            filename=f"{_safe_name(message.identifier)}.xml",
        )
    return email


def _safe_name(identifier: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in identifier)[:100] or "alert"


class SmtpChannel:
    name = "email"

    def __init__(
        self,
        host: str,
        port: int,
        sender: str,
        *,
        starttls: bool = True,
        user: str | None = None,
        password: str | None = None,
        timeout_s: float = 10.0,
    ) -> None:
        self.host = host
        self.port = port
        self.sender = sender
        self.starttls = starttls
        self.user = user
        self.password = password
        self.timeout_s = timeout_s

    def send(self, message: Message, recipient: Recipient, key: str) -> SendResult:
        email = build_email(message, recipient, key, self.sender)
        # One connection per message: the worker sends from several threads, and smtplib connections
        # are not thread-safe; a relay on the same network makes the handshake cheap.
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout_s) as smtp:
                if self.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if self.user:
                    smtp.login(self.user, self.password or "")
                smtp.send_message(email, from_addr=self.sender, to_addrs=[recipient.address])
        except smtplib.SMTPRecipientsRefused as e:
            code, reply = next(iter(e.recipients.values()))
            _raise_for(code, f"SMTP server refused {recipient.address}: {code} {reply!r}")
        except smtplib.SMTPDataError as e:
            _raise_for(e.smtp_code, f"SMTP server refused the message: {e.smtp_code} {e.smtp_error!r}")
        except (smtplib.SMTPException, OSError) as e:  # login, sender, dropped connection, timeout, TLS
            raise TemporaryFailure(f"SMTP {self.host}:{self.port}: {type(e).__name__}: {e}") from None
        return SendResult("sent", f"accepted by {self.host}")

    def close(self) -> None:
        pass


def _raise_for(code: int, reason: str) -> None:
    if 500 <= code < 600:
        raise PermanentFailure(reason)
    raise TemporaryFailure(reason)
