# SPDX-License-Identifier: Apache-2.0
"""Public alert stream for web clients (``/alerts/stream``): every issued alert as an ``alert`` event on
a :class:`~safecity.situation.broadcast.Broadcaster` that follows ``warning.AlertIssued`` on the bus, so
that every process streams it, with the event's id as the SSE id (``Last-Event-ID`` catches up from the
outbox, across restarts and processes). The recipient is everyone (address ``""``): delivering to it
records that the alert is on the stream, which the bus feeds.

The event data: ``{"identifier", "msgType", "sent", "category", "texts": {lang: {...}}, "link"}``
with every language the alert has, so a browser picks its own.
"""

from __future__ import annotations

from typing import Any

from safecity.situation.broadcast import Broadcaster
from safecity.warning.channels.base import SendResult
from safecity.warning.channels.webhook import text_json
from safecity.warning.message import Message, Recipient

EVENT = "alert"


class AlertStream(Broadcaster):
    """The public stream of issued alerts (``/alerts/stream``). Its own type, so routes find it among
    the platform's services (the situation room's stream is another)."""


def stream_data(message: Message) -> dict[str, Any]:
    """What the stream says of an alert."""
    return {
        "identifier": message.identifier,
        "msgType": message.msg_type,
        "sent": message.sent.isoformat(),
        "category": message.category_ko,
        "texts": {lang: text_json(t) for lang, t in message.texts.items()},
        "link": message.link,
    }


class SseChannel:
    name = "sse"

    def __init__(self, broadcaster: Broadcaster | None = None) -> None:
        #: Served by the alert stream route (``broadcaster.subscribe(last_id)``).
        self.broadcaster = broadcaster or Broadcaster()

    def send(self, message: Message, recipient: Recipient, key: str) -> SendResult:
        # the stream of every process shows the alert from its AlertIssued event, committed with it
        return SendResult("delivered", f"on the stream ({self.broadcaster.clients} clients here)")

    def close(self) -> None:
        pass
