# SPDX-License-Identifier: Apache-2.0
"""A port of its own for the OsmAnd / Traccar Client protocol (``SAFECITY_CARE__OSMAND_PORT``).

Traccar Client's server URL defaults to ``http://<server>:5055`` and its users expect a Traccar-style
server there, answering the protocol at the root path. With the setting, the platform also listens on
that port (on the platform's ``host``) with one small app: ``GET``/``POST /`` is exactly
``/tracking/osmand`` (same parsing, same errors naming the parameter, same consent check and storage).
Nothing else is served there, so that port can be opened to devices without exposing the API.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

import orjson
import uvicorn
from fastapi import FastAPI, Request, Response

from safecity.core.errors import SafecityError

if TYPE_CHECKING:
    from safecity.care.service import Care


def osmand_app(care: Care) -> FastAPI:
    from safecity.care.router import osmand

    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)

    @app.exception_handler(SafecityError)
    async def domain_error(request: Request, exc: SafecityError) -> Response:
        return Response(orjson.dumps(exc.to_dict()), status_code=exc.status, media_type="application/json")

    @app.api_route("/", methods=["GET", "POST"])
    async def root(request: Request) -> Response:
        return await osmand(request, care)

    return app


class OsmAndPort:
    """The listener (started and stopped by the ``care.osmand-port`` worker)."""

    def __init__(self, care: Care, host: str, port: int) -> None:
        self.server = uvicorn.Server(
            uvicorn.Config(osmand_app(care), host=host, port=port, log_level="warning", lifespan="off")
        )
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self.server.run, name="care-osmand-port", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started and self._thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
