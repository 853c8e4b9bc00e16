# SPDX-License-Identifier: Apache-2.0
"""Request limits at the ASGI edge: body size (counted while the body streams in), per-client rate
for anonymous callers, open SSE streams per client, and a handler time budget.

Each refusal is the platform's JSON error (``code``, ``message``, ``message_ko``, ``request_id``) and
names the setting that sets the limit, so an operator who meets it knows what to change.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from safecity.core.logging import current_request_id, get_logger

log = get_logger(__name__)

#: Paths of Server-Sent Event streams: exempt from the time budget, counted per client instead.
SSE_SUFFIX = "/stream"
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


def is_bulk(method: str, path: str) -> bool:
    """Ingest and import requests: SensorThings writes (CreateObservations, deep inserts) and every
    ``…/import`` route. They get the large body limit and the long time budget."""
    return method in _BODY_METHODS and (path.startswith("/sta/") or "/import" in path)


def is_sse(method: str, path: str) -> bool:
    return method == "GET" and path.endswith(SSE_SUFFIX)


def client_address(scope: Scope) -> str:
    """The caller's address as uvicorn resolved it (X-Forwarded-For only from trusted proxies)."""
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


async def send_error(
    send: Send,
    status: int,
    code: str,
    message: str,
    message_ko: str,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> None:
    body = orjson.dumps(
        {
            "code": code,
            "message": message,
            "message_ko": message_ko,
            "request_id": current_request_id(),
            **extra,
        }
    )
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


def _header(scope: Scope, name: bytes) -> str | None:
    for k, v in scope.get("headers", ()):
        if k == name:
            return bytes(v).decode("latin-1")
    return None


class BodyLimit:
    """413 for a body over the limit: refused at once when Content-Length says so, otherwise as soon
    as the streamed chunks pass it (a chunked upload never fills memory beyond the limit)."""

    def __init__(self, app: ASGIApp, bulk_limit: Callable[[], int], other_limit: Callable[[], int]) -> None:
        self.app = app
        # read per request: tests (and an operator's reload) may change the settings object in place
        self.bulk_limit = bulk_limit
        self.other_limit = other_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _BODY_METHODS:
            await self.app(scope, receive, send)
            return
        bulk = is_bulk(scope["method"], scope["path"])
        limit = self.bulk_limit() if bulk else self.other_limit()
        setting = "SAFECITY_MAX_BODY_BYTES" if bulk else "SAFECITY_MAX_BODY_BYTES_OTHER"

        async def refuse() -> None:
            await send_error(
                send,
                413,
                "payload_too_large",
                f"body: over the limit of {limit} bytes for this request; send smaller batches "
                f"(the limit is the setting {setting})",
                f"요청 본문이 {limit}바이트 한도를 넘었습니다. 더 작게 나누어 보내세요 (설정 {setting})",
                where="body",
                limit=limit,
                setting=setting,
            )

        declared = _header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await refuse()
            return
        seen = 0
        tripped = False
        started = False

        async def counting_receive() -> Message:
            nonlocal seen, tripped
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    tripped = True
                    # the handler's body reader fails here; its error response is replaced by ours
                    raise _TooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if tripped and not started:
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except _TooLarge:
            pass
        except Exception:
            if not tripped:
                raise
        if tripped and not started:
            await refuse()


class _TooLarge(Exception):
    """Raised from ``receive`` once the body passes the limit; never leaves :class:`BodyLimit`."""


@dataclass
class _Bucket:
    tokens: float
    at: float


class TokenBuckets:
    """One token bucket per client address: ``rate`` tokens a second up to ``burst``.

    Bounded: at most ``max_clients`` buckets, the least recently used dropped first (a dropped client
    simply starts again with a full bucket).
    """

    def __init__(
        self, rate: float, burst: int, max_clients: int = 100_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.clock = clock  # seconds, monotonic; tests inject their own instead of sleeping
        self.rate = rate
        self.burst = burst
        self.max_clients = max_clients
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def take(self, client: str, now: float | None = None) -> float:
        """Take one token; returns 0 when granted, else the seconds until one is available."""
        now = self.clock() if now is None else now
        b = self._buckets.get(client)
        if b is None:
            b = self._buckets[client] = _Bucket(float(self.burst), now)
            if len(self._buckets) > self.max_clients:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(client)
            b.tokens = min(float(self.burst), b.tokens + (now - b.at) * self.rate)
            b.at = now
        if b.tokens >= 1.0:
            b.tokens -= 1.0
            return 0.0
        return (1.0 - b.tokens) / self.rate

    def charge(self, client: str, now: float | None = None) -> None:
        """Take a token after the fact (may go negative): a request whose credentials failed."""
        now = self.clock() if now is None else now
        b = self._buckets.setdefault(client, _Bucket(float(self.burst), now))
        b.tokens = min(float(self.burst), b.tokens + (now - b.at) * self.rate) - 1.0
        b.at = now


class SharedBuckets:
    """The anonymous clients' budgets in a store every process shares (Redis), through the ``limits``
    library: ``burst`` requests in any moving window of ``burst / rate`` seconds, which allows the same
    bursts and the same long-run rate as :class:`TokenBuckets`. Two processes behind one load balancer
    then count a client's requests together instead of granting it twice the budget.

    Asynchronous (the library's ``async+redis://`` storage over redis-py's asyncio client): a round trip
    to Redis is awaited, not run on the event loop's thread, so a slow or unreachable Redis does not stall
    every other request of the process. The client is bound to the event loop it was made on: one per
    loop (a server has one), whose connections :meth:`aclose` closes when the app shuts down.

    If the store cannot be reached the request is let through (logged and counted): in a disaster a
    citizen's page must not fail because a rate limiter's store did.
    """

    def __init__(self, url: str, rate: float, burst: int, key_prefix: str = "safecity") -> None:
        from limits import RateLimitItemPerSecond

        self.url = url
        self.key_prefix = key_prefix
        self.window_s = max(1, round(burst / rate))
        self.item = RateLimitItemPerSecond(burst, self.window_s)
        self.failures = 0
        self._limiters: dict[asyncio.AbstractEventLoop, tuple[Any, Any]] = {}  # loop: (limiter, pool)

    def _limiter(self) -> Any:
        loop = asyncio.get_running_loop()
        found = self._limiters.get(loop)
        if found is None:
            import redis.asyncio
            from limits.aio.strategies import MovingWindowRateLimiter
            from limits.storage import storage_from_string

            pool = redis.asyncio.ConnectionPool.from_url(self.url)
            storage = storage_from_string(
                f"async+{self.url}",
                key_prefix=self.key_prefix,
                wrap_exceptions=True,
                implementation="redispy",
                connection_pool=pool,  # type: ignore[arg-type]  # passed on to redis-py
            )
            found = self._limiters[loop] = (MovingWindowRateLimiter(storage), pool)
        return found[0]

    async def aclose(self) -> None:
        """Close this event loop's connections (the app's shutdown)."""
        found = self._limiters.pop(asyncio.get_running_loop(), None)
        if found is not None:
            await found[1].disconnect()

    async def take(self, client: str) -> float:
        """Take one request from the client's budget: 0 when granted, else the seconds to wait."""
        from limits.errors import StorageError

        try:
            limiter = self._limiter()
            if await limiter.hit(self.item, "anonymous", client):
                return 0.0
            stats = await limiter.get_window_stats(self.item, "anonymous", client)
        except (StorageError, OSError) as e:
            self.failures += 1
            log.warning("rate limit store unreachable; request let through", error=str(e))
            return 0.0
        return max(0.001, float(stats.reset_time) - time.time())

    async def charge(self, client: str) -> None:
        """Count a request after the fact (its credentials failed)."""
        from limits.errors import StorageError

        try:
            await self._limiter().hit(self.item, "anonymous", client)
        except (StorageError, OSError) as e:
            self.failures += 1
            log.warning("rate limit store unreachable", error=str(e))


class RateLimit:
    """429 with Retry-After for anonymous clients over their budget, and for a client holding too many
    SSE streams.

    A request with credentials (Authorization or X-API-Key) is not counted up front, since operators
    and devices must never be throttled in a disaster; if those credentials fail (401) the request is
    charged afterwards, so a made-up header does not escape the limit.
    """

    def __init__(
        self,
        app: ASGIApp,
        rate: float,
        burst: int,
        sse_max: int,
        on_limited: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        shared_url: str | None = None,
        key_prefix: str = "safecity",
    ) -> None:
        """``shared_url`` (redis://...): keep the budgets there (:class:`SharedBuckets`); else in this
        process, on ``clock``."""
        self.app = app
        self.buckets: TokenBuckets | SharedBuckets = (
            SharedBuckets(shared_url, rate, burst, key_prefix)
            if shared_url
            else TokenBuckets(rate, burst, clock=clock)
        )
        self.sse_max = sse_max
        self.sse_open: dict[str, int] = {}
        self.on_limited = on_limited

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan" and isinstance(self.buckets, SharedBuckets):
            shared = self.buckets

            async def closing_send(message: Message) -> None:
                if message["type"] == "lifespan.shutdown.complete":
                    await shared.aclose()
                await send(message)

            await self.app(scope, receive, closing_send)
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        client = client_address(scope)
        credentials = _header(scope, b"authorization") or _header(scope, b"x-api-key")
        if not credentials:
            buckets = self.buckets
            wait = await buckets.take(client) if isinstance(buckets, SharedBuckets) else buckets.take(client)
            if wait > 0:
                await self._refuse_rate(send, wait)
                return
        sse = is_sse(scope["method"], scope["path"])
        if sse:
            if self.sse_open.get(client, 0) >= self.sse_max:
                if self.on_limited:
                    self.on_limited("sse")
                await send_error(
                    send,
                    429,
                    "too_many_streams",
                    f"this client already holds {self.sse_max} open event streams; close one first "
                    "(the limit is the setting SAFECITY_SSE_MAX_PER_CLIENT)",
                    f"이 클라이언트는 이미 이벤트 스트림 {self.sse_max}개를 열고 있습니다. 하나를 닫고 다시 시도하세요",
                    headers={"Retry-After": "10"},
                )
                return
            self.sse_open[client] = self.sse_open.get(client, 0) + 1
        status = 0

        async def watching_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, watching_send)
        finally:
            if sse:
                left = self.sse_open[client] - 1
                if left:
                    self.sse_open[client] = left
                else:
                    del self.sse_open[client]
            if credentials and status == 401:
                buckets = self.buckets
                if isinstance(buckets, SharedBuckets):
                    await buckets.charge(client)
                else:
                    buckets.charge(client)

    async def _refuse_rate(self, send: Send, wait: float) -> None:
        if self.on_limited:
            self.on_limited("rate")
        seconds = max(1, math.ceil(wait))
        await send_error(
            send,
            429,
            "too_many_requests",
            f"too many requests from this address; retry in {seconds} s (anonymous clients get "
            f"SAFECITY_RATE_LIMIT_PER_S requests a second, bursts of SAFECITY_RATE_LIMIT_BURST; "
            "operators and devices that log in are not limited)",
            f"요청이 너무 많습니다. {seconds}초 후에 다시 시도하세요 (로그인한 운영자·기기는 제한되지 않습니다)",
            headers={"Retry-After": str(seconds)},
            retry_after=seconds,
        )


class Timeout:
    """503 when a handler has not started its response within its budget.

    Only the wait for the response to *start* is timed: a streaming response (SSE, a large export)
    that has begun is never cut. A handler running in the thread pool cannot be interrupted; it is
    left to finish in the background and its late response is discarded.
    """

    def __init__(self, app: ASGIApp, budget: Callable[[], float], bulk_budget: Callable[[], float]) -> None:
        self.app = app
        self.budget = budget
        self.bulk_budget = bulk_budget
        self._abandoned: set[asyncio.Task[None]] = set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or is_sse(scope["method"], scope["path"]):
            await self.app(scope, receive, send)
            return
        bulk = is_bulk(scope["method"], scope["path"])
        budget = self.bulk_budget() if bulk else self.budget()
        started = asyncio.Event()
        timed_out = False

        async def guarded_send(message: Message) -> None:
            if timed_out:
                return
            if message["type"] == "http.response.start":
                started.set()
            await send(message)

        task = asyncio.ensure_future(self.app(scope, receive, guarded_send))
        waiter = asyncio.ensure_future(started.wait())
        done, _ = await asyncio.wait({task, waiter}, timeout=budget, return_when=asyncio.FIRST_COMPLETED)
        if done:
            waiter.cancel()
            await task  # started (or finished): the rest of the response is not timed
            return
        waiter.cancel()
        timed_out = True
        task.cancel()
        self._abandoned.add(task)
        task.add_done_callback(self._forget)
        setting = "SAFECITY_IMPORT_TIMEOUT_S" if bulk else "SAFECITY_REQUEST_TIMEOUT_S"
        log.warning("request timed out", path=scope["path"], budget_s=budget)
        await send_error(
            send,
            503,
            "timeout",
            f"the server did not answer within {budget:g} s; try again later or with a smaller request "
            f"(the budget is the setting {setting})",
            f"서버가 {budget:g}초 안에 응답하지 못했습니다. 잠시 후 다시 시도하거나 요청을 줄이세요",
            headers={"Retry-After": "5"},
        )

    def _forget(self, task: asyncio.Task[None]) -> None:
        self._abandoned.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("abandoned request failed after its timeout", error=repr(task.exception()))
