# SPDX-License-Identifier: Apache-2.0
"""Mastodon channel: one public post per alert on the city's account.

``POST {warning.mastodon.url}/api/v1/statuses`` with the access token and an ``Idempotency-Key`` header:
Mastodon keeps the key for an hour and answers a repeat with the status it already created, so a
retry after a crash mid-send does not post twice. The status is the headline, the instruction and
the link, cut to Mastodon's 500 characters (the link is kept whole).
"""

from __future__ import annotations

import httpx
import orjson

from safecity.warning.channels.base import SendResult, post_json
from safecity.warning.channels.webhook import USER_AGENT
from safecity.warning.message import Message, Recipient

#: Mastodon's default status length limit (instances may allow more; none allows less).
MAX_STATUS = 500


def status_text(message: Message, language: str, limit: int = MAX_STATUS) -> str:
    t = message.text(language)
    tail = f"\n{message.link}" if message.link else ""
    head = f"[{message.category_ko}] {t.headline}"
    if t.instruction:
        head += f"\n\n{t.instruction}"
    room = limit - len(tail)
    if len(head) > room:
        head = head[: max(0, room - 1)].rstrip() + "…"
    return head + tail


class MastodonChannel:
    name = "mastodon"

    def __init__(
        self, base_url: str, token: str, timeout_s: float, transport: httpx.BaseTransport | None = None
    ) -> None:
        self.url = base_url.rstrip("/") + "/api/v1/statuses"
        self._client = httpx.Client(
            timeout=timeout_s,
            follow_redirects=False,
            headers={"User-Agent": USER_AGENT, "Authorization": f"Bearer {token}"},
            transport=transport,
        )

    def send(self, message: Message, recipient: Recipient, key: str) -> SendResult:
        language = recipient.language if recipient.language in message.texts else "ko"
        body = orjson.dumps(
            {"status": status_text(message, language), "visibility": "public", "language": language}
        )
        response = post_json(self._client, self.url, "Mastodon", body, {"Idempotency-Key": key})
        try:
            status_id = orjson.loads(response.content).get("id")
        except (orjson.JSONDecodeError, AttributeError):
            status_id = None
        return SendResult("delivered", f"status {status_id}" if status_id else f"HTTP {response.status_code}")

    def close(self) -> None:
        self._client.close()
