# SPDX-License-Identifier: Apache-2.0
"""Structured logging (structlog) shared by every capability."""

from __future__ import annotations

import logging
import re
import sys
import uuid
from contextvars import ContextVar

import structlog

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


def configure_logging(level: str = "INFO", json: bool = False) -> None:
    processors: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[*processors, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=_Stderr()),  # type: ignore[arg-type]
        cache_logger_on_first_use=False,
    )
    logging.basicConfig(level=level.upper(), stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    # Libraries that narrate every step at INFO (migrations, the MQTT broker's state machine).
    for noisy in ("alembic", "transitions", "amqtt", "httpx"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level.upper())))


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    return structlog.get_logger(name)  # type: ignore[no-any-return]
