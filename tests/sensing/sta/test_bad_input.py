# SPDX-License-Identifier: Apache-2.0
"""Bad input is answered 4xx with a message naming what is wrong, and writes nothing."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from safecity.sensing import tables as t
from tests.conftest import Api, weather_station


def _counts(api: Api) -> dict[str, int]:
    out = {}
    with api.platform.store.engine.connect() as conn:
        for table in (
            t.things,
            t.locations,
            t.datastreams,
            t.sensors,
            t.observed_properties,
            t.observations,
            t.features_of_interest,
        ):
            out[table.name] = int(conn.execute(select(func.count()).select_from(table)).scalar_one())
    return out


def test_malformed_json_names_the_position(api: Api) -> None:
    before = _counts(api)
    r = api.client.post(
        "/sta/v1.1/Things",
        content=b'{"name": "x", "description": }',
        headers={**api.headers, "Content-Type": "application/json"},
    )
    assert r.status_code == 400
    assert "malformed JSON" in r.json()["message"] and r.json()["where"].startswith("body:")
    assert _counts(api) == before


def test_oversized_body_is_refused(api: Api) -> None:
    api.platform.settings.max_body_bytes = 1000
    r = api.client.post("/sta/v1.1/Things", content=b'{"name": "' + b"x" * 2000 + b'"}', headers=api.headers)
    assert r.status_code == 413 and "limit" in r.json()["message"]
    assert _counts(api)["sta_things"] == 0


BAD_THINGS: list[tuple[Any, str, str]] = [
    ({"description": "no name"}, "name", "required"),
    ({"name": 5, "description": ""}, "name", "expected a string"),
    ({"name": "x", "description": "", "colour": "red"}, "colour", "no property 'colour'"),
    ({"name": "x", "description": "", "properties": [1, 2]}, "properties", "JSON object"),
    ([{"name": "x"}], "body", "JSON object"),
]


@pytest.mark.parametrize(("body", "where", "needle"), BAD_THINGS)
def test_bad_thing_fields(api: Api, body: Any, where: str, needle: str) -> None:
    r = api.post("/Things", body)
    assert r.status_code == 400, r.text
    assert needle in r.json()["message"]
    assert r.json()["where"] == where
    assert _counts(api)["sta_things"] == 0


def test_deep_insert_failure_deep_down_writes_nothing(api: Api) -> None:
    body = weather_station()
    del body["Datastreams"][0]["Sensor"]["encodingType"]
    before = _counts(api)
    r = api.post("/Things", body)
    assert r.status_code == 400
    assert r.json()["where"] == "Datastreams[0]/Sensor/encodingType"
    assert _counts(api) == before


def test_unknown_ids_are_named(api: Api) -> None:
    r = api.post(
        "/Datastreams",
        {
            "name": "d",
            "description": "",
            "observationType": "x",
            "unitOfMeasurement": {"name": "m", "symbol": "m", "definition": "ucum:m"},
            "Thing": {"@iot.id": 4242},
            "Sensor": {"@iot.id": 1},
            "ObservedProperty": {"@iot.id": 1},
        },
    )
    assert r.status_code == 404 and "Things(4242) does not exist" in r.json()["message"]
    assert api.get("/Things(4242)").status_code == 404
    assert api.get("/Thingz").status_code == 404
    assert _counts(api)["sta_datastreams"] == 0


def test_bad_observations(api: Api) -> None:
    tid = api.create("/Things", weather_station())
    ds = api.get(f"/Things({tid})/Datastreams").json()["value"][0]["@iot.id"]
    before = _counts(api)
    cases: list[tuple[dict[str, Any], str]] = [
        ({"phenomenonTime": "2026-01-01T00:00:00Z"}, "result: required"),
        ({"phenomenonTime": "yesterday", "result": 1}, "phenomenonTime"),
        ({"phenomenonTime": "2026-01-01T00:00:00", "result": 1}, "no time zone"),
        (
            {"phenomenonTime": "2026-01-01T00:00:00Z", "result": 1, "Datastream": {"@iot.id": "seven"}},
            "integer",
        ),
        (
            {"phenomenonTime": "2026-01-01T00:00:00Z", "result": 1, "FeatureOfInterest": {"@iot.id": 999}},
            "FeatureOfInterest(999) does not exist",
        ),
    ]
    for body, needle in cases:
        path = "/Observations" if "Datastream" in body else f"/Datastreams({ds})/Observations"
        r = api.post(path, body)
        assert r.status_code in (400, 404), r.text
        assert needle in r.json()["message"], (needle, r.text)
    # Non-finite numbers: JSON has none, so they arrive as tokens Python's parser would accept.
    r = api.client.post(
        f"/sta/v1.1/Datastreams({ds})/Observations",
        content=b'{"phenomenonTime": "2026-01-01T00:00:00Z", "result": NaN}',
        headers={**api.headers, "Content-Type": "application/json"},
    )
    assert r.status_code == 400
    assert _counts(api) == before


def test_multidatastream_result_must_match_its_properties(api: Api) -> None:
    tid = api.create("/Things", weather_station())
    s = api.create("/Sensors", {"name": "s", "description": "", "encodingType": "text/plain", "metadata": ""})
    o1 = api.create("/ObservedProperties", {"name": "a", "definition": "urn:a", "description": ""})
    o2 = api.create("/ObservedProperties", {"name": "b", "definition": "urn:b", "description": ""})
    m = api.create(
        "/MultiDatastreams",
        {
            "name": "m",
            "description": "",
            "observationType": "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_ComplexObservation",
            "unitOfMeasurements": [
                {"name": "a", "symbol": "a", "definition": "a"},
                {"name": "b", "symbol": "b", "definition": "b"},
            ],
            "multiObservationDataTypes": ["x", "y"],
            "Thing": {"@iot.id": tid},
            "Sensor": {"@iot.id": s},
            "ObservedProperties": [{"@iot.id": o1}, {"@iot.id": o2}],
        },
    )
    r = api.post(
        f"/MultiDatastreams({m})/Observations", {"phenomenonTime": "2026-01-01T00:00:00Z", "result": [1]}
    )
    assert r.status_code == 400 and "array of 2 values" in r.json()["message"]
    r = api.post(
        "/MultiDatastreams",
        {
            "name": "m",
            "description": "",
            "observationType": "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_ComplexObservation",
            "unitOfMeasurements": [{"name": "a", "symbol": "a", "definition": "a"}],
            "multiObservationDataTypes": ["x"],
            "Thing": {"@iot.id": tid},
            "Sensor": {"@iot.id": s},
            "ObservedProperties": [{"@iot.id": o1}, {"@iot.id": o2}],
        },
    )
    assert r.status_code == 400 and "ObservedProperties" in r.json()["where"]


def test_bad_geojson(api: Api) -> None:
    r = api.post(
        "/Locations",
        {
            "name": "x",
            "description": "",
            "encodingType": "application/geo+json",
            "location": {"type": "Point", "coordinates": [500, 37]},
        },
    )
    assert r.status_code == 400 and r.json()["where"] == "location" and "WGS84" in r.json()["message"]
    r = api.post(
        "/Locations",
        {
            "name": "x",
            "description": "",
            "encodingType": "application/geo+json",
            "location": {"type": "Polygon", "coordinates": "nope"},
        },
    )
    assert r.status_code == 400 and r.json()["where"] == "location"


def test_ids_and_times_out_of_range(api: Api) -> None:
    tid = api.create("/Things", weather_station())
    ds = api.get(f"/Things({tid})/Datastreams").json()["value"][0]["@iot.id"]
    assert api.get("/Things(99999999999999999999999)").status_code == 404
    assert api.get("/Things(0)").status_code == 404
    r = api.post("/Observations", {"result": 1, "Datastream": {"@iot.id": 2**70}})
    assert r.status_code == 400 and "integer id" in r.json()["message"]
    r = api.post(
        f"/Datastreams({ds})/Observations", {"result": 1, "phenomenonTime": "0001-01-01T00:00:00+09:00"}
    )
    assert r.status_code == 400 and "years 1 to 9999" in r.json()["message"]
    r = api.post(
        "/CreateObservations",
        [
            {
                "Datastream": {"@iot.id": ds},
                "components": ["phenomenonTime", "result"],
                "dataArray": [["0001-01-01T00:00:00+09:00", 1.0], ["2026-01-01T00:00:00Z", 1e308]],
            }
        ],
    )
    assert r.status_code == 201 and r.json()[0] == "error" and r.json()[1] != "error"
