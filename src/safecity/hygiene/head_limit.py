# SPDX-License-Identifier: Apache-2.0
"""The request head limit, enforced in the server (issue 13).

``http_max_header_bytes`` (16 KiB) was passed to uvicorn as h11's limit, but uvicorn serves with
httptools when it is installed, and httptools has no limit: 8 MB headers were accepted, and 40 slow
ones held 300 MB. Here the httptools protocol counts the request line and header bytes as they are
parsed and answers ``431 Request Header Fields Too Large`` past the limit, closing the connection.
A head must also arrive whole within HEAD_TIMEOUT_S of the connection (or of the request's first byte on
a kept-alive one): a client trickling a head byte by byte gets ``408`` and the connection is closed, so
slow heads cannot hold connections open without end.
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


class HeadLimitedProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a limit on the request head's size and time (set by
    :func:`head_limited`)."""

    max_head_bytes = 16 * 1024
    head_timeout_s = HEAD_TIMEOUT_S
    _head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_head_timer()
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
        body = f"request head not complete within {self.head_timeout_s:g} s".encode()
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


def head_limited(max_head_bytes: int, head_timeout_s: float = HEAD_TIMEOUT_S) -> type[HeadLimitedProtocol]:
    return type(
        "HeadLimitedProtocol",
        (HeadLimitedProtocol,),
        {"max_head_bytes": max_head_bytes, "head_timeout_s": head_timeout_s},
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
