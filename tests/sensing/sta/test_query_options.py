# SPDX-License-Identifier: Apache-2.0
"""$filter, $expand (nested, with options), $select, $orderby, $top, $skip, $count and nextLink paging."""

from __future__ import annotations

import pytest

from tests.conftest import Api, weather_station


@pytest.fixture
def rain(api: Api) -> tuple[Api, int, int]:
    """Two stations; the Gangnam gauge has 30 ten-minute readings of a rising storm."""
    t1 = api.create("/Things", weather_station("Gangnam AWS", 127.0473, 37.5172))
    api.create("/Things", weather_station("Jongno AWS", 126.9780, 37.5665))
    ds = api.get(f"/Things({t1})/Datastreams").json()["value"][0]["@iot.id"]
    rows = [[f"2022-08-08T{10 + i // 6:02d}:{(i % 6) * 10:02d}:00+09:00", float(i)] for i in range(30)]
    r = api.post(
        "/CreateObservations",
        [{"Datastream": {"@iot.id": ds}, "components": ["phenomenonTime", "result"], "dataArray": rows}],
    )
    assert r.status_code == 201 and "error" not in r.json()
    return api, t1, ds


def test_top_skip_count_and_next_link(rain: tuple[Api, int, int]) -> None:
    api, _, ds = rain
    page = api.get(f"/Datastreams({ds})/Observations?$top=10&$count=true&$orderby=phenomenonTime").json()
    assert page["@iot.count"] == 30 and len(page["value"]) == 10
    assert page["value"][0]["result"] == 0
    nxt = page["@iot.nextLink"]
    assert "$skip=10" in nxt
    second = api.client.get(nxt[nxt.index("/sta/v1.1") :], headers=api.headers).json()
    assert [o["result"] for o in second["value"]] == list(range(10, 20))
    last = api.get(f"/Datastreams({ds})/Observations?$top=10&$skip=20").json()
    assert "@iot.nextLink" not in last


def test_orderby_desc_and_select(rain: tuple[Api, int, int]) -> None:
    api, _, ds = rain
    r = api.get(
        f"/Datastreams({ds})/Observations?$orderby=phenomenonTime desc&$top=1&$select=result,phenomenonTime"
    ).json()
    assert r["value"] == [{"phenomenonTime": "2022-08-08T05:50:00Z", "result": 29}]
    r = api.get("/Things?$select=id,name&$orderby=name").json()
    assert [set(v) for v in r["value"]] == [{"@iot.id", "name"}] * 2
    assert [v["name"] for v in r["value"]] == ["Gangnam AWS", "Jongno AWS"]


def test_filter_comparison_time_and_paths(rain: tuple[Api, int, int]) -> None:
    api, _, ds = rain
    r = api.get(
        "/Observations?$filter=result ge 25 and phenomenonTime lt 2022-08-08T14:50:00%2B09:00&$count=true"
    ).json()
    assert r["@iot.count"] == 4  # 25, 26, 27, 28
    r = api.get(f"/Observations?$filter=Datastream/id eq {ds} and result mod 10 eq 0&$count=true").json()
    assert r["@iot.count"] == 3
    r = api.get("/Datastreams?$filter=Thing/name eq 'Jongno AWS'").json()
    assert len(r["value"]) == 1 and r["value"][0]["name"].startswith("Jongno")
    r = api.get("/Things?$filter=properties/sigungu_code eq '11680'").json()
    assert len(r["value"]) == 2
    r = api.get("/Things?$filter=startswith(name, 'Gang') or substringof('ongno', name)&$count=true").json()
    assert r["@iot.count"] == 2
    r = api.get("/Observations?$filter=hour(phenomenonTime) eq 5&$count=true").json()
    assert r["@iot.count"] == 6


def test_filter_geospatial(rain: tuple[Api, int, int]) -> None:
    api, _, _ = rain
    jongno_box = "POLYGON((126.96 37.55, 127.00 37.55, 127.00 37.58, 126.96 37.58, 126.96 37.55))"
    r = api.get(f"/Locations?$filter=st_within(location, geography'{jongno_box}')").json()
    assert [v["name"] for v in r["value"]] == ["Jongno AWS site"]
    r = api.get(
        "/Locations?$filter=geo.distance(location, geography'POINT(126.9780 37.5665)') lt 1000"
    ).json()
    assert [v["name"] for v in r["value"]] == ["Jongno AWS site"]
    r = api.get(f"/Things?$filter=st_intersects(Locations/location, geography'{jongno_box}')").json()
    assert [v["name"] for v in r["value"]] == ["Jongno AWS"]


def test_expand_nested_with_options(rain: tuple[Api, int, int]) -> None:
    api, t1, _ = rain
    r = api.get(
        f"/Things({t1})?$expand=Datastreams($select=name;$expand=Observations($top=2;$orderby=phenomenonTime desc;$select=result),ObservedProperty),Locations"
    ).json()
    ds = r["Datastreams"][0]
    assert set(ds) >= {"name", "Observations", "ObservedProperty"}
    assert [o["result"] for o in ds["Observations"]] == [29, 28]
    assert ds["Observations@iot.nextLink"]
    assert ds["ObservedProperty"]["name"] == "rainfall_10min"
    assert r["Locations"][0]["location"]["type"] == "Point"
    r = api.get("/Observations?$top=1&$expand=Datastream/Thing").json()
    assert r["value"][0]["Datastream"]["Thing"]["name"] == "Gangnam AWS"


def test_bad_query_options_name_the_problem(rain: tuple[Api, int, int]) -> None:
    api, _, _ = rain
    r = api.get("/Things?$filter=nmae eq 'x'")
    assert r.status_code == 400 and "nmae" in r.json()["message"]
    r = api.get("/Things?$filter=name eq")
    assert r.status_code == 400 and r.json()["where"] == "$filter"
    r = api.get("/Things?$top=-1")
    assert r.status_code == 400 and "$top" in r.json()["message"]
    r = api.get("/Things?$expand=Sensors")
    assert r.status_code == 400 and "Sensors" in r.json()["message"]
    r = api.get("/Things?$select=colour")
    assert r.status_code == 400 and "colour" in r.json()["message"]
    r = api.get("/Things?$orderby=colour desc")
    assert r.status_code == 400 and "colour" in r.json()["message"]
    r = api.get("/Things?$frobnicate=1")
    assert r.status_code == 400
