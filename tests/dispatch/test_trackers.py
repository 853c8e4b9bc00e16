# SPDX-License-Identifier: Apache-2.0
"""Units move on the board, and into the recommendations, from their trackers: SensorThings Things naming
the unit, whose Locations (HTTP) or position observations (HTTP, and MQTT through Mosquitto) arrive through
sensing's public events. Real HTTP, real broker, both stores."""

from __future__ import annotations

import asyncio
import socket
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from safecity.dispatch.trackers import point_of
from safecity.geo.roads.graph import graph_path
from safecity.geo.roads.osm import read_osm
from safecity.sensing.mqtt import start_mqtt
from tests.conftest import SHARED, service_missing
from tests.dispatch.conftest import Desk

OSM = SHARED / "data" / "roads" / "osm_seoul_gongdeok_cheongpa.osm"
MOSQUITTO = ("127.0.0.1", 1883)
STA = "/sta/v1.1"
CHEONGPA = (126.9650, 37.5460)  # 청파 centre, where 청파구급1 starts
CALL = (126.9520, 37.5452)  # beside 공덕 centre: its own ambulance is the nearest at home


def _tracker(callsign: str, lon: float, lat: float) -> dict[str, Any]:
    """A vehicle tracker: a Thing naming its unit, at a Location, with a position Datastream."""
    return {
        "name": f"{callsign} AVL",
        "description": "vehicle location terminal",
        "properties": {"dispatch_unit": callsign},
        "Locations": [
            {
                "name": f"{callsign} position",
                "description": "",
                "encodingType": "application/geo+json",
                "location": {"type": "Point", "coordinates": [lon, lat]},
            }
        ],
        "Datastreams": [
            {
                "name": f"{callsign} position",
                "description": "GNSS fix",
                "observationType": "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Observation",
                "unitOfMeasurement": {"name": "", "symbol": "", "definition": ""},
                "Sensor": {
                    "name": "GNSS",
                    "description": "vehicle GNSS",
                    "encodingType": "text/plain",
                    "metadata": "-",
                },
                "ObservedProperty": {
                    "name": "position",
                    "definition": "urn:safecity:def:observed-property:vehicle_position",
                    "description": "where the vehicle is",
                },
            }
        ],
    }


def _sta(desk: Desk, path: str, body: Any) -> int:
    r = desk.client.post(STA + path, json=body, headers=desk.operator)
    assert r.status_code == 201, r.text
    return int(r.json()["@iot.id"])


def _datastream(desk: Desk, thing: int) -> int:
    r = desk.client.get(f"{STA}/Things({thing})/Datastreams", headers=desk.operator)
    assert r.status_code == 200, r.text
    return int(r.json()["value"][0]["@iot.id"])


def _board(desk: Desk) -> dict[str, Any]:
    desk.platform.bus.drain()
    return {u["callsign"]: u for u in desk.get("/dispatch/units").json()}


def _at(unit: dict[str, Any]) -> tuple[float, float]:
    return round(unit["lon"], 6), round(unit["lat"], 6)


def _point(lon: float, lat: float) -> dict[str, Any]:
    return {"type": "Point", "coordinates": [lon, lat]}


def test_position_results_are_points_and_nothing_else() -> None:
    assert point_of(_point(126.9, 37.5)) == (126.9, 37.5)
    assert point_of({"type": "Point", "coordinates": [126.9, 37.5, 30.0]}) == (126.9, 37.5)
    assert point_of({"lon": 126.9, "lat": 37.5}) == (126.9, 37.5)
    for other in (
        12.5,
        "37.5,126.9",
        [126.9, 37.5],
        {"type": "LineString", "coordinates": [[0, 0], [1, 1]]},
        {"lon": 200.0, "lat": 37.5},
        {"lon": True, "lat": 1},
        {"type": "Point", "coordinates": [1]},
    ):
        assert point_of(other) is None, other


def test_a_tracker_moves_its_unit_over_http_and_into_the_recommendation(desk: Desk) -> None:
    read_osm(OSM).graph.save(graph_path(desk.platform.settings.data_dir))
    thing = _sta(desk, "/Things", _tracker("청파구급1", *CHEONGPA))
    stream = _datastream(desk, thing)
    before = _board(desk)["청파구급1"]
    assert _at(before) == CHEONGPA  # the deep insert's Location is a move too (a HistoricalLocation)

    # at home, 공덕구급1 is the nearest ambulance to a call beside its station
    call = desk.post("/dispatch/calls", {"type": "ems_other", "lon": CALL[0], "lat": CALL[1]}).json()
    rec = desk.get(f"/dispatch/calls/{call['id']}/recommendation").json()
    assert [u["unit"] for u in rec["units"] if u["fills"] == "ambulance"] == ["공덕구급1"]

    # the tracker is given a new Location (SensorThings: a move, recorded as a HistoricalLocation)
    _sta(
        desk,
        f"/Things({thing})/Locations",
        {
            "name": "on the road",
            "description": "",
            "encodingType": "application/geo+json",
            "location": _point(126.9600, 37.5470),
        },
    )
    moved = _board(desk)["청파구급1"]
    assert _at(moved) == (126.96, 37.547) and moved["positionAt"] is not None

    # a position observation moves it again: now it stands at the call, and is recommended
    now = datetime.now(UTC)  # after the Location above: a newer fix
    fix = (CALL[0] + 0.0002, CALL[1])
    _sta(
        desk,
        f"/Datastreams({stream})/Observations",
        {"phenomenonTime": now.isoformat(), "result": _point(*fix)},
    )
    assert _at(_board(desk)["청파구급1"]) == (round(fix[0], 6), fix[1])
    rec = desk.get(f"/dispatch/calls/{call['id']}/recommendation").json()
    (pick,) = [u for u in rec["units"] if u["fills"] == "ambulance"]
    assert pick["unit"] == "청파구급1" and pick["travelS"] < 60, pick

    # an older fix (buffered, or redelivered) and a result that is no position leave it where it is
    earlier = (now - timedelta(minutes=5)).isoformat()
    _sta(
        desk, f"/Datastreams({stream})/Observations", {"phenomenonTime": earlier, "result": _point(*CHEONGPA)}
    )
    _sta(desk, f"/Datastreams({stream})/Observations", {"phenomenonTime": now.isoformat(), "result": 12.5})
    assert _at(_board(desk)["청파구급1"]) == (round(fix[0], 6), fix[1])

    # back in quarters (out of service, then available): at its station as of then; the last fix,
    # older, does not take it away again, a newer one does
    for status in ("out_of_service", "available"):
        assert desk.post("/dispatch/units/청파구급1/status", {"status": status}).status_code == 200
    assert _at(_board(desk)["청파구급1"]) == CHEONGPA
    _sta(
        desk,
        f"/Datastreams({stream})/Observations",
        {"phenomenonTime": now.isoformat(), "result": _point(*fix)},
    )
    assert _at(_board(desk)["청파구급1"]) == CHEONGPA
    later = (datetime.now(UTC) + timedelta(seconds=1)).isoformat()
    _sta(desk, f"/Datastreams({stream})/Observations", {"phenomenonTime": later, "result": _point(*fix)})
    assert _at(_board(desk)["청파구급1"]) == (round(fix[0], 6), fix[1])

    # other units and a tracker naming no unit are untouched
    other = _sta(desk, "/Things", _tracker("없는구급9", 126.95, 37.55))
    assert other > thing
    board = _board(desk)
    assert _at(board["공덕구급1"]) == (126.9515, 37.5445)
    assert "없는구급9" not in board


def _mosquitto() -> None:
    try:
        with socket.create_connection(MOSQUITTO, timeout=1):
            return
    except OSError as e:
        service_missing(f"Mosquitto at {MOSQUITTO[0]}:{MOSQUITTO[1]} ({e})")


@pytest.mark.mosquitto
def test_a_tracker_publishing_over_mqtt_moves_its_unit(desk: Desk) -> None:
    _mosquitto()
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    thing = _sta(desk, "/Things", _tracker("아현구급1", 126.9560, 37.5500))
    stream = _datastream(desk, thing)
    # Other runs share this Mosquitto and may use the same stream ids: this run's point is its own.
    mark = uuid.uuid4().int % 10_000 / 1e7
    fix = (126.9580 + mark, 37.5480)
    url = f"mqtt://{MOSQUITTO[0]}:{MOSQUITTO[1]}"
    settings = desk.platform.settings.with_mqtt(url=url)

    async def scenario() -> tuple[float, float]:
        service = await start_mqtt(settings, desk.platform)
        try:
            ready = getattr(service.transport, "ready", None)
            assert ready is None or await asyncio.to_thread(ready.wait, 5.0), "not subscribed at Mosquitto"
            device = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"avl-{uuid.uuid4().hex[:8]}")
            device.connect(*MOSQUITTO)
            device.loop_start()
            try:
                when = datetime.now(UTC).isoformat()
                info = device.publish(
                    f"v1.1/Datastreams({stream})/Observations",
                    f'{{"phenomenonTime": "{when}", "result": {{"type": "Point", "coordinates": [{fix[0]}, {fix[1]}]}}}}',
                    qos=1,
                )
                info.wait_for_publish(5.0)
                deadline = time.monotonic() + 10
                while True:
                    at = await asyncio.to_thread(lambda: _at(_board(desk)["아현구급1"]))
                    if at == (round(fix[0], 6), fix[1]) or time.monotonic() > deadline:
                        return at
                    await asyncio.sleep(0.05)
            finally:
                device.loop_stop()
                device.disconnect()
        finally:
            await service.stop()

    assert asyncio.run(scenario()) == (round(fix[0], 6), fix[1])
