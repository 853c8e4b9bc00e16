# SPDX-License-Identifier: Apache-2.0
"""``GET /situation/thresholds?datastream=ID``: what the sensor chart draws, from the shipped rule packs
(kma_weather's heavy-rain sums, facility's shares of the allowable value), on both stores."""

from __future__ import annotations

from typing import Any

from tests.conftest import Api, weather_station


def _tilt_sensor(allowable: float | None) -> dict[str, Any]:
    body = weather_station("Seongsu bridge pier 3", 127.0347, 37.5374)
    ds = body["Datastreams"][0]
    ds["name"] = "pier 3 tilt"
    ds["unitOfMeasurement"] = {"name": "degree", "symbol": "°", "definition": "ucum:deg"}
    ds["ObservedProperty"] = {
        "name": "tilt",
        "definition": "urn:safecity:def:observed-property:tilt",
        "description": "tilt about the bridge axis",
    }
    if allowable is not None:
        ds["properties"] = {"allowable": allowable}
    return body


def _stream_of(api: Api, thing_id: int) -> int:
    return int(api.get(f"/Things({thing_id})/Datastreams").json()["value"][0]["@iot.id"])


def test_thresholds_of_a_rain_gauge_and_a_tilt_sensor(api: Api) -> None:
    rain = _stream_of(api, api.create("/Things", weather_station()))
    tilt = _stream_of(api, api.create("/Things", _tilt_sensor(0.5)))
    bare = _stream_of(api, api.create("/Things", _tilt_sensor(None)))
    api.platform.situation.start(ticker=False)
    try:
        r = api.client.get("/situation/thresholds", params={"datastream": rain}, headers=api.headers)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["datastream"] == rain and body["property"] == "rainfall_10min" and body["unit"] == "mm"
        heavy = {
            (x["crisis"], x["signal"], x["value"])
            for x in body["thresholds"]
            if x["rule"] == "kma.heavy_rain"
        }
        # KMA: 호우주의보 3 h >= 60 or 12 h >= 110; 호우경보 3 h >= 90 or 12 h >= 180
        assert {
            ("caution", "sum3h", 60.0),
            ("caution", "sum12h", 110.0),
            ("alert", "sum3h", 90.0),
            ("alert", "sum12h", 180.0),
        } <= heavy
        sum3h = next(
            x for x in body["thresholds"] if x["rule"] == "kma.heavy_rain" and x["signal"] == "sum3h"
        )
        assert sum3h["fn"] == "sum" and sum3h["window"] == 3 * 3600 and sum3h["direction"] == "above"
        assert sum3h["crisisLevel"] == 2 and sum3h["nameKo"] and sum3h["nameEn"]
        assert "누적" in sum3h["signalKo"] and "sum" in sum3h["signalEn"]
        levels = [x["crisisLevel"] for x in body["thresholds"]]
        assert levels == sorted(levels)

        # a share of the allowable value resolves against the stream's own properties: 0.8 x 0.5, 1.0 x 0.5,
        # and 2.0 x 0.5 for collapse danger (심각, issue 12)
        r = api.client.get("/situation/thresholds", params={"datastream": tilt}, headers=api.headers)
        structural = {
            (x["crisis"], x["direction"], x["value"], x["share"])
            for x in r.json()["thresholds"]
            if x["rule"] == "facility.structural_management"
        }
        assert structural == {
            ("caution", "above", 0.4, 0.8),
            ("caution", "below", -0.4, -0.8),
            ("alert", "above", 0.5, 1.0),
            ("alert", "below", -0.5, -1.0),
            ("serious", "above", 1.0, 2.0),
            ("serious", "below", -1.0, -2.0),
        }
        # without an allowable value the rule does not apply to the stream, so it draws no line for it
        r = api.client.get("/situation/thresholds", params={"datastream": bare}, headers=api.headers)
        assert r.status_code == 200
        assert not [x for x in r.json()["thresholds"] if x["rule"] == "facility.structural_management"]
    finally:
        api.platform.situation.stop()


def test_thresholds_refuse_bad_requests(api: Api) -> None:
    api.platform.situation.start(ticker=False)
    try:
        r = api.client.get("/situation/thresholds", params={"datastream": 999_999}, headers=api.headers)
        assert r.status_code == 404 and r.json()["where"] == "datastream"
        r = api.client.get("/situation/thresholds", params={"datastream": "x"}, headers=api.headers)
        assert r.status_code in (400, 422) and "datastream" in r.text
        assert api.client.get("/situation/thresholds", params={"datastream": 1}).status_code == 401
    finally:
        api.platform.situation.stop()
