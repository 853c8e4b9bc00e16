# SPDX-License-Identifier: Apache-2.0
"""Forecast runs: the rain field's extrapolation, the forecast ahead of the water, and the service in a
real platform (rain from real SensorThings posts over the bus, results over HTTP, the OGC API collection
and evacuation's road closures)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from shapely.geometry import Point, box

from safecity.core.events import Envelope
from safecity.flood.catchment import Catchment, PlaceIn, from_elevation
from safecity.flood.forecast import CLOSE_DEPTH_M, Forecaster
from safecity.flood.grid import Grid
from safecity.flood.nowcast import (
    Gauge,
    Motion,
    NowcastError,
    estimate_motion,
    extrapolate,
    frames_from_raster,
    gauge_field,
)
from safecity.flood.service import FloodForecasts
from tests.conftest import Api, weather_station

T0 = datetime(2022, 8, 8, 11, 0, tzinfo=UTC)
#: a 2.4 km square in Gangnam (WGS84) with an underpass at its lowest point
SQUARE = box(127.02, 37.49, 127.047, 37.5116)
UNDERPASS = Point(127.0335, 37.5008)


def _blob(grid: Grid, cx: float, cy: float, r: float = 400.0) -> np.ndarray[Any, Any]:
    xs, ys = np.meshgrid(grid.centres_x(), grid.centres_y())
    return 120.0 * np.exp(-((xs - cx) ** 2 + (ys - cy) ** 2) / (2 * r * r))


def test_the_motion_of_a_moving_rain_cell_is_recovered() -> None:
    grid = Grid(80, 60, 100.0, 0.0, 6000.0)
    prev = _blob(grid, 3000.0, 3000.0)
    curr = _blob(grid, 3600.0, 2700.0)  # 600 m east, 300 m south in 10 minutes: 1.0 and -0.5 m/s
    m = estimate_motion(prev, curr, 600.0, grid.dx)
    assert m.known and m.method.startswith("advection")
    assert m.u == pytest.approx(1.0, abs=0.2) and m.v == pytest.approx(-0.5, abs=0.2)
    ahead = extrapolate(curr, m, 600.0, grid.dx)  # where it will be ten minutes on
    r, c = np.unravel_index(int(np.argmax(ahead)), ahead.shape)
    assert grid.centres_x()[c] == pytest.approx(4200.0, abs=150) and grid.centres_y()[r] == pytest.approx(
        2400, abs=150
    )


def test_persistence_where_the_motion_cannot_be_told() -> None:
    grid = Grid(40, 40, 100.0, 0.0, 4000.0)
    dry = np.zeros((40, 40))
    assert not estimate_motion(dry, dry, 600.0, grid.dx).known
    uniform = np.full((40, 40), 50.0)
    assert "uniform" in estimate_motion(uniform, uniform, 600.0, grid.dx).method
    # a jump far beyond any storm's speed is no motion
    far = estimate_motion(_blob(grid, 500.0, 500.0, 200.0), _blob(grid, 3500.0, 3500.0, 200.0), 60.0, grid.dx)
    assert not far.known
    frame = _blob(grid, 2000.0, 2000.0)
    assert np.array_equal(extrapolate(frame, Motion.still("test"), 1800.0, grid.dx), frame)


def test_bad_rain_input_names_the_gauge_or_file(tmp_path: Path) -> None:
    grid = Grid(10, 10, 100.0, 0.0, 1000.0)
    with pytest.raises(NowcastError, match="gauge AWS-2"):
        gauge_field(grid, [Gauge("AWS-1", 0, 0), Gauge("AWS-2", 500, 500)], [3.0, -1.0])
    with pytest.raises(NowcastError, match="no gauge"):
        gauge_field(grid, [], [])
    bad = tmp_path / "radar.tif"
    bad.write_text("not a raster")
    with pytest.raises(NowcastError, match=r"radar\.tif"):
        frames_from_raster(bad, grid, "EPSG:5186")


def _plane(lon: np.ndarray, lat: np.ndarray) -> np.ndarray[Any, Any]:
    # ground falling 1 % towards the underpass from every side (a bowl of streets)
    dx = (lon - UNDERPASS.x) * 88_000.0
    dy = (lat - UNDERPASS.y) * 111_000.0
    return np.asarray(20.0 + 0.01 * np.hypot(dx, dy))


def _catchment() -> Catchment:
    places = [PlaceIn("up-1", "underpass", "시험 지하차도", "Test underpass", UNDERPASS, "11680")]
    return from_elevation(_plane, SQUARE, places, cell_m=50.0, label="test bowl")


def test_the_forecast_predicts_15_cm_before_the_water_reaches_it() -> None:
    cat = _catchment()
    rain = np.full((cat.grid.ny, cat.grid.nx), 180.0)  # mm/h, well above the sewer's 100
    # the water as it comes: rain observed every 10 minutes, the truth the forecast must anticipate
    truth = Forecaster(cat, T0)
    observed_at = None
    for k in range(12):
        truth.observe(T0 + timedelta(minutes=10 * k), T0 + timedelta(minutes=10 * (k + 1)), rain)
        h = truth.model.h[cat.places[0].cells[0]]
        if observed_at is None and h >= CLOSE_DEPTH_M:
            observed_at = T0 + timedelta(minutes=10 * (k + 1))
    assert observed_at is not None, "the test's rain never floods its underpass"
    # a forecast issued after the first 10 minutes of rain, by persistence
    fc = Forecaster(cat, T0)
    fc.observe(T0, T0 + timedelta(minutes=10), rain)
    issued = T0 + timedelta(minutes=10)
    assert fc.model.h[cat.places[0].cells[0]] < CLOSE_DEPTH_M  # not flooded yet when it is issued
    r = fc.forecast(issued, rain, Motion.still("test"), timedelta(hours=1), timedelta(minutes=10))
    up = r.place("up-1")
    assert up is not None and up.crosses_at is not None
    assert issued < observed_at  # the warning comes before the water
    assert abs((up.crosses_at - observed_at).total_seconds()) <= 600  # and names the right time
    assert [p.place.code for p in r.closing()] == ["up-1"]
    # the map: the 5 cm class around, the deepest class over the underpass itself
    assert r.areas and r.areas[0].depth_min_m == 0.05
    assert r.areas[-1].depth_min_m == 0.60 and r.areas[-1].geometry.intersects(UNDERPASS)


def test_the_service_forecasts_from_the_gauges_and_closes_the_road(api: Api) -> None:
    platform = api.platform
    platform.situation.start(ticker=False)  # the shipped rule packs, the flood forecast pack among them
    svc = platform.services.get(FloodForecasts)
    svc.use(_catchment())
    ds = []
    for name, lon, lat in (("AWS west", 127.022, 37.50), ("AWS east", 127.045, 37.505)):
        thing = api.create("/Things", weather_station(name, lon, lat))
        ds.append(api.get(f"/Things({thing})/Datastreams").json()["value"][0]["@iot.id"])
    # the platform runs on the system clock: the rain falls in the last 20 minutes
    t0 = platform.clock.now().replace(second=0, microsecond=0) - timedelta(minutes=20)
    seen: list[Envelope] = []

    def remember(batch: Sequence[Envelope]) -> None:
        seen.extend(batch)

    platform.bus.subscribe("flood.ForecastIssued", remember, "test.flood")
    for k in (1, 2):
        at = t0 + timedelta(minutes=10 * k)
        for d in ds:
            body = {"Datastream": {"@iot.id": d}, "phenomenonTime": at.isoformat(), "result": 30.0}
            assert api.post("/Observations", body).status_code == 201
    platform.bus.drain()
    result = svc.run(t0 + timedelta(minutes=20))
    platform.bus.drain()
    assert result is not None and result.rain_now_mm_h == pytest.approx(180.0)
    r = api.client.get("/flood/forecast")
    assert r.status_code == 200, r.text
    body = r.json()
    [up] = body["places"]
    assert up["code"] == "up-1" and up["crossesAt"] is not None and up["depthMaxM"] >= CLOSE_DEPTH_M
    assert body["cellM"] == 50.0 and body["closures"]
    got = api.client.get("/ogcapi/collections/flood-forecast/items")
    assert got.status_code == 200, got.text
    items = got.json()
    assert items["features"] and {f["properties"]["depth_min_m"] for f in items["features"]} >= {0.05, 0.15}
    closures = api.client.get("/evacuation/road-closures").json()["features"]
    assert any("Flood forecast: Test underpass" in c["properties"]["reason"] for c in closures)
    [event] = [e for e in seen if e.type == "flood.ForecastIssued"]
    data = event.data.to_json()
    assert data["closures"][0]["code"] == "up-1" and data["closures"][0]["closureId"] == body["closures"][0]
    # into the chain: the prediction is a SensorThings observation of the model's own Thing, and the
    # flood-forecast rule pack makes it a heavy-rain incident at 주의 at the underpass
    platform.bus.drain()
    [incident] = platform.incidents.list(hazard="heavy_rain", open_only=True)
    assert incident.rule == "flood.predicted_road_flooding" and incident.level.name == "caution"
    assert incident.title_en == "Closure depth (15 cm) predicted within the hour"
    assert incident.location is not None
    assert incident.location.to_json() == {"lon": UNDERPASS.x, "lat": UNDERPASS.y}
    # the next run replaces the closures of the last: one closure per place, never a pile
    svc.run(t0 + timedelta(minutes=30))
    active = api.client.get("/evacuation/road-closures").json()["features"]
    assert len([c for c in active if "Flood forecast" in c["properties"]["reason"]]) == 1
    # semi-basement buildings are for operators only
    assert api.client.get("/flood/forecast/semi-basements").status_code in (401, 403)


def _depth_gauge(lon: float, lat: float) -> dict[str, Any]:
    return {
        "name": "Underpass water gauge",
        "description": "Water depth at the underpass's lowest point",
        "Locations": [
            {
                "name": "sag",
                "description": "lowest point",
                "encodingType": "application/geo+json",
                "location": {"type": "Point", "coordinates": [lon, lat]},
            }
        ],
        "Datastreams": [
            {
                "name": "road water depth",
                "description": "standing water on the carriageway",
                "observationType": "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement",
                "unitOfMeasurement": {"name": "metre", "symbol": "m", "definition": "ucum:m"},
                "Sensor": {
                    "name": "radar level gauge",
                    "description": "downward-looking radar",
                    "encodingType": "application/pdf",
                    "metadata": "https://example.org/level.pdf",
                },
                "ObservedProperty": {
                    "name": "road_water_depth",
                    "definition": "urn:safecity:def:observed-property:road_water_depth",
                    "description": "Depth of standing water on the road",
                },
            }
        ],
    }


def test_an_underpass_its_gauge_says_is_flooded_stays_closed_whatever_the_forecast(api: Api) -> None:
    # the model's analysis follows the rain gauges and may drain the sag before the real one is dry: the
    # underpass's own water gauge keeps it closed to routing while it reads 15 cm
    platform = api.platform
    svc = platform.services.get(FloodForecasts)
    svc.use(_catchment())
    rain = api.create("/Things", weather_station("AWS", 127.03, 37.50))
    rain_ds = api.get(f"/Things({rain})/Datastreams").json()["value"][0]["@iot.id"]
    gauge = api.create("/Things", _depth_gauge(UNDERPASS.x + 0.0005, UNDERPASS.y))  # ~45 m from it
    depth_ds = api.get(f"/Things({gauge})/Datastreams").json()["value"][0]["@iot.id"]
    t0 = platform.clock.now().replace(second=0, microsecond=0) - timedelta(minutes=20)

    def post(ds: int, at: datetime, value: float) -> None:
        body = {"Datastream": {"@iot.id": ds}, "phenomenonTime": at.isoformat(), "result": value}
        assert api.post("/Observations", body).status_code == 201

    for k in (1, 2):
        post(rain_ds, t0 + timedelta(minutes=10 * k), 0.0)  # no rain: the model has no water at all
    post(depth_ds, t0 + timedelta(minutes=15), 0.22)
    platform.bus.drain()
    result = svc.run(t0 + timedelta(minutes=20))
    assert result is not None and result.closing() == []  # the forecast predicts nothing
    assert svc.observed_flooded(t0 + timedelta(minutes=20)) == {"up-1": 0.22}
    closures = api.client.get("/evacuation/road-closures").json()["features"]
    (closure,) = [c for c in closures if "Flooding observed" in c["properties"]["reason"]]
    assert "Test underpass, 22 cm of water (gauge)" in closure["properties"]["reason"]
    assert "시험 지하차도 수심 22 cm" in closure["properties"]["reason"]
    # the water goes down: a dry city needs no run, and nothing keeps the closure (it expires on its own)
    post(depth_ds, t0 + timedelta(minutes=25), 0.04)
    post(rain_ds, t0 + timedelta(minutes=30), 0.0)
    platform.bus.drain()
    assert svc.run(t0 + timedelta(minutes=30)) is None
    assert svc.observed_flooded(t0 + timedelta(minutes=30)) == {}
