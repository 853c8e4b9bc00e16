# SPDX-License-Identifier: Apache-2.0
"""The channel port: one small protocol, one module per adapter.

A channel sends one alert to one recipient and says how it went: it returns a :class:`SendResult`, or
raises :class:`TemporaryFailure` (try again later: the receiver is down, slow or busy) or
:class:`PermanentFailure` (trying again cannot help: the address is refused, the text is too long).
Anything else a channel raises is treated as temporary by the delivery worker, so a bug loses nothing.

``send`` is synchronous and is called from the delivery worker's threads: an adapter must be safe to
call from several threads at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

import httpx

from safecity.warning.message import Message, Recipient


@dataclass(frozen=True)
class SendResult:
    #: ``sent``: handed to the next hop (SMTP server, SMS gateway); ``delivered``: the receiver confirmed.
    status: Literal["sent", "delivered"]
    detail: str | None = None  # e.g. the HTTP status or the remote id, kept for the operator


class DeliveryError(Exception):
    """A send that did not succeed; the message is what the operator sees in ``last_error``."""


class TemporaryFailure(DeliveryError):
    def __init__(self, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        #: The receiver asked us to wait this long (HTTP Retry-After), if it said.
        self.retry_after_s = retry_after_s


class PermanentFailure(DeliveryError):
    pass


class Channel(Protocol):
    name: str

    def send(self, message: Message, recipient: Recipient, key: str) -> SendResult:
        """Send ``message`` to ``recipient``. ``key`` is the delivery's idempotency key: pass it to the
        receiver so it can drop a repeat (at-least-once delivery repeats after a crash mid-send).

        Raises :class:`TemporaryFailure` or :class:`PermanentFailure`."""
        ...

    def close(self) -> None:
        """Release connections; the channel is not used afterwards."""
        ...


def classify_http(response: httpx.Response, what: str) -> None:
    """Raise for a non-2xx response: 5xx, 408 and 429 are temporary, any other 4xx (and 3xx: we do not
    follow redirects to places a subscriber did not register) permanent."""
    code = response.status_code
    if 200 <= code < 300:
        return
    reason = f"{what} answered HTTP {code}: {response.text[:200]}"
    if code >= 500 or code in (408, 429):
        raise TemporaryFailure(reason, _retry_after(response))
    raise PermanentFailure(reason)


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:  # the HTTP-date form: rare from APIs, and our backoff covers it
        return None


def post_json(
    client: httpx.Client, url: str, what: str, body: bytes, headers: dict[str, str]
) -> httpx.Response:
    """POST a JSON body and classify the answer; connection errors and timeouts are temporary failures."""
    try:
        response = client.post(url, content=body, headers={"Content-Type": "application/json", **headers})
    except (httpx.InvalidURL, httpx.UnsupportedProtocol) as e:
        raise PermanentFailure(f"{what} URL {url!r} cannot be used: {e}") from None
    except httpx.TimeoutException as e:
        raise TemporaryFailure(f"{what} timed out ({type(e).__name__})") from None
    except httpx.TransportError as e:
        raise TemporaryFailure(f"{what} unreachable: {type(e).__name__}: {e}") from None
    classify_http(response, what)
    return response
