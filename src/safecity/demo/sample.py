# SPDX-License-Identifier: Apache-2.0
"""``safecity demo``: the demo city and a scenario replayed through the real ingest paths.

The platform starts on embedded defaults and a simulated clock; the demo city (approximate Seoul
geography, generated) is loaded; then the scenario's stations (``demo/scenarios/<name>.toml``) post their
readings as devices do: Data Array batches over HTTP with their device keys, and MQTT publishes for the
stations marked so. An hour of scenario passes in a minute at the default speed.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import httpx

from safecity.core.clock import ManualClock
from safecity.demo import scenario
from safecity.demo.scenario import KST, Station, Stream
from safecity.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from safecity.sensing.sta.write import Writer

OM = "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement"


def _thing(st: Station, interval_s: float) -> dict[str, Any]:
    return {
        "name": st.name,
        "description": f"{st.name} ({st.name_ko}), demo station",
        "properties": {"name_ko": st.name_ko, "demo": True, **st.properties},
        "Locations": [
            {
                "name": st.name,
                "description": st.name_ko,
                "encodingType": "application/geo+json",
                "location": {"type": "Point", "coordinates": [st.lon, st.lat]},
            }
        ],
        "Datastreams": [
            {
                "name": f"{st.name}: {stream.prop}",
                "description": st.name_ko,
                "observationType": OM,
                "unitOfMeasurement": {
                    "name": stream.unit_name,
                    "symbol": stream.unit_symbol,
                    "definition": f"ucum:{stream.unit_symbol}",
                },
                "properties": {"expectedIntervalSeconds": interval_s, **stream.properties},
                "Sensor": {
                    "name": f"{st.name} sensor",
                    "description": "",
                    "encodingType": "text/plain",
                    "metadata": "demo",
                },
                "ObservedProperty": {
                    "name": stream.prop,
                    "definition": f"urn:safecity:def:observed-property:{stream.prop}",
                    "description": stream.prop,
                },
            }
            for stream in st.streams
        ],
    }


def run_demo(settings: Settings, speed: float, scenario_name: str = "heavy_rain") -> None:
    import uvicorn

    from safecity.app import build_platform, create_app
    from safecity.auth.model import Role
    from safecity.sensing.sta.model import ENTITIES

    settings = settings.model_copy(update={"demo_geography": True})
    if not settings.warning_auto_levels and "SAFECITY_WARNING_AUTO_LEVELS" not in os.environ:
        # nobody sits at the demo's situation desk: its alerts from 주의 up are issued at once
        settings = settings.model_copy(update={"warning_auto_levels": [2, 3, 4]})
    # The platform runs on the scenario's clock, so quality control judges the replayed readings as
    # live ones (not as "late" history) and everything happens at the chosen speed.
    sc = scenario.load(scenario_name)
    clock = ManualClock(sc.start)
    platform = build_platform(settings, clock)
    from safecity.demo.city import build_city
    from safecity.demo.load import load_city

    # the demo city: Seoul's districts, roads and terrain generated offline from cited facts (approximate)
    print("building the demo city (approximate Seoul geography) ...", flush=True)
    load_city(platform, build_city(), settings.data_dir / "demo_city")
    app = create_app(settings, platform)
    server = uvicorn.Server(uvicorn.Config(app, host=settings.host, port=settings.port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise SystemExit(
                f"could not start the server on {settings.host}:{settings.port}; set SAFECITY_PORT"
            )
        time.sleep(0.05)
    base = f"http://{settings.host}:{settings.port}"
    # one Thing per station, one datastream per measured property, a device key per Thing
    keys: list[tuple[Station, list[tuple[Stream, int]], str]] = []
    for st in sc.stations:

        def create_thing(conn: Connection, w: Writer, st: Station = st) -> int:
            return w.create(conn, ENTITIES["Thing"], _thing(st, sc.step_s))

        tid = platform.sensing.write(create_thing)
        with platform.store.engine.connect() as conn:
            from sqlalchemy import select

            from safecity.sensing import tables as t

            ids = conn.execute(
                select(t.datastreams.c.id).where(t.datastreams.c.thing_id == tid).order_by(t.datastreams.c.id)
            ).scalars()
            streams = list(zip(st.streams, ids, strict=True))
        keys.append((st, streams, platform.auth.create_api_key(tid, "demo")))
    from safecity.core.errors import Conflict

    with contextlib.suppress(Conflict):  # the demo user exists from an earlier run
        platform.auth.create_user("demo-operator", "demo-operator-password", {Role.operator})
    print(
        f"safecity demo running: operations dashboard {base}/ops, citizen page {base}/citizen "
        f"(SensorThings: {base}/sta/v1.1, alert feed: {base}/alerts/feed.atom, metrics: {base}/metrics)",
        flush=True,
    )
    print("operator login: demo-operator / demo-operator-password; Ctrl-C stops", flush=True)
    platform.incidents.listeners.append(_print_situation)
    platform.warnings.listeners.append(_print_alert(platform))
    print(f"scenario: {sc.name_ko} / {sc.name_en}", flush=True)
    mqtt_key = next((k for st, _, k in keys if st.transport == "mqtt"), None)
    mqtt = _mqtt_client(settings, mqtt_key) if settings.mqtt_enabled and mqtt_key else None
    step = timedelta(seconds=sc.step_s)
    try:
        with httpx.Client(base_url=base, timeout=10) as client:
            for i in range(sc.steps + 1):
                sim = sc.start + step * i
                clock.set(sim)
                elapsed = (sim - sc.start).total_seconds()
                shown = []
                for st, streams, key in keys:
                    rows = [(stream, ds, stream.value(elapsed, sim)) for stream, ds in streams]
                    for stream, ds, value in rows:
                        shown.append(f"{st.name_ko} {stream.prop} {value}{stream.unit_symbol}")
                        if mqtt is not None and st.transport == "mqtt":
                            obs = {"phenomenonTime": sim.isoformat(), "result": value}
                            mqtt.publish(f"v1.1/Datastreams({ds})/Observations", json.dumps(obs), qos=1)
                    if mqtt is None or st.transport != "mqtt":
                        client.post(
                            "/sta/v1.1/CreateObservations",
                            headers={"X-API-Key": key},
                            json=[
                                {
                                    "Datastream": {"@iot.id": ds},
                                    "components": ["phenomenonTime", "result"],
                                    "dataArray": [[sim.isoformat(), value]],
                                }
                                for _, ds, value in rows
                            ],
                        )
                print(f"{sim.astimezone(KST):%Y-%m-%d %H:%M} KST  " + "  ".join(shown), flush=True)
                time.sleep(step.total_seconds() / speed)
            print("the scenario has ended; the platform keeps running (Ctrl-C stops)", flush=True)
            while True:
                time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        if mqtt is not None:
            mqtt.loop_stop()
        server.should_exit = True
        thread.join(timeout=10)


def _print_situation(event: dict[str, Any]) -> None:
    """What the situation room sees, as lines in the demo's console (the board is GET /situation)."""
    from safecity.situation.model import Crisis

    topic = str(event.get("topic", "")).rsplit(".", 1)[-1]
    level = Crisis(int(event.get("level") or 0))
    if topic == "IncidentOpened":
        print(
            f"  >> 사건 #{event['incidentId']} 감지 / incident #{event['incidentId']} opened: "
            f"{event.get('titleKo')} / {event.get('titleEn')} [{level.name_ko} {level.name_en}]",
            flush=True,
        )
    elif topic == "CrisisLevelChanged" and event.get("scope") == "incident":
        before = Crisis(int(event.get("previous") or 0))
        print(
            f"  >> 사건 #{event['incidentId']} 위기 수준 {before.name_ko} → {level.name_ko} / incident "
            f"#{event['incidentId']} crisis level {before.name_en} → {level.name_en}",
            flush=True,
        )
    elif topic == "CrisisLevelChanged" and event.get("scope") == "district":
        before = Crisis(int(event.get("previous") or 0))
        print(
            f"  >> {event.get('district')} {event.get('hazard')}: 위기 수준 {before.name_ko} → {level.name_ko} "
            f"/ crisis level {before.name_en} → {level.name_en}",
            flush=True,
        )
    elif topic == "IncidentClosed":
        print(
            f"  >> 사건 #{event['incidentId']} 종료 / incident #{event['incidentId']} {event.get('status')}",
            flush=True,
        )


def _print_alert(platform: Any) -> Any:
    def show(event: dict[str, Any]) -> None:
        if str(event.get("topic", "")).endswith("AlertIssued"):
            alert = platform.warnings.get(event["identifier"])
            print(
                f"  >> CAP {alert['msgType']} 발령 / issued: {alert['headlines'].get('ko')} "
                f"(/alerts/{alert['identifier']}.xml, feed /alerts/feed.atom)",
                flush=True,
            )

    return show


def _mqtt_client(settings: Settings, device_key: str) -> Any:
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="safecity-demo-river")
    client.username_pw_set("demo-river-gauge", device_key)
    host, port = settings.mqtt_host, settings.mqtt_port
    if settings.mqtt_url:
        from urllib.parse import urlparse

        u = urlparse(settings.mqtt_url)
        host, port = u.hostname or host, u.port or 1883
    for _ in range(50):
        try:
            client.connect(host, port)
            break
        except OSError:
            time.sleep(0.1)
    client.loop_start()
    return client
