# SPDX-License-Identifier: Apache-2.0
"""Security headers on every response, the Content-Security-Policy of the web pages, and CORS."""

from __future__ import annotations

from collections.abc import Sequence

from starlette.datastructures import MutableHeaders
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: FastAPI's interactive API pages load Swagger UI / ReDoc from a CDN with an inline start-up script:
#: they get their own, looser policy instead of weakening the one of the platform's pages.
DOCS_PATHS = ("/docs", "/redoc")
DOCS_CDN = "https://cdn.jsdelivr.net"


def content_security_policy(img_sources: Sequence[str] = ()) -> str:
    """The pages' policy: scripts only from the platform (no inline scripts or handlers), data only
    from the platform, images also as data:/blob: (map markers, canvas exports) and from a configured
    tile server; inline styles stay allowed because Leaflet positions map tiles with style attributes."""
    img = " ".join(["'self'", "data:", "blob:", *img_sources])
    return (
        "default-src 'self'; script-src 'self'; connect-src 'self'; "
        f"img-src {img}; style-src 'self' 'unsafe-inline'; object-src 'none'; "
        "base-uri 'self'; frame-ancestors 'none'"
    )


def docs_policy() -> str:
    return (
        f"default-src 'self'; script-src 'self' 'unsafe-inline' {DOCS_CDN}; "
        f"style-src 'self' 'unsafe-inline' {DOCS_CDN}; img-src 'self' data: https://fastapi.tiangolo.com; "
        f"connect-src 'self'; worker-src 'self' blob:; object-src 'none'; base-uri 'self'; "
        "frame-ancestors 'none'"
    )


class SecurityHeaders:
    """Adds the headers to every response, errors and refusals of the outer limits included."""

    def __init__(self, app: ASGIApp, *, https: bool, img_sources: Sequence[str] = ()) -> None:
        self.app = app
        self.fixed: list[tuple[str, str]] = [
            ("X-Content-Type-Options", "nosniff"),
            ("Referrer-Policy", "strict-origin-when-cross-origin"),
            ("X-Frame-Options", "DENY"),
            # the citizen page asks for the location to find the warnings and shelters near the reader
            ("Permissions-Policy", "geolocation=(self), camera=(), microphone=(), payment=(), usb=()"),
            ("Cross-Origin-Opener-Policy", "same-origin"),
        ]
        if https:
            # only behind HTTPS: on plain http it would make browsers refuse the platform for a year
            self.fixed.append(("Strict-Transport-Security", "max-age=31536000; includeSubDomains"))
        self.csp = content_security_policy(img_sources)
        self.docs_csp = docs_policy()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        csp = self.docs_csp if path.startswith(DOCS_PATHS) else self.csp

        async def add_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in self.fixed:
                    headers.setdefault(name, value)
                headers.setdefault("Content-Security-Policy", csp)
            await send(message)

        await self.app(scope, receive, add_headers)


def cors(app: ASGIApp, origins: Sequence[str]) -> ASGIApp:
    """CORS for the listed origins only; with none listed there is no CORS layer at all, so browsers
    refuse every cross-origin read (the default)."""
    if not origins:
        return app
    return CORSMiddleware(
        app,
        allow_origins=list(origins),
        allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
        allow_headers=["Authorization", "Content-Type", "X-API-Key", "X-Request-ID", "Last-Event-ID"],
        expose_headers=["X-Request-ID", "Retry-After", "Location"],
        # tokens travel in the Authorization header, never in cookies
        allow_credentials=False,
        max_age=600,
    )
