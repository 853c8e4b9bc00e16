# SPDX-License-Identifier: Apache-2.0
"""Wires the edge layers into the application in their one correct order."""

from __future__ import annotations

import time
from collections.abc import Callable
from urllib.parse import urlsplit

from fastapi import FastAPI

from safecity.core.logging import get_logger
from safecity.hygiene.headers import SecurityHeaders, cors
from safecity.hygiene.limits import BodyLimit, RateLimit, Timeout
from safecity.hygiene.request_context import RequestContext
from safecity.metrics import Metrics
from safecity.settings import Mode, Settings

log = get_logger(__name__)


def tile_origin(url: str | None) -> list[str]:
    """The scheme://host[:port] of a tile URL template, for the CSP's img-src."""
    if not url:
        return []
    parts = urlsplit(url)
    return [f"{parts.scheme}://{parts.netloc}"] if parts.scheme in ("http", "https") and parts.netloc else []


def install_hygiene(
    app: FastAPI, settings: Settings, metrics: Metrics, clock: Callable[[], float] = time.monotonic
) -> None:
    """Outermost first: request id (so every refusal carries one), security headers (on refusals
    too), CORS, the rate limit (cheapest refusal before any body is read), the body limit, the time
    budget, then the application.

    Limits are read from ``settings`` per request, so a test or an operator's reload may change them.
    ``clock`` (monotonic seconds) drives the token buckets; tests pass their own instead of sleeping."""
    # Starlette wraps the last added middleware around the others: add innermost first.
    app.add_middleware(
        Timeout,
        budget=lambda: settings.request_timeout_s,
        bulk_budget=lambda: settings.import_timeout_s,
    )
    app.add_middleware(
        BodyLimit,
        bulk_limit=lambda: settings.max_body_bytes,
        other_limit=lambda: settings.max_body_bytes_other,
    )
    app.add_middleware(
        RateLimit,
        rate=settings.rate_limit_per_s,
        burst=settings.rate_limit_burst,
        sse_max=settings.sse_max_per_client,
        on_limited=lambda limit: metrics.limited.labels(limit).inc(),
        clock=clock,
        shared_url=settings.rate_limit.url,
        key_prefix=settings.rate_limit.key_prefix,
    )
    if settings.cors_origins:
        app.add_middleware(cors, origins=settings.cors_origins)
    app.add_middleware(
        SecurityHeaders,
        https=settings.https,
        img_sources=[*settings.csp_img_sources, *tile_origin(settings.map_tile_url)],
    )
    app.add_middleware(RequestContext, metrics=metrics)


def log_mode(settings: Settings) -> None:
    """Says at start-up which mode runs: development mode must never go unnoticed in a city's control room."""
    if settings.mode is Mode.production:
        log.info("production mode", https=settings.https, cors_origins=settings.cors_origins)
    else:
        log.warning(
            "development mode: built-in development secrets are accepted and HSTS is off; "
            "set SAFECITY_MODE=production (with real secrets) for a real deployment",
            mode=settings.mode.value,
        )
