# SPDX-License-Identifier: Apache-2.0
"""``safecity replay``: play a demo scenario against a platform that is already running, over its public
API only (an operator's login, SensorThings deep inserts for the stations, Data Array posts for the
readings). The platform judges the readings on its own clock, so an old scenario's readings arrive as late
history: replay it at ``--speed`` to watch it unfold, or ``--now`` to move the scenario to the present.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx

from safecity.demo.network import Network
from safecity.demo.sample import _thing
from safecity.demo.scenario import KST, Scenario


def replay_scenario(
    sc: Scenario,
    base_url: str,
    user: str,
    password: str,
    *,
    speed: float = 60.0,
    now: bool = False,
    echo: Callable[[str], None] = print,
    network: Network | None = None,
) -> int:
    """Create the scenario's stations (the whole demo network, :meth:`Scenario.feed`) and post its
    readings; returns how many readings were posted. ``network`` defaults to the demo city's."""
    if network is None:
        from safecity.demo.city import build_city
        from safecity.demo.network import build_network

        network = build_network(build_city())
    feed = sc.feed(network)
    shift = (datetime.now(UTC) - sc.start) if now else timedelta(0)
    step = timedelta(seconds=sc.step_s)
    posted = 0
    with httpx.Client(base_url=base_url.rstrip("/"), timeout=30) as client:
        r = client.post("/auth/token", data={"username": user, "password": password})
        if r.status_code != 200:
            raise SystemExit(f"login as {user!r} failed ({r.status_code}): {r.text[:200]}")
        headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
        stations = []
        for st in feed:
            r = client.post("/sta/v1.1/Things", json=_thing(st, sc.step_s), headers=headers)
            if r.status_code != 201:
                raise SystemExit(f"could not create {st.name!r} ({r.status_code}): {r.text[:300]}")
            tid = r.json()["@iot.id"]
            found = client.get(f"/sta/v1.1/Things({tid})/Datastreams?$orderby=id", headers=headers).json()
            stations.append((st, [int(d["@iot.id"]) for d in found["value"]]))
        echo(f"replaying {sc.name_ko} / {sc.name_en}: {len(stations)} stations, {sc.steps + 1} steps")
        for i in range(sc.steps + 1):
            when = sc.start + step * i
            elapsed = (when - sc.start).total_seconds()
            stamp = (when + shift).isoformat()
            body = [
                {
                    "Datastream": {"@iot.id": ds},
                    "components": ["phenomenonTime", "result"],
                    "dataArray": [[stamp, stream.value(elapsed, when)]],
                }
                for st, ids in stations
                for stream, ds in zip(st.streams, ids, strict=True)
            ]
            r = client.post("/sta/v1.1/CreateObservations", json=body, headers=headers)
            if r.status_code != 201:
                raise SystemExit(f"posting step {i} failed ({r.status_code}): {r.text[:300]}")
            posted += len(body)
            echo(f"{(when + shift).astimezone(KST):%Y-%m-%d %H:%M} KST  {len(body)} readings")
            if speed > 0:
                time.sleep(step.total_seconds() / speed)
    return posted
