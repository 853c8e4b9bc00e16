# SPDX-License-Identifier: Apache-2.0
"""The request head limit, enforced in the server (issue 13).

``http_max_header_bytes`` (16 KiB) was passed to uvicorn as h11's limit, but uvicorn serves with
httptools when it is installed, and httptools has no limit: 8 MB headers were accepted, and 40 slow
ones held 300 MB. Here the httptools protocol counts the request line and header bytes as they are
parsed and answers ``431 Request Header Fields Too Large`` past the limit, closing the connection.
"""

from __future__ import annotations

from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from safecity.settings import Settings


class _HeadTooLarge(Exception):
    """Raised from a parser callback; httptools turns it into a parser error, answered with 431."""


class HeadLimitedProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a limit on the request head (set by :func:`head_limited`)."""

    max_head_bytes = 16 * 1024

    def on_message_begin(self) -> None:
        self._head_bytes = 0
        self._head_too_large = False
        super().on_message_begin()

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


def head_limited(max_head_bytes: int) -> type[HeadLimitedProtocol]:
    return type("HeadLimitedProtocol", (HeadLimitedProtocol,), {"max_head_bytes": max_head_bytes})


def server_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's options for ``safecity serve``: the head limit in both HTTP implementations."""
    return {
        "http": head_limited(settings.http_max_header_bytes),
        "h11_max_incomplete_event_size": settings.http_max_header_bytes,
        "timeout_keep_alive": settings.http_keepalive_s,
        "log_level": "warning",
        "access_log": False,
    }
