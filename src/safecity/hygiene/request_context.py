# SPDX-License-Identifier: Apache-2.0
"""Request ids and request metrics: the outermost layer, so refusals of the limits carry an id too."""

from __future__ import annotations

import time

import structlog
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from safecity.core.logging import REQUEST_ID, accept_request_id, get_logger, log_budget
from safecity.hygiene.limits import send_error
from safecity.metrics import TRANSPORT, Metrics

log = get_logger(__name__)


class RequestContext:
    """Binds the request id to every log line of the request (structlog contextvars) and to the
    error bodies, returns it as ``X-Request-ID``, marks the ingest transport as HTTP and counts the
    request in the metrics."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        offered = None
        for k, v in scope.get("headers", ()):
            if k == b"x-request-id":
                offered = bytes(v).decode("latin-1")
                break
        request_id = accept_request_id(offered)
        token = REQUEST_ID.set(request_id)
        transport = TRANSPORT.set("http")
        bound = structlog.contextvars.bind_contextvars(request_id=request_id)
        start = time.perf_counter()
        status = 500
        started = False

        async def with_id(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                started = True
                status = int(message["status"])
                MutableHeaders(scope=message)["X-Request-ID"] = request_id
            await send(message)

        try:
            with log_budget():  # one request cannot flood the log (issue 13)
                await self.app(scope, receive, with_id)
        except Exception:
            # the outermost boundary: a bug becomes a JSON 500 that tells the caller which request to
            # report, and its log line carries the same id; re-raised so the server (and a test
            # client) still treat it as the crash it is
            log.exception("unhandled error", path=scope["path"], method=scope["method"])
            if not started:
                await send_error(
                    send,
                    500,
                    "internal_error",
                    "the server failed on this request; report its request_id to the operators",
                    "서버 내부 오류입니다. request_id를 운영자에게 알려 주세요",
                    headers={"X-Request-ID": request_id},
                )
            raise
        finally:
            structlog.contextvars.reset_contextvars(**bound)
            TRANSPORT.reset(transport)
            REQUEST_ID.reset(token)
            self.metrics.request_seconds.observe(time.perf_counter() - start)
            self.metrics.requests.labels(scope["method"], str(status)).inc()
