# SPDX-License-Identifier: Apache-2.0
"""The Data Array extension: CreateObservations and $resultFormat-independent reads."""

from __future__ import annotations

import json

from sqlalchemy import func, select

from safecity.sensing import tables as t
from tests.conftest import Api, weather_station


def _count(api: Api) -> int:
    with api.platform.store.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(t.observations)).scalar_one())


def test_create_observations_answers_per_row(api: Api) -> None:
    tid = api.create("/Things", weather_station())
    ds = api.get(f"/Things({tid})/Datastreams").json()["value"][0]["@iot.id"]
    body = [
        {
            "Datastream": {"@iot.id": ds},
            "components": ["phenomenonTime", "result"],
            "dataArray@iot.count": 4,
            "dataArray": [
                ["2022-08-08T20:00:00+09:00", 12.5],
                ["not a time", 1.0],
                ["2022-08-08T20:10:00+09:00", "NaN"],
                ["2022-08-08T20:20:00+09:00", 30.0, "extra"],
                ["2022-08-08T20:30:00+09:00", 41.0],
            ],
        },
        {
            "Datastream": {"@iot.id": 999},
            "components": ["phenomenonTime", "result"],
            "dataArray": [["2022-08-08T20:00:00Z", 1]],
        },
    ]
    r = api.post("/CreateObservations", body)
    assert r.status_code == 201
    answer = r.json()
    assert len(answer) == 6
    assert answer[0].startswith("http") and "/Observations(" in answer[0]
    assert answer[1:4] == ["error", "error", "error"]
    assert answer[4].startswith("http")
    assert answer[5] == "error"
    assert _count(api) == 2
    detail = json.loads(r.headers["X-Safecity-Row-Errors"])
    assert detail["count"] == 4
    by_row = {e["row"]: e["message"] for e in detail["errors"]}
    assert "phenomenonTime" in by_row[1]
    assert "finite" in by_row[2]
    assert "3 values" not in by_row[3] and "2 values" in by_row[3]
    assert "Datastream(999) does not exist" in by_row[5]
    # Retrying the same request stores nothing new and answers the same ids.
    again = api.post("/CreateObservations", body).json()
    assert again[0] == answer[0] and again[4] == answer[4]
    assert _count(api) == 2


def test_create_observations_with_feature_and_result_time(api: Api) -> None:
    tid = api.create("/Things", weather_station())
    ds = api.get(f"/Things({tid})/Datastreams").json()["value"][0]["@iot.id"]
    foi = api.create(
        "/FeaturesOfInterest",
        {
            "name": "gauge",
            "description": "",
            "encodingType": "application/geo+json",
            "feature": {"type": "Point", "coordinates": [127.0, 37.5]},
        },
    )
    r = api.post(
        "/CreateObservations",
        [
            {
                "Datastream": {"@iot.id": ds},
                "components": ["phenomenonTime", "resultTime", "result", "FeatureOfInterest/id"],
                "dataArray": [["2022-08-08T11:00:00Z", "2022-08-08T11:00:05Z", 7.0, foi]],
            }
        ],
    )
    link = r.json()[0]
    oid = int(link[link.rindex("(") + 1 : -1])
    obs = api.get(f"/Observations({oid})?$expand=FeatureOfInterest").json()
    assert obs["resultTime"] == "2022-08-08T11:00:05Z"
    assert obs["FeatureOfInterest"]["@iot.id"] == foi


def test_malformed_create_observations_writes_nothing(api: Api) -> None:
    tid = api.create("/Things", weather_station())
    ds = api.get(f"/Things({tid})/Datastreams").json()["value"][0]["@iot.id"]
    for body, needle in [
        ({"Datastream": {"@iot.id": ds}}, "JSON array"),
        (
            [{"Datastream": {"@iot.id": ds}, "components": ["phenomenonTime", "colour"], "dataArray": []}],
            "colour",
        ),
        ([{"Datastream": {"@iot.id": ds}, "components": ["phenomenonTime"], "dataArray": []}], "result"),
        ([{"components": ["result"], "dataArray": []}], "Datastream"),
    ]:
        r = api.post("/CreateObservations", body)
        assert r.status_code == 400 and needle in r.json()["message"], r.text
    assert _count(api) == 0


def test_read_observations_as_data_array(api: Api) -> None:
    tid = api.create("/Things", weather_station())
    ds = api.get(f"/Things({tid})/Datastreams").json()["value"][0]["@iot.id"]
    rows = [["2022-08-08T20:00:00+09:00", 12.5], ["2022-08-08T20:10:00+09:00", 30.0]]
    api.post(
        "/CreateObservations",
        [{"Datastream": {"@iot.id": ds}, "components": ["phenomenonTime", "result"], "dataArray": rows}],
    )
    r = api.get(
        f"/Datastreams({ds})/Observations?$resultFormat=dataArray&$select=phenomenonTime,result&$orderby=phenomenonTime"
    )
    assert r.status_code == 200
    (block,) = r.json()["value"]
    assert block["Datastream@iot.navigationLink"].endswith(f"/Datastreams({ds})")
    assert block["components"] == ["phenomenonTime", "result"]
    assert block["dataArray"] == [["2022-08-08T11:00:00Z", 12.5], ["2022-08-08T11:10:00Z", 30]]
    assert block["dataArray@iot.count"] == 2
    assert api.get("/Things?$resultFormat=dataArray").status_code == 400
