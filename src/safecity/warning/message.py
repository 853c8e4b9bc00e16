# SPDX-License-Identifier: Apache-2.0
"""What the delivery channels are handed: one alert (:class:`Message`) and one recipient (:class:`Recipient`).

The alert workflow builds a :class:`Message` from the issued CAP alert and the targeting builds the
:class:`Recipient` list; delivery stores both, rendered per recipient, in its queue (see
:func:`Message.to_payload`), so a retry after a restart needs nothing but the queued row.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

#: Language used when a recipient's language has no text: every platform alert has Korean text.
FALLBACK_LANGUAGE = "ko"
#: Channels without per-subscriber recipients: the one post or publication reaches everyone.
BROADCAST_CHANNELS = frozenset({"sse", "mastodon"})


@dataclass(frozen=True)
class MessageText:
    """The alert's text in one language."""

    headline: str
    description: str = ""
    instruction: str = ""
    area_desc: str = ""
    #: Action lines (what to do now), in order.
    guide: tuple[str, ...] = ()
    #: Cell broadcast / SMS text, already checked against the CB length limit by the builder.
    short_text: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "headline": self.headline,
            "description": self.description,
            "instruction": self.instruction,
            "area_desc": self.area_desc,
            "guide": list(self.guide),
            "short_text": self.short_text,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> MessageText:
        return cls(
            headline=d["headline"],
            description=d.get("description", ""),
            instruction=d.get("instruction", ""),
            area_desc=d.get("area_desc", ""),
            guide=tuple(d.get("guide", ())),
            short_text=d.get("short_text", ""),
        )


@dataclass(frozen=True)
class Message:
    """What every channel needs to know about one alert."""

    identifier: str  # CAP identifier
    msg_type: str  # CAP msgType: Alert | Update | Cancel
    sent: datetime  # CAP sent, timezone-aware
    category_ko: str  # Korean emergency text category, e.g. 긴급재난문자
    texts: dict[str, MessageText]  # by language: "ko", "en", ...
    cap_xml: bytes = b""
    cap_json: dict[str, Any] = field(default_factory=dict)
    link: str | None = None  # public URL of the alert page or XML

    def text(self, language: str) -> MessageText:
        """The text in ``language``, else Korean, else any; raises ``KeyError`` if the alert has no text."""
        for lang in (language, FALLBACK_LANGUAGE):
            if lang in self.texts:
                return self.texts[lang]
        return next(iter(self.texts.values()))

    def to_payload(self, languages: set[str] | None = None) -> dict[str, Any]:
        """JSON for the delivery queue; ``languages`` keeps only those texts (None: all)."""
        texts = {k: v for k, v in self.texts.items() if languages is None or k in languages}
        return {
            "identifier": self.identifier,
            "msg_type": self.msg_type,
            "sent": self.sent.isoformat(),
            "category_ko": self.category_ko,
            "texts": {k: v.to_json() for k, v in texts.items()},
            # base64: the column is JSON and the XML's bytes must come back exactly as issued
            "cap_xml": base64.b64encode(self.cap_xml).decode("ascii"),
            "cap_json": self.cap_json,
            "link": self.link,
        }

    @classmethod
    def from_payload(cls, d: dict[str, Any]) -> Message:
        return cls(
            identifier=d["identifier"],
            msg_type=d["msg_type"],
            sent=datetime.fromisoformat(d["sent"]),
            category_ko=d["category_ko"],
            texts={k: MessageText.from_json(v) for k, v in d["texts"].items()},
            cap_xml=base64.b64decode(d.get("cap_xml", "")),
            cap_json=d.get("cap_json") or {},
            link=d.get("link"),
        )


@dataclass(frozen=True)
class Recipient:
    """One destination of one alert on one channel."""

    subscription_id: int | None  # None for the broadcast channels (sse, mastodon)
    channel: str  # email | webhook | sms | sse | mastodon
    address: str  # e-mail address, URL, phone number; "" for sse and mastodon
    language: str = FALLBACK_LANGUAGE
    audience: str = "public"
    secret: str | None = None  # webhook HMAC key

    @classmethod
    def broadcast(cls, channel: str, language: str = FALLBACK_LANGUAGE) -> Recipient:
        """The recipient of a broadcast channel: everyone."""
        if channel not in BROADCAST_CHANNELS:
            raise ValueError(
                f"{channel} is not a broadcast channel ({', '.join(sorted(BROADCAST_CHANNELS))})"
            )
        return cls(None, channel, "", language)

    def idempotency_key(self, identifier: str) -> str:
        """``{identifier}|{subscription_id}|{channel}``; a broadcast recipient has ``*`` as subscription.

        Unique in the delivery queue (one alert reaches one subscription on one channel once) and sent
        to the receiver (``Idempotency-Key`` header, the e-mail Message-ID), so it can drop a repeat.
        """
        sub = "*" if self.subscription_id is None else str(self.subscription_id)
        return f"{identifier}|{sub}|{self.channel}"

    def to_json(self) -> dict[str, Any]:
        return {
            "subscription_id": self.subscription_id,
            "channel": self.channel,
            "address": self.address,
            "language": self.language,
            "audience": self.audience,
            "secret": self.secret,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Recipient:
        return cls(
            subscription_id=d.get("subscription_id"),
            channel=d["channel"],
            address=d.get("address", ""),
            language=d.get("language", FALLBACK_LANGUAGE),
            audience=d.get("audience", "public"),
            secret=d.get("secret"),
        )
