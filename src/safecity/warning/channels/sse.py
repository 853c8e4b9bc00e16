# SPDX-License-Identifier: Apache-2.0
"""Public alert stream for web clients: delivering is publishing an ``alert`` event on a
:class:`~safecity.situation.broadcast.Broadcaster` (the same fan-out, replay buffer and
``Last-Event-ID`` catch-up as the situation stream). The recipient is everyone (address ``""``).

The event data: ``{"identifier", "msgType", "sent", "category", "texts": {lang: {...}}, "link"}``
with every language the alert has, so a browser picks its own.
"""

from __future__ import annotations

from safecity.situation.broadcast import Broadcaster
from safecity.warning.channels.base import SendResult
from safecity.warning.channels.webhook import text_json
from safecity.warning.message import Message, Recipient

EVENT = "alert"


class AlertStream(Broadcaster):
    """The public stream of issued alerts (``/alerts/stream``): the SSE channel publishes to it. Its own
    type, so routes find it among the platform's services (the situation room's stream is another)."""


class SseChannel:
    name = "sse"

    def __init__(self, broadcaster: Broadcaster | None = None) -> None:
        #: Serve this from the alert stream route (``broadcaster.subscribe(last_id)``).
        self.broadcaster = broadcaster or Broadcaster()

    def send(self, message: Message, recipient: Recipient, key: str) -> SendResult:
        self.broadcaster.publish(
            EVENT,
            {
                "identifier": message.identifier,
                "msgType": message.msg_type,
                "sent": message.sent.isoformat(),
                "category": message.category_ko,
                "texts": {lang: text_json(t) for lang, t in message.texts.items()},
                "link": message.link,
            },
        )
        return SendResult("delivered", f"{self.broadcaster.clients} clients")

    def close(self) -> None:
        pass
