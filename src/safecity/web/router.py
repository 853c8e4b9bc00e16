# SPDX-License-Identifier: Apache-2.0
"""``/``: the start page a person sees when they open the platform's address (Korean and English)."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

import xstatic.pkg.leaflet as xstatic_leaflet  # type: ignore[import-untyped]
from fastapi import APIRouter, Request, Response
from sqlalchemy import func, select

from safecity.auth.deps import allow
from safecity.auth.model import Role
from safecity.core.errors import NotFound
from safecity.sensing import tables as t

router = APIRouter(tags=["web"])
_STATIC = files("safecity.web") / "static"


@router.get("/", dependencies=[allow(Role.public)], summary="Start page", include_in_schema=False)
def index(request: Request) -> Response:
    sensing = request.app.state.sensing
    with sensing.store.engine.connect() as conn:
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


_MEDIA = {".css": "text/css", ".svg": "image/svg+xml", ".js": "text/javascript", ".png": "image/png"}
#: The files this router serves, listed once: a request can never name anything else on disk.
_ASSETS = {
    p.name: _MEDIA[p.suffix]
    for p in (
        Path(str(_STATIC / n))
        for n in ("site.css", "favicon.svg", "ops.css", "ops.js", "citizen.css", "citizen.js")
    )
}
#: Leaflet, from the xstatic-leaflet wheel (a Python package that ships the library's files, so the map
#: needs neither npm nor a CDN): only these files are served.
_LEAFLET = Path(xstatic_leaflet.BASE_DIR)
_VENDOR = {
    "leaflet/leaflet.css": _LEAFLET / "leaflet.css",
    "leaflet/leaflet-src.esm.js": _LEAFLET / "leaflet-src.esm.js",
    **{f"leaflet/images/{p.name}": p for p in sorted((_LEAFLET / "images").glob("*.png"))},
}


_DEMO_NOTE = (
    '<p class="note demo">데모용 근사 지리: 구 경계·도로·지형은 공개 자료로 생성한 근사치입니다. '
    "Approximate demo geography: districts, roads and terrain are generated from public facts.</p>"
)


@router.get(
    "/ops", dependencies=[allow(Role.public)], summary="Operations dashboard", include_in_schema=False
)
def ops(request: Request) -> Response:
    # public page, private data: it asks the operator to log in and reads the API with the token
    note = _DEMO_NOTE if request.app.state.settings.demo_geography else ""
    page = (_STATIC / "ops.html").read_text(encoding="utf-8").replace("{{geography_note}}", note)
    return Response(page, media_type="text/html; charset=utf-8")


@router.get("/citizen", dependencies=[allow(Role.public)], summary="Citizen page", include_in_schema=False)
def citizen() -> Response:
    # no login: warnings, guides and shelters are public; the page reads /alerts/current and /shelters
    return Response(
        (_STATIC / "citizen.html").read_text(encoding="utf-8"), media_type="text/html; charset=utf-8"
    )


@router.get("/static/vendor/{path:path}", dependencies=[allow(Role.public)], include_in_schema=False)
def vendor(path: str) -> Response:
    found = _VENDOR.get(path)
    if found is None:
        raise NotFound(f"/static/vendor/{path} does not exist")
    return Response(
        found.read_bytes(), media_type=_MEDIA[found.suffix], headers={"Cache-Control": "max-age=86400"}
    )


@router.get("/static/{name}", dependencies=[allow(Role.public)], include_in_schema=False)
def asset(name: str) -> Response:
    media = _ASSETS.get(name)
    if media is None:
        raise NotFound(f"/static/{name} does not exist")
    return Response(
        (_STATIC / name).read_bytes(), media_type=media, headers={"Cache-Control": "max-age=3600"}
    )
