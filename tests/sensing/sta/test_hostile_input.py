# SPDX-License-Identifier: Apache-2.0
"""Input an attacker sends to make the server fail (issue 13): each is a 400 naming the problem, on both
stores, and a bad row in a batch is refused alone while the others are stored."""

from __future__ import annotations

import json
import time

import pytest
from sqlalchemy import func, select

from safecity.sensing import tables as t
from tests.conftest import Api, weather_station


def _results(api: Api) -> list[float]:
    with api.platform.store.engine.connect() as conn:
        return sorted(conn.execute(select(t.observations.c.result_number)).scalars())


def _datastream(api: Api) -> int:
    tid = api.create("/Things", weather_station())
    return int(api.get(f"/Things({tid})/Datastreams").json()["value"][0]["@iot.id"])


def test_a_nul_row_in_create_observations_is_refused_alone(api: Api) -> None:
    ds = _datastream(api)
    rows: list[list[object]] = [[f"2024-07-01T09:{m:02d}:00+09:00", float(m)] for m in range(50)]
    rows.insert(7, ["2024-07-01T10:00:00Z", "a\x00b"])
    rows.insert(9, ["2024-07-01T10:01:00Z", {"note": ["x", "y\x00"]}])
    r = api.post(
        "/CreateObservations",
        [{"Datastream": {"@iot.id": ds}, "components": ["phenomenonTime", "result"], "dataArray": rows}],
    )
    assert r.status_code == 201, r.text
    answer = r.json()
    assert [i for i, a in enumerate(answer) if a == "error"] == [7, 9]
    assert _results(api) == [float(m) for m in range(50)]
    detail = json.loads(r.headers["X-Safecity-Row-Errors"])
    messages = {e["row"]: e["message"] for e in detail["errors"]}
    assert "NUL" in messages[7] and "result" in messages[7]
    assert "result/note[1]" in messages[9]


def test_a_row_error_quoting_korean_text_is_answered_not_a_500(api: Api) -> None:
    ds = _datastream(api)
    good = [[f"2024-07-01T{9 + m // 60:02d}:{m % 60:02d}:00+09:00", float(m)] for m in range(99)]
    body = [
        {"Datastream": {"@iot.id": ds}, "components": ["phenomenonTime", "result"], "dataArray": good},
        {
            "Datastream": {"@iot.id": "강남 우량계"},
            "components": ["phenomenonTime", "result"],
            "dataArray": [["2024-07-01T10:00:00Z", 1.0]],
        },
        {
            "Datastream": {"@iot.id": ds},
            "components": ["phenomenonTime", "result"],
            "dataArray": [["어제 오후", 1.0]],
        },
    ]
    r = api.post("/CreateObservations", body)
    assert r.status_code == 201, r.text
    assert r.json()[99:] == ["error", "error"]
    assert len(_results(api)) == 99
    messages = {e["row"]: e["message"] for e in json.loads(r.headers["X-Safecity-Row-Errors"])["errors"]}
    assert "강남 우량계" in messages[99]  # the header is ASCII; the text survives its escapes
    assert "어제 오후" in messages[100]


@pytest.mark.parametrize(
    ("path", "body", "where"),
    [
        ("/Things", {"name": "Gangnam\x00", "description": "d"}, "body/name"),
        ("/Things", {"name": "x", "description": "d", "properties": {"k\x00": 1}}, "body/properties/k?"),
        ("/Datastreams({ds})/Observations", {"result": "a\x00"}, "body/result"),
        (
            "/Datastreams({ds})/Observations",
            {"result": 1, "parameters": {"a": ["\x00"]}},
            "body/parameters/a[0]",
        ),
    ],
)
def test_nul_in_a_body_is_a_400_naming_the_field(api: Api, path: str, body: object, where: str) -> None:
    ds = _datastream(api)
    before = _results(api)
    r = api.post(path.format(ds=ds), body)
    assert r.status_code == 400, r.text
    assert r.json()["where"] == where and "NUL" in r.json()["message"]
    assert _results(api) == before
    with api.platform.store.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(t.things)).scalar_one() == 1


@pytest.mark.parametrize(
    ("query", "where"),
    [
        ("$skip=9223372036854775808", "$skip"),
        ("$top=9223372036854775808", "$top"),
        ("$skip=" + "9" * 5000, "$skip"),
        ("$expand=Datastreams($skip=9223372036854775808)", "$expand(Datastreams)/$skip"),
    ],
)
def test_counts_beyond_64_bits_are_a_400(api: Api, query: str, where: str) -> None:
    _datastream(api)
    r = api.get(f"/Things?{query}")
    assert r.status_code == 400, r.text
    assert r.json()["where"] == where


@pytest.mark.parametrize(
    "expand",
    [
        "Datastreams($expand=Thing(" * 1000 + "$expand=Datastreams" + "))" * 1000,
        "/".join(["Datastreams/Thing"] * 40),
    ],
)
def test_a_very_deep_expand_is_refused_at_once(api: Api, expand: str) -> None:
    _datastream(api)
    started = time.monotonic()
    r = api.get("/Things", params={"$expand": expand})
    assert r.status_code == 400, r.text
    assert "levels deep" in r.json()["message"]
    # a generous bound: before the fix this parsed for seconds and then failed on recursion
    assert time.monotonic() - started < 2.0


def test_a_useful_expand_still_works(api: Api) -> None:
    _datastream(api)
    r = api.get("/Things?$expand=Datastreams($expand=ObservedProperty,Sensor),Locations")
    assert r.status_code == 200, r.text
    thing = r.json()["value"][0]
    assert thing["Datastreams"][0]["Sensor"]["name"] and thing["Locations"]
