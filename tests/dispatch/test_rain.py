# SPDX-License-Identifier: Apache-2.0
"""The rain factor of the road times comes from the live rain gauges near the call (over real HTTP, both
stores), not from a constant: a dry city, a far gauge, an old reading and a near heavy reading."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from safecity.dispatch.roadtime import SpeedModel
from safecity.dispatch.sensors import RainWatch, Streams
from safecity.dispatch.service import Dispatch
from safecity.geo.roads.graph import graph_path
from safecity.geo.roads.osm import read_osm
from tests.conftest import SHARED, weather_station
from tests.dispatch.conftest import Desk

OSM = SHARED / "data" / "roads" / "osm_seoul_gongdeok_cheongpa.osm"
CALL = (126.9575, 37.5470)


def _gauge(desk: Desk, name: str, lon: float, lat: float) -> int:
    r = desk.client.post("/sta/v1.1/Things", json=weather_station(name, lon, lat), headers=desk.operator)
    assert r.status_code == 201, r.text
    ds = desk.client.get(f"/sta/v1.1/Things({r.json()['@iot.id']})/Datastreams", headers=desk.operator)
    return int(ds.json()["value"][0]["@iot.id"])


def _reading(desk: Desk, stream: int, mm_10min: float, when: datetime) -> None:
    body = {"phenomenonTime": when.isoformat(), "result": mm_10min}
    r = desk.client.post(f"/sta/v1.1/Datastreams({stream})/Observations", json=body, headers=desk.operator)
    assert r.status_code == 201, r.text


def _rec(desk: Desk, call: int) -> dict[str, Any]:
    desk.platform.bus.drain()
    r = desk.get(f"/dispatch/calls/{call}/recommendation")
    assert r.status_code == 200, r.text
    return dict(r.json())


def _amb(rec: dict[str, Any]) -> dict[str, Any]:
    return next(u for u in rec["units"] if u["fills"] == "ambulance")


def test_rain_near_the_call_slows_the_road_times(desk: Desk) -> None:
    read_osm(OSM).graph.save(graph_path(desk.platform.settings.data_dir))
    call = desk.post("/dispatch/calls", {"type": "ems_other", "lon": CALL[0], "lat": CALL[1]}).json()["id"]
    dry = _rec(desk, call)
    assert dry["rain"]["raining"] is False and dry["rain"]["mmH"] is None and dry["rain"]["gauges"] == 0
    assert dry["rain"]["en"] and dry["rain"]["ko"]

    now = datetime.now(UTC)
    # a downpour at a gauge in Gangnam (9 km away): not this call's weather
    far = _gauge(desk, "Gangnam AWS", 127.0473, 37.5172)
    _reading(desk, far, 10.0, now)
    # a gauge 300 m from the call, heard 45 minutes ago (older than the 30-minute window): not heard now
    near = _gauge(desk, "Gongdeok AWS", CALL[0] + 0.003, CALL[1])
    _reading(desk, near, 5.0, now - timedelta(minutes=45))
    assert _rec(desk, call)["rain"]["gauges"] == 0
    # light drizzle now at the near gauge: 0.1 mm in 10 min = 0.6 mm/h, under the 1 mm/h threshold
    _reading(desk, near, 0.1, now - timedelta(minutes=1))
    light = _rec(desk, call)
    assert light["rain"]["gauges"] == 1 and abs(light["rain"]["mmH"] - 0.6) < 1e-9
    assert light["rain"]["raining"] is False and _amb(light)["travelS"] == _amb(dry)["travelS"]
    # 3 mm in 10 min (18 mm/h): the rain factor applies, the same ambulance is slower by road
    _reading(desk, near, 3.0, now)
    wet = _rec(desk, call)
    assert wet["rain"] == {**wet["rain"], "raining": True, "mmH": 18.0, "gauges": 1, "declared": False}
    assert "18.0 mm/h" in wet["rain"]["en"] and "18.0 mm/h" in wet["rain"]["ko"]
    same = next(u for u in wet["units"] if u["unit"] == _amb(dry)["unit"])
    factor = SpeedModel.shipped().rain_factor
    assert factor < 1 and same["travelS"] > _amb(dry)["travelS"]

    # the city-wide view (coverage) hears both fresh gauges: (60 + 18) / 2 mm/h
    svc = desk.platform.services.get(Dispatch)
    city = svc.rain_at()
    assert city.gauges == 2 and abs((city.mm_h or 0) - 39.0) < 1e-9 and city.raining

    # after a restart, the readings of the last window are read back from the store
    fresh = RainWatch(Streams(desk.platform.sensing), svc.clock, svc.settings)
    again = fresh.at(*CALL)
    assert (again.gauges, again.mm_h, again.raining) == (1, 18.0, True)
