# SPDX-License-Identifier: Apache-2.0
"""The pages: the operations dashboard at ``/`` (``/ops`` redirects there), the citizen page at
``/citizen``, the platform status page at ``/about``, the API documentation at ``/docs`` (Swagger UI served
from this server, so it works without the Internet), and their assets. Korean and English.

Every script is a file under ``/static`` (no inline script, no inline handler: the pages run under a
``script-src 'self'`` Content-Security-Policy). Leaflet and uPlot come from ``static/vendor/``, filled from
the npm registry by ``safecity assets fetch`` (see :mod:`safecity.web.assets`); when they are missing the
pages say so, in both languages, instead of showing a blank map.
"""

from __future__ import annotations

import html
from importlib.resources import files
from pathlib import Path

from fastapi import APIRouter, Request, Response
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy import func, select

from safecity.auth.deps import allow
from safecity.auth.model import Role
from safecity.capability import SettingsDep, StoreDep
from safecity.core.errors import NotFound
from safecity.sensing import tables as t
from safecity.settings import Settings
from safecity.web import assets

router = APIRouter(tags=["web"])
_STATIC = files("safecity.web") / "static"

_MEDIA = {
    ".css": "text/css",
    ".svg": "image/svg+xml",
    ".js": "text/javascript",
    ".png": "image/png",
    "": "text/plain; charset=utf-8",  # LICENSE files
}
#: The files this router serves, listed once: a request can never name anything else on disk.
_OWN = (
    "site.css",
    "favicon.svg",
    "common.js",
    "ops.css",
    "ops.js",
    "ops-map.js",
    "ops-chart.js",
    "ops-dialogs.js",
    "ops-alert-view.js",
    "ops-quake.js",
    "citizen.css",
    "citizen.js",
    "citizen-subscribe.js",
    "citizen-quake.js",
    "citizen-schools.js",
)
_ASSETS = {name: _MEDIA[Path(name).suffix] for name in _OWN}

_DEMO_NOTE = (
    '<p class="note demo" id="demo-note">데모용 근사 지리: 구 경계·도로·지형은 공개 자료로 생성한 근사치입니다. '
    "Approximate demo geography: districts, roads and terrain are generated from public facts.</p>"
)
_ASSETS_NOTE = (
    '<div class="assets-missing" role="alert"><strong>지도·차트 라이브러리가 없습니다.</strong> '
    "<code>make</code> 또는 <code>safecity assets fetch</code>를 실행한 뒤 새로 고치세요. "
    "<strong>The map and chart libraries are missing.</strong> Run <code>make</code> or "
    "<code>safecity assets fetch</code>, then reload. ({missing})</div>"
)


#: The vendored packages the dashboard and citizen page load (swagger-ui-dist is /docs' alone).
_PAGE_LIBRARIES = ("leaflet", "uplot")


def _page(settings: Settings, name: str) -> Response:
    missing = [m for m in assets.missing() if m in _PAGE_LIBRARIES]
    page = (
        (_STATIC / name)
        .read_text(encoding="utf-8")
        .replace("{{geography_note}}", _DEMO_NOTE if settings.demo_geography else "")
        .replace("{{assets_note}}", _ASSETS_NOTE.format(missing=", ".join(missing)) if missing else "")
    )
    if settings.map_tile_url:
        # a deployment's own tile server under the city's layers (the scripts read this tag)
        page = page.replace(
            "</head>",
            f'<meta name="safecity-tiles" content="{html.escape(settings.map_tile_url)}" '
            f'data-attribution="{html.escape(settings.map_tile_attribution)}"></head>',
            1,
        )
    return Response(page, media_type="text/html; charset=utf-8")


@router.get("/", dependencies=[allow(Role.public)], summary="Operations dashboard", include_in_schema=False)
def dashboard(settings: SettingsDep) -> Response:
    # public page, private data: it asks the operator to log in and reads the API with the token
    return _page(settings, "ops.html")


@router.get("/ops", dependencies=[allow(Role.public)], include_in_schema=False)
def ops() -> Response:
    # the dashboard's address before it moved to / (bookmarks, the demo's older printout)
    return RedirectResponse("/", status_code=308)


@router.get("/citizen", dependencies=[allow(Role.public)], summary="Citizen page", include_in_schema=False)
def citizen(settings: SettingsDep) -> Response:
    # no login: warnings, guides and shelters are public; the page reads /alerts/current and /shelters
    return _page(settings, "citizen.html")


@router.get(
    "/about", dependencies=[allow(Role.public)], summary="Platform status page", include_in_schema=False
)
def about(store: StoreDep) -> Response:
    with store.engine.connect() as conn:
        things = conn.execute(select(func.count()).select_from(t.things)).scalar_one()
        streams = conn.execute(select(func.count()).select_from(t.datastreams)).scalar_one()
        latest = conn.execute(select(func.max(t.datastreams.c.last_received_at))).scalar()
    page = (_STATIC / "index.html").read_text(encoding="utf-8")
    stamp = latest.strftime("%Y-%m-%d %H:%M:%S UTC") if latest else "—"
    page = (
        page.replace("{{things}}", str(things))
        .replace("{{streams}}", str(streams))
        .replace("{{latest}}", stamp)
    )
    return Response(page, media_type="text/html; charset=utf-8")


@router.get("/sw.js", dependencies=[allow(Role.public)], include_in_schema=False)
def service_worker() -> Response:
    # at the root so its scope covers /citizen; no-cache so a new version replaces the old one at once
    return Response(
        (_STATIC / "sw.js").read_bytes(), media_type="text/javascript", headers={"Cache-Control": "no-cache"}
    )


@router.get("/docs", dependencies=[allow(Role.public)], include_in_schema=False)
def docs(request: Request) -> HTMLResponse:
    # FastAPI's page, with Swagger UI from static/vendor (assets.toml) instead of a CDN: a control room
    # cut off from the Internet still has its API documentation
    page = get_swagger_ui_html(
        openapi_url=request.app.openapi_url,
        title="safecity API 문서 · API documentation",
        swagger_js_url="/static/vendor/swagger-ui-dist/swagger-ui-bundle.js",
        swagger_css_url="/static/vendor/swagger-ui-dist/swagger-ui.css",
        swagger_favicon_url="/static/favicon.svg",
        oauth2_redirect_url="/docs/oauth2-redirect",
    )
    if "swagger-ui-dist" in assets.missing():
        note = _ASSETS_NOTE.format(missing="swagger-ui-dist")
        return HTMLResponse(bytes(page.body).decode("utf-8").replace("<body>", f"<body>{note}", 1))
    return page


@router.get("/docs/oauth2-redirect", dependencies=[allow(Role.public)], include_in_schema=False)
def docs_oauth2_redirect() -> HTMLResponse:
    return get_swagger_ui_oauth2_redirect_html()


@router.get("/static/vendor/{path:path}", dependencies=[allow(Role.public)], include_in_schema=False)
def vendor(path: str) -> Response:
    found = assets.served().get(path)
    if found is None or not found.is_file():
        hint = " (run `safecity assets fetch`)" if found is not None else ""
        raise NotFound(
            f"/static/vendor/{path} does not exist{hint}",
            message_ko=f"/static/vendor/{path} 파일이 없습니다"
            + (" (safecity assets fetch 실행)" if hint else ""),
        )
    return Response(
        found.read_bytes(),
        media_type=_MEDIA.get(found.suffix, "application/octet-stream"),
        headers={"Cache-Control": "max-age=86400"},
    )


@router.get("/static/{name}", dependencies=[allow(Role.public)], include_in_schema=False)
def asset(name: str) -> Response:
    media = _ASSETS.get(name)
    if media is None:
        raise NotFound(f"/static/{name} does not exist")
    return Response((_STATIC / name).read_bytes(), media_type=media, headers={"Cache-Control": "max-age=300"})
