# SPDX-License-Identifier: Apache-2.0
"""SMS / cell-broadcast gateway channel: a generic JSON-over-HTTP adapter.

The contract a gateway (or a small shim in front of an operator's API) implements:

``POST <warning.sms.gateway_url>`` with ``Authorization: Bearer <warning.sms.gateway_key>``, ``Idempotency-Key: <key>``
and the JSON body ``{"to": "+8210...", "text": "...", "category": "긴급재난문자", "language": "ko",
"identifier": "<CAP identifier>", "idempotencyKey": "<key>"}``.

It answers 2xx once it has accepted the message (optionally ``{"id": "<gateway message id>"}``): we
record ``sent``, because handset delivery is the gateway's business. 5xx, 408 and 429 (honouring
``Retry-After``) are retried; other 4xx (a bad number, a refused text) are given up.

The text is the alert's ``short_text`` in the recipient's language. It must fit one cell-broadcast
message (``warning.cb.max_chars`` characters): a longer one is refused here, as a permanent failure, rather
than cut by the network mid-word; so is one with characters the network cannot carry (the rules of
:func:`safecity.warning.korea.check_short_text`).
"""

from __future__ import annotations

import httpx
import orjson

from safecity.warning.channels.base import PermanentFailure, SendResult, post_json
from safecity.warning.channels.webhook import USER_AGENT
from safecity.warning.korea import check_short_text
from safecity.warning.message import Message, Recipient


class SmsChannel:
    name = "sms"

    def __init__(
        self,
        url: str,
        api_key: str,
        max_chars: int,
        timeout_s: float,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = url
        self.max_chars = max_chars
        self._client = httpx.Client(
            timeout=timeout_s,
            follow_redirects=False,
            headers={"User-Agent": USER_AGENT, "Authorization": f"Bearer {api_key}"},
            transport=transport,
        )

    def send(self, message: Message, recipient: Recipient, key: str) -> SendResult:
        text = message.text(recipient.language).short_text
        problems = check_short_text(text, self.max_chars)
        if problems:
            # Refused here rather than cut by the network mid-word; the builder checks the same rules,
            # so this only trips when warning.cb.max_chars changed between issuing and sending.
            raise PermanentFailure(
                f"SMS text of alert {message.identifier} cannot go out as one cell-broadcast message "
                f"(warning.cb.max_chars={self.max_chars}): {'; '.join(problems)}"
            )
        body = orjson.dumps(
            {
                "to": recipient.address,
                "text": text,
                "category": message.category_ko,
                "language": recipient.language,
                "identifier": message.identifier,
                "idempotencyKey": key,
            }
        )
        response = post_json(self._client, self.url, "SMS gateway", body, {"Idempotency-Key": key})
        gateway_id = None
        if response.content:
            try:
                answer = orjson.loads(response.content)
            except orjson.JSONDecodeError:
                answer = None
            if isinstance(answer, dict) and answer.get("id") is not None:
                gateway_id = str(answer["id"])
        return SendResult("sent", gateway_id or f"HTTP {response.status_code}")

    def close(self) -> None:
        self._client.close()
