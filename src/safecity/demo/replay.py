# SPDX-License-Identifier: Apache-2.0
"""``safecity replay``: play a demo scenario against a platform that is already running, over its public
API only (an operator's login, SensorThings deep inserts for the stations, Data Array posts for the
readings). The platform judges the readings on its own clock, so an old scenario's readings arrive as late
history: replay it at ``--speed`` to watch it unfold, or ``--now`` to move the scenario to the present.

A platform that already has the demo network (``safecity demo`` ran on it, or an earlier replay) keeps
it: a Thing with a station's name and the same datastreams, in order, is reused instead of created again,
so the map does not show every sensor twice.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from safecity.demo.network import Network
from safecity.demo.sample import _thing
from safecity.demo.scenario import KST, Scenario, Station


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
        existing = _existing_things(client, headers)
        stations = []
        reused = 0
        for st in feed:
            ids = _reuse(client, headers, existing, st, sc.step_s)
            if ids is not None:
                reused += 1
                stations.append((st, ids))
                continue
            r = client.post("/sta/v1.1/Things", json=_thing(st, sc.step_s), headers=headers)
            if r.status_code != 201:
                raise SystemExit(f"could not create {st.name!r} ({r.status_code}): {r.text[:300]}")
            tid = r.json()["@iot.id"]
            found = client.get(f"/sta/v1.1/Things({tid})/Datastreams?$orderby=id", headers=headers).json()
            stations.append((st, [int(d["@iot.id"]) for d in found["value"]]))
        echo(
            f"replaying {sc.name_ko} / {sc.name_en}: {len(stations)} stations "
            f"({reused} already on the platform, {len(stations) - reused} created), {sc.steps + 1} steps"
        )
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


@dataclass(frozen=True)
class _Known:
    thing: int
    #: the Thing's datastreams in id order: (id, name, properties)
    streams: list[tuple[int, str, dict[str, Any]]]


def _existing_things(client: httpx.Client, headers: dict[str, str]) -> dict[str, list[_Known]]:
    """Every Thing on the platform with its datastreams, by name (all pages of the collection)."""
    out: dict[str, list[_Known]] = {}
    url: str | None = (
        "/sta/v1.1/Things?$select=id,name&$orderby=id&$top=1000"
        "&$expand=Datastreams($select=id,name,properties;$orderby=id)"
    )
    while url:
        r = client.get(url, headers=headers)
        if r.status_code != 200:
            raise SystemExit(f"could not list the platform's Things ({r.status_code}): {r.text[:300]}")
        page = r.json()
        for thing in page["value"]:
            streams = [
                (int(d["@iot.id"]), d["name"], d.get("properties") or {}) for d in thing["Datastreams"]
            ]
            out.setdefault(thing["name"], []).append(_Known(int(thing["@iot.id"]), streams))
        url = page.get("@iot.nextLink")
    return out


def _reuse(
    client: httpx.Client,
    headers: dict[str, str],
    existing: dict[str, list[_Known]],
    st: Station,
    step_s: float,
) -> list[int] | None:
    """The datastream ids of a Thing already on the platform for ``st``, or None. Its datastreams get
    this scenario's reporting interval (the stale-sensor rule reads it), where it differs."""
    wanted = [f"{st.name}: {s.prop}" for s in st.streams]
    for known in existing.get(st.name, []):
        if [name for _, name, _ in known.streams] != wanted:
            continue
        for (ds, _, props), stream in zip(known.streams, st.streams, strict=True):
            new = {"expectedIntervalSeconds": step_s, **stream.properties}
            if {k: props.get(k) for k in new} != new:
                r = client.patch(
                    f"/sta/v1.1/Datastreams({ds})", json={"properties": {**props, **new}}, headers=headers
                )
                if r.status_code not in (200, 204):
                    raise SystemExit(f"could not update datastream {ds} ({r.status_code}): {r.text[:300]}")
        existing[st.name].remove(known)  # two stations never share one Thing
        return [ds for ds, _, _ in known.streams]
    return None
