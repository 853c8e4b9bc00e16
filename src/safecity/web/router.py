# SPDX-License-Identifier: Apache-2.0
"""``/``: the start page a person sees when they open the platform's address (Korean and English)."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

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


_MEDIA = {".css": "text/css", ".svg": "image/svg+xml"}
#: The files this router serves, listed once: a request can never name anything else on disk.
_ASSETS = {p.name: _MEDIA[p.suffix] for p in (Path(str(_STATIC / n)) for n in ("site.css", "favicon.svg"))}


@router.get("/static/{name}", dependencies=[allow(Role.public)], include_in_schema=False)
def asset(name: str) -> Response:
    media = _ASSETS.get(name)
    if media is None:
        raise NotFound(f"/static/{name} does not exist")
    return Response(
        (_STATIC / name).read_bytes(), media_type=media, headers={"Cache-Control": "max-age=3600"}
    )
