# SPDX-License-Identifier: Apache-2.0
"""The one-off set-up of a crash test's server, run as a separate process on its SAFECITY_* settings,
the way an operator prepares a deployment: ``python _setup.py <spec.json>``.

The spec names an admin (``user``, ``password``), a districts layer file (``districts``), the Things to
create (``things``: SensorThings deep-insert bodies) and how many of the first get a device key
(``keys``). Prints ``{"things": [ids], "streams": [first Datastream id of each], "keys": [...]}``.
One process for all of it: starting the platform costs seconds on a busy machine.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection

from safecity.app import build_platform
from safecity.auth.model import Role
from safecity.geo.importer import import_layer
from safecity.sensing.sta.model import ENTITIES
from safecity.sensing.sta.write import Writer
from safecity.sensing.tables import datastreams
from safecity.settings import Settings


def main(spec_path: str) -> None:
    spec = json.loads(Path(spec_path).read_text(encoding="utf-8"))
    platform = build_platform(Settings())
    platform.auth.create_user(spec["user"], spec["password"], {Role.admin})
    if spec.get("districts"):
        report = import_layer(platform, Path(spec["districts"]), "districts")
        if report.created != report.features:
            raise SystemExit(f"districts: {report.created} of {report.features} imported")
    things: list[int] = []
    streams: list[int] = []
    for body in spec.get("things", []):

        def create(conn: Connection, w: Writer, body: dict[str, Any] = body) -> int:
            return int(w.create(conn, ENTITIES["Thing"], body))

        tid = platform.sensing.write(create)
        with platform.store.engine.connect() as conn:
            ds = conn.execute(
                select(datastreams.c.id).where(datastreams.c.thing_id == tid).order_by(datastreams.c.id)
            ).scalar_one()
        things.append(tid)
        streams.append(int(ds))
    keys = [platform.auth.create_api_key(tid, "reliability test") for tid in things[: spec.get("keys", 0)]]
    print(json.dumps({"things": things, "streams": streams, "keys": keys}))


if __name__ == "__main__":
    main(sys.argv[1])
