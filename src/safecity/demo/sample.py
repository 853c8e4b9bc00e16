# SPDX-License-Identifier: Apache-2.0
"""A small sample network for ``make demo`` (the full demo city comes later).

Five stations at real Seoul places post through the same paths production devices use: rain gauges
send Data Array batches over HTTP with their device key, the Han River gauge publishes over MQTT.
The rain follows the shape of the 8 August 2022 storm (141.5 mm/h peak at Dongjak, KMA AWS) on a
simulated clock, so an hour of storm passes in a minute at the default speed.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

import httpx

from safecity.core.clock import ManualClock
from safecity.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from safecity.sensing.sta.write import Writer

KST = timezone(timedelta(hours=9))
START = datetime(2022, 8, 8, 17, 0, tzinfo=KST)
OM = "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement"


@dataclass(frozen=True)
class Station:
    name: str
    name_ko: str
    lon: float
    lat: float
    prop: str  # catalogue key
    unit: tuple[str, str]
    peak: float  # peak value of the storm shape
    base: float
    properties: tuple[tuple[str, str], ...] = ()  # Thing properties rules select on


STATIONS = (
    Station(
        "Dongjak AWS rainfall",
        "동작 AWS 강우",
        126.9396,
        37.5124,
        "rainfall_10min",
        ("millimetre", "mm"),
        23.6,
        0.0,
    ),
    Station(
        "Gangnam AWS rainfall",
        "강남 AWS 강우",
        127.0473,
        37.5172,
        "rainfall_10min",
        ("millimetre", "mm"),
        18.0,
        0.0,
    ),
    Station(
        "Jongno AWS rainfall",
        "종로 AWS 강우",
        126.9780,
        37.5729,
        "rainfall_10min",
        ("millimetre", "mm"),
        9.0,
        0.0,
    ),
    Station(
        "Hangang Bridge water level",
        "한강대교 수위",
        126.9583,
        37.5172,
        "water_level",
        ("metre", "m"),
        9.0,  # past the 8.5 m flood advisory stage of the Hangang Bridge gauge (han_river pack)
        3.1,
        (("gauge", "hangang_bridge"),),
    ),
    Station(
        "Seongsan Bridge tilt", "성산대교 기울기", 126.8948, 37.5505, "tilt", ("degree", "deg"), 0.04, 0.01
    ),
)


def storm(station: Station, t: datetime) -> float:
    """The storm shape: a peak about three hours after the start, slower to recede on the river."""
    hours = (t - START).total_seconds() / 3600
    if station.prop == "water_level":
        return round(station.base + (station.peak - station.base) * math.exp(-(((hours - 5) / 3.0) ** 2)), 2)
    if station.prop == "tilt":
        return round(station.base + 0.002 * math.sin(hours * 2), 4)
    return round(max(0.0, station.peak * math.exp(-(((hours - 3) / 1.2) ** 2))), 1)


def _thing(s: Station) -> dict[str, Any]:
    return {
        "name": s.name,
        "description": f"{s.name} ({s.name_ko}), demo station",
        "properties": {"name_ko": s.name_ko, "demo": True, **dict(s.properties)},
        "Locations": [
            {
                "name": s.name,
                "description": s.name_ko,
                "encodingType": "application/geo+json",
                "location": {"type": "Point", "coordinates": [s.lon, s.lat]},
            }
        ],
        "Datastreams": [
            {
                "name": s.name,
                "description": s.name_ko,
                "observationType": OM,
                "unitOfMeasurement": {
                    "name": s.unit[0],
                    "symbol": s.unit[1],
                    "definition": f"ucum:{s.unit[1]}",
                },
                "properties": {"expectedIntervalSeconds": 600},
                "Sensor": {
                    "name": f"{s.name} sensor",
                    "description": "",
                    "encodingType": "text/plain",
                    "metadata": "demo",
                },
                "ObservedProperty": {
                    "name": s.prop,
                    "definition": f"urn:safecity:def:observed-property:{s.prop}",
                    "description": s.prop,
                },
            }
        ],
    }


def run_demo(settings: Settings, speed: float) -> None:
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
    clock = ManualClock(START)
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
    keys: list[tuple[Station, int, str]] = []
    for s in STATIONS:

        def create_thing(conn: Connection, w: Writer, s: Station = s) -> int:
            return w.create(conn, ENTITIES["Thing"], _thing(s))

        tid = platform.sensing.write(create_thing)
        with platform.store.engine.connect() as conn:
            from sqlalchemy import select

            from safecity.sensing import tables as t

            ds = conn.execute(select(t.datastreams.c.id).where(t.datastreams.c.thing_id == tid)).scalar_one()
        keys.append((s, ds, platform.auth.create_api_key(tid, "demo")))
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
    river_key = next(k for s, _, k in keys if s.prop == "water_level")
    mqtt = _mqtt_client(settings, river_key) if settings.mqtt_enabled else None
    sim = START
    step = timedelta(minutes=10)
    try:
        with httpx.Client(base_url=base, timeout=10) as client:
            while True:
                for s, ds, key in keys:
                    value = storm(s, sim)
                    obs = {"phenomenonTime": sim.isoformat(), "result": value}
                    if mqtt is not None and s.prop == "water_level":
                        mqtt.publish(f"v1.1/Datastreams({ds})/Observations", json.dumps(obs), qos=1)
                    else:
                        client.post(
                            "/sta/v1.1/CreateObservations",
                            headers={"X-API-Key": key},
                            json=[
                                {
                                    "Datastream": {"@iot.id": ds},
                                    "components": ["phenomenonTime", "result"],
                                    "dataArray": [[obs["phenomenonTime"], value]],
                                }
                            ],
                        )
                print(
                    f"{sim:%Y-%m-%d %H:%M} KST  "
                    + "  ".join(f"{s.name_ko} {storm(s, sim)}{s.unit[1]}" for s, _, _ in keys),
                    flush=True,
                )
                sim += step
                time.sleep(step.total_seconds() / speed)
                clock.set(sim)
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
