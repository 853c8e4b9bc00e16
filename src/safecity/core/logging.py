# SPDX-License-Identifier: Apache-2.0
"""Structured logging (structlog) shared by every capability.

Bounded everywhere (issue 13): a value, a traceback and the lines of one request have a size limit, and
the server writes from a thread of its own through a bounded queue (``configure_logging(background=True)``).
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import queue
import re
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

import orjson
import structlog
from structlog.typing import EventDict

#: The id of the HTTP request being served (empty outside one); every log line of it carries the id.
REQUEST_ID: ContextVar[str] = ContextVar("request_id", default="")
#: A caller's X-Request-ID is kept when it is short and plain (it ends up in log lines: no spaces,
#: quotes or control characters that could forge one); otherwise a new id is made.
_SANE_ID = re.compile(r"[A-Za-z0-9._:@/+=-]{1,128}")


def accept_request_id(offered: str | None) -> str:
    """The caller's id when sane, else a new random one (32 hex digits)."""
    if offered and _SANE_ID.fullmatch(offered):
        return offered
    return uuid.uuid4().hex


def current_request_id() -> str | None:
    """The id of the request being served, or None outside a request."""
    return REQUEST_ID.get() or None


class _Stderr:
    """Whatever ``sys.stderr`` is at the moment of writing: a logger built while stderr was swapped
    (a test runner capturing a command's output) must not keep writing to the closed capture."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


#: A string value longer than this is cut where it is logged (a request body quoted in a message).
MAX_VALUE_CHARS = 4_000
#: A traceback keeps its first and last characters up to this many (the last frames say what failed).
MAX_TRACEBACK_CHARS = 32_000
#: Log lines one HTTP request may write; the next says the rest were suppressed (see request_log_budget).
MAX_LINES_PER_REQUEST = 100
#: Lines waiting for the writer thread; beyond this they are dropped and counted, never waited for.
QUEUE_LINES = 10_000

_BUDGET: ContextVar[list[int] | None] = ContextVar("log_budget", default=None)
_STOP = object()


@contextlib.contextmanager
def log_budget(lines: int = MAX_LINES_PER_REQUEST) -> Iterator[None]:
    """Within the block (one HTTP request), at most ``lines`` log lines; threads it starts share it."""
    token = _BUDGET.set([lines])
    try:
        yield
    finally:
        _BUDGET.reset(token)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text)} characters, cut)"


def _spend_budget(logger: Any, method: str, event: EventDict) -> EventDict:
    budget = _BUDGET.get()
    if budget is None:
        return event
    budget[0] -= 1
    if budget[0] >= 0:
        return event
    if budget[0] == -1:
        return {
            **{k: v for k, v in event.items() if k in ("timestamp", "request_id")},
            "level": "warning",
            "event": "further log lines of this request are suppressed",
        }
    raise structlog.DropEvent


def _take_exc_info(logger: Any, method: str, event: EventDict) -> EventDict:
    """Capture the exception now, in the thread that raised it; it is rendered later by the writer."""
    exc = event.get("exc_info")
    if exc is True:
        event["exc_info"] = sys.exc_info()
    elif isinstance(exc, BaseException):
        event["exc_info"] = (type(exc), exc, exc.__traceback__)
    for key, value in event.items():
        if type(value) is str and len(value) > MAX_VALUE_CHARS:
            event[key] = _cut(value, MAX_VALUE_CHARS)
    return event


class _Writer:
    """Renders event dicts and writes them to stderr: at once, or (``background``) from a thread of its
    own, so that a slow terminal or pipe never stalls the event loop or the ingest worker (a traceback
    printed to the console once blocked HTTP and MQTT for 10 s, issue 13). A full queue drops lines and
    counts them; the writer reports the count."""

    def __init__(self, json: bool, background: bool) -> None:
        self.json = json
        if json:
            self._render: Callable[[EventDict], str] = self._render_json
        else:
            # plain tracebacks: rich's, with every frame's locals, took seconds and megabytes per 500
            console = structlog.dev.ConsoleRenderer(
                colors=False, exception_formatter=structlog.dev.plain_traceback
            )
            self._render = lambda event: str(console(None, "", event))
        self.dropped = 0
        self._reported = 0
        self._queue: queue.Queue[Any] | None = None
        self._thread: threading.Thread | None = None
        if background:
            self._queue = queue.Queue(QUEUE_LINES)
            self._thread = threading.Thread(target=self._run, name="log-writer", daemon=True)
            self._thread.start()

    def put(self, event: EventDict) -> None:
        if self._queue is None:
            self._write(event)
            return
        try:
            self._queue.put_nowait(event)
        except queue.Full:
            self.dropped += 1

    def flush(self, timeout: float = 5.0) -> None:
        """Wait until every queued line is written (tests, and the end of the process)."""
        if self._queue is None:
            return
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.005)

    def close(self) -> None:
        if self._queue is None or self._thread is None:
            return
        self.flush()
        with contextlib.suppress(queue.Full):
            self._queue.put_nowait(_STOP)
        self._thread.join(5.0)

    def _run(self) -> None:
        assert self._queue is not None
        while True:
            event = self._queue.get()
            try:
                if event is _STOP:
                    return
                self._write(event)
                if self.dropped != self._reported:
                    n, self._reported = self.dropped - self._reported, self.dropped
                    self._write(
                        {
                            "level": "warning",
                            "event": "log lines dropped: the writer fell behind",
                            "dropped": n,
                        }
                    )
            finally:
                self._queue.task_done()

    def _write(self, event: EventDict) -> None:
        try:
            for key, value in event.items():
                if key != "exc_info" and not isinstance(value, (str, int, float, bool, type(None))):
                    text = repr(value)
                    if len(text) > MAX_VALUE_CHARS:
                        event[key] = _cut(text, MAX_VALUE_CHARS)
            line = self._render(event)
            _Stderr().write(line + "\n")
        except Exception:  # noqa: BLE001 - the log's outermost boundary: logging must never raise
            with contextlib.suppress(Exception):
                sys.stderr.write(f"log line could not be written: {event.get('event')!r}\n")

    def _render_json(self, event: EventDict) -> str:
        exc = event.pop("exc_info", None)
        if exc:
            # a 500 in JSON logging keeps its traceback (as text, head and tail if very long)
            text = "".join(traceback.format_exception(*exc)) if isinstance(exc, tuple) else str(exc)
            if len(text) > MAX_TRACEBACK_CHARS:
                head = MAX_TRACEBACK_CHARS // 4
                text = f"{text[:head]}\n… ({len(text)} characters, cut) …\n{text[-(MAX_TRACEBACK_CHARS - head) :]}"
            event["exception"] = text
        return orjson.dumps(event, default=repr).decode()


class _Logger:
    """structlog's final logger: hands each event dict to the writer, whatever the method."""

    def __init__(self, writer: _Writer) -> None:
        self._writer = writer

    def _put(self, **event: Any) -> None:
        self._writer.put(event)

    def __getattr__(self, name: str) -> Callable[..., None]:
        return self._put


class _StdlibBridge(logging.Handler):
    """Library loggers (amqtt, uvicorn, SQLAlchemy) into the same writer, in the same shape."""

    def __init__(self, writer: _Writer) -> None:
        super().__init__()
        self._writer = writer

    def emit(self, record: logging.LogRecord) -> None:
        try:
            event: EventDict = {
                "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat().replace("+00:00", "Z"),
                "level": record.levelname.lower(),
                "logger": record.name,
                "event": _cut(record.getMessage(), MAX_VALUE_CHARS),
            }
            if record.exc_info:
                event["exc_info"] = record.exc_info
            self._writer.put(event)
        except Exception:  # noqa: BLE001 - logging's own convention: report, never raise
            self.handleError(record)


_WRITER: _Writer | None = None
_AT_EXIT = False


def configure_logging(level: str = "INFO", json: bool = False, background: bool = False) -> None:
    """Structured log lines on stderr, console or JSON. ``background`` (the server) writes from a thread
    of its own through a bounded queue, so logging never blocks the event loop or ingest."""
    global _WRITER, _AT_EXIT
    if _WRITER is not None:
        _WRITER.close()
    writer = _WRITER = _Writer(json, background)
    processors: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _spend_budget,
        _take_exc_info,
    ]
    structlog.configure(
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=lambda *args: _Logger(writer),
        cache_logger_on_first_use=False,
    )
    root = logging.getLogger()
    root.handlers = [_StdlibBridge(writer)]
    root.setLevel(level.upper())
    # Libraries that narrate every step at INFO (migrations, the MQTT broker's state machine).
    for noisy in ("alembic", "transitions", "amqtt", "httpx"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level.upper())))
    if not _AT_EXIT:  # the last lines of a stopping server are written, not lost in the queue
        atexit.register(lambda: _WRITER.close() if _WRITER is not None else None)
        _AT_EXIT = True


def flush_logs(timeout: float = 5.0) -> None:
    """Wait until the lines logged so far are written (only the background writer ever waits)."""
    if _WRITER is not None:
        _WRITER.flush(timeout)


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    return structlog.get_logger(name)  # type: ignore[no-any-return]
