# SPDX-License-Identifier: Apache-2.0
"""The request head limit, enforced in the server (issue 13).

``http_max_header_bytes`` (16 KiB) was passed to uvicorn as h11's limit, but uvicorn serves with
httptools when it is installed, and httptools has no limit: 8 MB headers were accepted, and 40 slow
ones held 300 MB. Here the httptools protocol counts the request line and header bytes as they are
parsed and answers ``431 Request Header Fields Too Large`` past the limit, closing the connection.
A head must also arrive whole within HEAD_TIMEOUT_S of the connection (or of the request's first byte on
a kept-alive one): a client trickling a head byte by byte gets ``408`` and the connection is closed, so
slow heads cannot hold connections open without end.

The body gets the same treatment with a minimum rate, as Apache's mod_reqtimeout does
(``body=20,MinRate=500``): it must arrive within BODY_TIMEOUT_S plus one second for every
BODY_MIN_RATE bytes received, so a 50 MB geodata import on a slow link is fine but a client trickling a
body byte by byte is answered ``408`` and cut off (the outside review's slow-body gap, issue 13).
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from safecity.settings import Settings


class _HeadTooLarge(Exception):
    """Raised from a parser callback; httptools turns it into a parser error, answered with 431."""


#: Seconds a request head may take to arrive (browsers and devices send one in milliseconds).
HEAD_TIMEOUT_S = 10.0
#: Seconds a request body may take before its rate allowance starts (mod_reqtimeout's default 20 s).
BODY_TIMEOUT_S = 20.0
#: Bytes per second a body must keep up on average after that (mod_reqtimeout's MinRate=500).
BODY_MIN_RATE = 500.0


class HeadLimitedProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a limit on the request head's size and time (set by
    :func:`head_limited`)."""

    max_head_bytes = 16 * 1024
    head_timeout_s = HEAD_TIMEOUT_S
    body_timeout_s = BODY_TIMEOUT_S
    body_min_rate = BODY_MIN_RATE
    _head_timer: asyncio.TimerHandle | None = None
    _body_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_head_timer()
        self._disarm_body_timer()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        self._head_bytes = 0
        self._head_too_large = False
        if self._head_timer is None:  # a later request on a kept-alive connection
            self._arm_head_timer()
        super().on_message_begin()

    def on_headers_complete(self) -> None:
        self._disarm_head_timer()
        super().on_headers_complete()
        # Armed for every request; a request without a body completes in the same parse, which disarms it.
        self._body_started = self.loop.time()
        self._body_bytes = 0
        self._arm_body_timer()

    def on_body(self, body: bytes) -> None:
        self._body_bytes += len(body)
        self._arm_body_timer()  # each piece earns its time: the deadline moves by len/min_rate
        super().on_body(body)

    def on_message_complete(self) -> None:
        self._disarm_body_timer()
        super().on_message_complete()

    def _arm_body_timer(self) -> None:
        self._disarm_body_timer()
        deadline = self._body_started + self.body_timeout_s + self._body_bytes / self.body_min_rate
        self._body_timer = self.loop.call_at(deadline, self._body_timed_out)

    def _disarm_body_timer(self) -> None:
        if self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = None

    def _body_timed_out(self) -> None:
        self._body_timer = None
        if self.transport.is_closing():
            return
        cycle = getattr(self, "cycle", None)
        if cycle is not None and cycle.response_started:
            self.transport.close()  # answered already without reading it all: just stop waiting
            return
        self._refuse_408(
            f"request body too slow: {self._body_bytes} bytes in "
            f"{self.loop.time() - self._body_started:.0f} s (at least {self.body_min_rate:g} bytes/s "
            f"after the first {self.body_timeout_s:g} s)"
        )

    def _arm_head_timer(self) -> None:
        self._disarm_head_timer()
        self._head_timer = self.loop.call_later(self.head_timeout_s, self._head_timed_out)

    def _disarm_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.transport.is_closing():
            return
        self._refuse_408(f"request head not complete within {self.head_timeout_s:g} s")

    def _refuse_408(self, message: str) -> None:
        body = message.encode()
        self.transport.write(
            b"HTTP/1.1 408 Request Timeout\r\n"
            b"content-type: text/plain; charset=utf-8\r\n"
            b"content-length: " + str(len(body)).encode() + b"\r\n"
            b"connection: close\r\n\r\n" + body
        )
        self.transport.close()

    def _count(self, n: int) -> None:
        self._head_bytes += n
        if self._head_bytes > self.max_head_bytes:
            self._head_too_large = True
            raise _HeadTooLarge

    def on_url(self, url: bytes) -> None:
        self._count(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count(len(name) + len(value) + 4)  # ": " and CRLF
        super().on_header(name, value)

    def send_400_response(self, msg: str) -> None:
        if not getattr(self, "_head_too_large", False):
            super().send_400_response(msg)
            return
        body = f"request head over {self.max_head_bytes} bytes (SAFECITY_HTTP_MAX_HEADER_BYTES)".encode()
        self.transport.write(
            b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
            b"content-type: text/plain; charset=utf-8\r\n"
            b"content-length: " + str(len(body)).encode() + b"\r\n"
            b"connection: close\r\n\r\n" + body
        )
        self.transport.close()


def head_limited(
    max_head_bytes: int, head_timeout_s: float = HEAD_TIMEOUT_S, body_timeout_s: float = BODY_TIMEOUT_S
) -> type[HeadLimitedProtocol]:
    return type(
        "HeadLimitedProtocol",
        (HeadLimitedProtocol,),
        {
            "max_head_bytes": max_head_bytes,
            "head_timeout_s": head_timeout_s,
            "body_timeout_s": body_timeout_s,
        },
    )


def server_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's options for ``safecity serve``: the head limit in both HTTP implementations."""
    return {
        "http": head_limited(settings.http_max_header_bytes),
        "h11_max_incomplete_event_size": settings.http_max_header_bytes,
        "timeout_keep_alive": settings.http_keepalive_s,
        "log_level": "warning",
        "access_log": False,
    }
