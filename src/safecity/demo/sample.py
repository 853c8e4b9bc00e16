# SPDX-License-Identifier: Apache-2.0
"""``safecity demo``: the demo city and a scenario replayed through the real ingest paths.

The platform starts on embedded defaults and a simulated clock; the demo city (Seoul's real districts and
dongs; generated population by dong, roads, terrain and places) is loaded; then the scenario's stations (``demo/scenarios/<name>.toml``) post their
readings as devices do: Data Array batches over HTTP with their device keys, and MQTT publishes for the
stations marked so. An hour of scenario passes in a minute at the default speed.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import httpx

from safecity.core.clock import ManualClock
from safecity.core.events import Envelope
from safecity.demo import scenario
from safecity.demo.scenario import KST, Station, Stream
from safecity.settings import Settings
from safecity.situation.events import CRISIS_LEVEL_CHANGED, INCIDENT_CLOSED, INCIDENT_OPENED
from safecity.warning.events import ALERT_ISSUED, AlertIssued

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from safecity.app import Platform
    from safecity.demo.load import LoadReport
    from safecity.demo.network import Network
    from safecity.sensing.sta.write import Writer

OM = "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement"


def _thing(st: Station, interval_s: float) -> dict[str, Any]:
    return {
        "name": st.name,
        "description": f"{st.name} ({st.name_ko}): demo sensor, not a real device (데모 센서, 실제 장비 아님)",
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


class Player:
    """Plays a scenario's stations into a running platform the way devices do: one Thing and one device
    key per station, Data Array batches over HTTP (``CreateObservations``) with the station's key, and
    MQTT publishes for the stations marked ``transport = "mqtt"`` (the river gauges), each on its own MQTT
    connection authenticated with its key."""

    def __init__(
        self, platform: Any, settings: Settings, sc: scenario.Scenario, stations: tuple[Station, ...]
    ):
        self.platform = platform
        self.settings = settings
        self.sc = sc
        self.stations = stations
        self.keys: list[tuple[Station, list[tuple[Stream, int]], str]] = []
        self.mqtt: dict[str, Any] = {}  # device key → paho client
        self.pending: list[Any] = []  # MQTT publishes not yet acknowledged

    def register(self) -> None:
        """Create the stations' Things (with their datastreams) and a device key for each. A Thing of the
        same name and datastream properties left by an earlier run in the same data directory is reused,
        so restarting the demo does not put every sensor on the map twice."""
        from sqlalchemy import select

        from safecity.sensing import tables as t
        from safecity.sensing.sta.model import ENTITIES

        with self.platform.store.engine.connect() as conn:
            existing: dict[str, list[int]] = {}
            for tid, name in conn.execute(select(t.things.c.id, t.things.c.name).order_by(t.things.c.id)):
                existing.setdefault(name, []).append(tid)
        for st in self.stations:
            tid = None
            for candidate in existing.get(st.name, []):
                with self.platform.store.engine.connect() as conn:
                    found = conn.execute(
                        select(t.datastreams.c.name)
                        .where(t.datastreams.c.thing_id == candidate)
                        .order_by(t.datastreams.c.id)
                    ).scalars()
                    if list(found) == [f"{st.name}: {s.prop}" for s in st.streams]:
                        tid = candidate
                        break
            reused = tid is not None
            if tid is None:

                def create_thing(conn: Connection, w: Writer, st: Station = st) -> int:
                    return w.create(conn, ENTITIES["Thing"], _thing(st, self.sc.step_s))

                tid = self.platform.sensing.write(create_thing)
            with self.platform.store.engine.connect() as conn:
                ids = conn.execute(
                    select(t.datastreams.c.id)
                    .where(t.datastreams.c.thing_id == tid)
                    .order_by(t.datastreams.c.id)
                ).scalars()
                streams = list(zip(st.streams, ids, strict=True))
            if reused:
                # this scenario's reporting interval, for the stale-sensor rule
                for stream, ds in streams:

                    def patch(conn: Connection, w: Writer, ds: int = ds, stream: Stream = stream) -> None:
                        props = {"expectedIntervalSeconds": self.sc.step_s, **stream.properties}
                        w.patch(conn, ENTITIES["Datastream"], ds, {"properties": props})

                    self.platform.sensing.write(patch)
            self.keys.append((st, streams, self.platform.auth.create_api_key(tid, "demo")))

    def connect_mqtt(self) -> None:
        if not self.settings.mqtt.enabled:
            return
        for i, (st, _, key) in enumerate(self.keys):
            if st.transport == "mqtt":
                self.mqtt[key] = _mqtt_client(self.settings, key, f"safecity-demo-{i}")

    def step(self, i: int, client: httpx.Client) -> list[tuple[Station, Stream, float]]:
        """Post step ``i`` of the scenario (the platform's clock must already be at that time); returns the
        readings. Raises :class:`RuntimeError` naming the station when the platform refuses a batch."""
        sim = self.sc.start + timedelta(seconds=self.sc.step_s * i)
        elapsed = (sim - self.sc.start).total_seconds()
        shown: list[tuple[Station, Stream, float]] = []
        for st, streams, key in self.keys:
            rows = [(stream, ds, stream.value(elapsed, sim)) for stream, ds in streams]
            shown += [(st, stream, value) for stream, _, value in rows]
            mqtt = self.mqtt.get(key)
            if mqtt is not None:
                for _, ds, value in rows:
                    obs = {"phenomenonTime": sim.isoformat(), "result": value}
                    self.pending.append(
                        mqtt.publish(f"v1.1/Datastreams({ds})/Observations", json.dumps(obs), qos=1)
                    )
                continue
            r = client.post(
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
            if r.status_code != 201:
                raise RuntimeError(
                    f"{st.name}: the platform refused step {i} ({r.status_code}): {r.text[:200]}"
                )
        return shown

    def flush(self, timeout_s: float = 10.0) -> None:
        """Wait until the broker has acknowledged every MQTT publish so far."""
        for info in self.pending:
            info.wait_for_publish(timeout_s)
        self.pending.clear()

    def close(self) -> None:
        for c in self.mqtt.values():
            c.loop_stop()
            c.disconnect()
        self.mqtt.clear()


#: What a step's console line shows: the largest reading of each of these properties (water on an
#: underpass road only once there is some: a dry road says nothing).
HEADLINE = (
    "rainfall_10min",
    "water_level",
    "road_water_depth",
    "air_temperature",
    "peak_ground_acceleration",
)
_WHEN_WET = {"road_water_depth"}


def step_line(sc: scenario.Scenario, readings: list[tuple[Station, Stream, float]]) -> str:
    """The console line of one step: the peak of each headline property (where it is) and every
    overridden stream (the scenario's own building or detector)."""
    parts: list[str] = []
    for prop in HEADLINE:
        found = [(v, st) for st, s, v in readings if s.prop == prop]
        if found:
            v, st = max(found, key=lambda x: x[0])
            if prop in _WHEN_WET and v <= 0:
                continue
            parts.append(f"{prop} max {v}{_unit(readings, prop)} ({st.name_ko})")
    for st, s, v in readings:
        if s.source is None:
            parts.append(f"{st.name_ko} {s.prop} {v}{s.unit_symbol}")
    return f"{len(readings)} readings; " + "; ".join(parts)


def _unit(readings: list[tuple[Station, Stream, float]], prop: str) -> str:
    return next(s.unit_symbol for _, s, _ in readings if s.prop == prop)


def loaded_line(report: LoadReport) -> str:
    """What the demo loaded, for the console (Korean / English)."""
    c = report.network.counts()
    kinds = ", ".join(
        f"{k} {v}" for k, v in c.items() if k not in ("schools", "shelters", "fire_stations", "hospitals")
    )
    return (
        f"loaded: {report.districts.created + report.districts.updated} districts (자치구) and "
        f"{report.dongs.created + report.dongs.updated} dongs (행정동), real boundaries, dong population "
        "generated; "
        f"{len(report.network.sensors)} sensors ({kinds}); {c['schools']} schools (학교, generated); "
        f"{c['shelters']} shelters (대피소); {c['fire_stations']} 119 safety centres (119안전센터, generated); "
        f"{c['hospitals']} hospitals (병원, real, approximate positions)"
    )


def _seed_dispatch(platform: Platform, network: Network) -> None:
    """The demo's 119 safety centres as dispatch stations with their units (the dispatcher's screen)."""
    from safecity.dispatch.model import StationIn
    from safecity.dispatch.seed import seed_units
    from safecity.dispatch.service import Dispatch

    centres = [
        StationIn(
            code=p.code, name_ko=p.name_ko, name_en=p.name_en, district=p.district, lon=p.lon, lat=p.lat
        )
        for p in network.fire_stations
    ]
    seeded = seed_units(platform.services.get(Dispatch), centres)
    print(f"dispatch: {seeded.stations} stations and {seeded.units} units added (119 출동대)", flush=True)


def run_demo(
    settings: Settings,
    speed: float,
    scenario_name: str = "heavy_rain",
    overrides: dict[str, Any] | None = None,
) -> None:
    import uvicorn

    from safecity.app import build_platform, create_app
    from safecity.auth.model import Role

    settings = settings.model_copy(update={"demo_geography": True})
    chosen = ("SAFECITY_WARNING__AUTO_LEVELS", "SAFECITY_WARNING_AUTO_LEVELS")  # the current and the old name
    if not settings.warning.auto_levels and not any(name in os.environ for name in chosen):
        # nobody sits at the demo's situation desk: its alerts from 주의 up are issued at once
        warning = settings.warning.model_copy(update={"auto_levels": [2, 3, 4]})
        settings = settings.model_copy(update={"warning": warning})
    # The platform runs on the scenario's clock, so quality control judges the replayed readings as
    # live ones (not as "late" history) and everything happens at the chosen speed.
    sc = scenario.load(scenario_name, overrides)
    clock = ManualClock(sc.start)
    started = time.monotonic()
    platform = build_platform(settings, clock)
    from safecity.demo.city import build_city
    from safecity.demo.load import load_city
    from safecity.demo.network import build_network

    # the demo city: Seoul's real districts and dongs; roads, terrain and places generated offline from
    # cited facts
    print(
        "building the demo city (real districts and dongs; generated roads, terrain, places) ...", flush=True
    )
    city = build_city()
    network = build_network(city)
    report = load_city(platform, city, settings.data_dir / "demo_city", network)
    _seed_dispatch(platform, network)
    from safecity.demo.floodmodel import DemoFlood

    # flood forecasts on the demo city's grid (the capability's worker runs them every 5 scenario minutes)
    flood = DemoFlood.attach(platform, sc, city, network)
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
    player = Player(platform, settings, sc, sc.feed(network))
    player.register()
    from safecity.core.errors import Conflict

    with contextlib.suppress(Conflict):  # the demo user exists from an earlier run
        platform.auth.create_user("demo-operator", "demo-operator-password", {Role.operator})
    print(loaded_line(report), flush=True)
    print(f"ready in {time.monotonic() - started:.1f} s", flush=True)
    print(
        f"safecity demo running: operations dashboard {base}/ , citizen page {base}/citizen "
        f"(SensorThings: {base}/sta/v1.1, alert feed: {base}/alerts/feed.atom, metrics: {base}/metrics)",
        flush=True,
    )
    print("operator login: demo-operator / demo-operator-password; Ctrl-C stops", flush=True)
    follow_on_console(platform)
    params = ", ".join(f"{k}={v}" for k, v in sc.parameters.items())
    print(f"scenario: {sc.name_ko} / {sc.name_en}" + (f" ({params})" if params else ""), flush=True)
    player.connect_mqtt()
    step = timedelta(seconds=sc.step_s)
    try:
        with httpx.Client(base_url=base, timeout=10) as client:
            for i in range(sc.steps + 1):
                sim = sc.start + step * i
                clock.set(sim)
                # the step's radar frame first: a forecast the worker runs as the readings arrive then
                # starts from it, not from the gauges alone
                flood.step(i, sim)
                readings = player.step(i, client)
                print(f"{sim.astimezone(KST):%Y-%m-%d %H:%M:%S} KST  " + step_line(sc, readings), flush=True)
                time.sleep(step.total_seconds() / speed)
            print("the scenario has ended; the platform keeps running (Ctrl-C stops)", flush=True)
            while True:
                time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        player.close()
        server.should_exit = True
        thread.join(timeout=10)


def follow_on_console(platform: Platform) -> None:
    """Print the incidents' openings, level changes and closings and the issued alerts in the console:
    the demo follows them on the bus, like any other subscriber."""
    platform.bus.subscribe(
        (INCIDENT_OPENED, CRISIS_LEVEL_CHANGED, INCIDENT_CLOSED), _print_situation, "demo.console.situation"
    )
    platform.bus.subscribe(ALERT_ISSUED, _print_alert(platform), "demo.console.alerts")


def _print_situation(batch: Sequence[Envelope]) -> None:
    """What the situation room sees, as lines in the demo's console (the board is GET /situation)."""
    for envelope in batch:
        _print_situation_event({**envelope.data.to_json(), "topic": envelope.type})


def _print_situation_event(event: dict[str, Any]) -> None:
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
    def show(batch: Sequence[Envelope]) -> None:
        for event in batch:
            if not isinstance(event.data, AlertIssued):
                continue
            alert = platform.warnings.get(event.data.identifier)
            print(
                f"  >> CAP {alert.msg_type} 발령 / issued: {alert.headlines.get('ko')} "
                f"(/alerts/{alert.identifier}.xml, feed /alerts/feed.atom)",
                flush=True,
            )

    return show


def _mqtt_client(settings: Settings, device_key: str, client_id: str) -> Any:
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id)
    client.username_pw_set(client_id, device_key)
    host, port = settings.mqtt.host, settings.mqtt.port
    if settings.mqtt.url:
        from urllib.parse import urlparse

        u = urlparse(settings.mqtt.url)
        host, port = u.hostname or host, u.port or 1883
    for _ in range(50):
        try:
            client.connect(host, port)
            break
        except OSError:
            time.sleep(0.1)
    client.loop_start()
    return client
