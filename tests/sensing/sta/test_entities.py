# SPDX-License-Identifier: Apache-2.0
"""Create, read, update and delete every SensorThings entity set, with deep insert and links."""

from __future__ import annotations

from tests.conftest import Api, weather_station

OM_MEASUREMENT = "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement"
OM_COMPLEX = "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_ComplexObservation"


def test_service_root_lists_every_entity_set(api: Api) -> None:
    r = api.get("")
    assert r.status_code == 200
    names = {v["name"] for v in r.json()["value"]}
    assert names == {
        "Things",
        "Locations",
        "HistoricalLocations",
        "Datastreams",
        "MultiDatastreams",
        "Sensors",
        "ObservedProperties",
        "Observations",
        "FeaturesOfInterest",
    }
    assert any("data-array" in c for c in r.json()["serverSettings"]["conformance"])


def test_deep_insert_creates_the_graph_and_links(api: Api) -> None:
    r = api.post("/Things", weather_station())
    assert r.status_code == 201, r.text
    thing = r.json()
    assert r.headers["Location"] == thing["@iot.selfLink"]
    assert thing["@iot.selfLink"].endswith(f"/sta/v1.1/Things({thing['@iot.id']})")
    assert thing["Datastreams@iot.navigationLink"].endswith("/Datastreams")
    tid = thing["@iot.id"]
    ds = api.get(f"/Things({tid})/Datastreams").json()["value"]
    assert len(ds) == 1 and ds[0]["unitOfMeasurement"]["symbol"] == "mm"
    dsid = ds[0]["@iot.id"]
    assert api.get(f"/Datastreams({dsid})/Sensor").json()["name"] == "tipping bucket"
    assert api.get(f"/Datastreams({dsid})/ObservedProperty").json()["name"] == "rainfall_10min"
    assert api.get(f"/Datastreams({dsid})/Thing").json()["@iot.id"] == tid
    locs = api.get(f"/Things({tid})/Locations").json()["value"]
    assert locs[0]["location"] == {"type": "Point", "coordinates": [127.0473, 37.5172]}
    # Linking a Thing to Locations records a HistoricalLocation (SensorThings 1.1 §8.2.3).
    hl = api.get(f"/Things({tid})/HistoricalLocations").json()["value"]
    assert len(hl) == 1
    assert (
        api.get(f"/HistoricalLocations({hl[0]['@iot.id']})/Locations").json()["value"][0]["@iot.id"]
        == locs[0]["@iot.id"]
    )
    assert api.get(f"/Locations({locs[0]['@iot.id']})/Things").json()["value"][0]["@iot.id"] == tid


def test_every_entity_set_crud(api: Api) -> None:
    tid = api.create("/Things", {"name": "Mapo bridge", "description": "bridge monitoring"})
    lid = api.create(
        "/Locations",
        {
            "name": "pier 3",
            "description": "",
            "encodingType": "application/geo+json",
            "location": {"type": "Point", "coordinates": [126.9386, 37.5385]},
        },
    )
    sid = api.create(
        "/Sensors",
        {"name": "inclinometer", "description": "biaxial", "encodingType": "text/html", "metadata": "x"},
    )
    opid = api.create(
        "/ObservedProperties",
        {
            "name": "tilt",
            "definition": "urn:safecity:def:observed-property:tilt",
            "description": "tilt angle",
        },
    )
    dsid = api.create(
        "/Datastreams",
        {
            "name": "pier 3 tilt",
            "description": "",
            "observationType": OM_MEASUREMENT,
            "unitOfMeasurement": {"name": "degree", "symbol": "deg", "definition": "ucum:deg"},
            "Thing": {"@iot.id": tid},
            "Sensor": {"@iot.id": sid},
            "ObservedProperty": {"@iot.id": opid},
        },
    )
    op2 = api.create(
        "/ObservedProperties", {"name": "tilt y", "definition": "urn:x:tilt_y", "description": ""}
    )
    mdsid = api.create(
        "/MultiDatastreams",
        {
            "name": "pier 3 tilt xy",
            "description": "",
            "observationType": OM_COMPLEX,
            "unitOfMeasurements": [{"name": "degree", "symbol": "deg", "definition": "ucum:deg"}] * 2,
            "multiObservationDataTypes": [OM_MEASUREMENT, OM_MEASUREMENT],
            "Thing": {"@iot.id": tid},
            "Sensor": {"@iot.id": sid},
            "ObservedProperties": [{"@iot.id": opid}, {"@iot.id": op2}],
        },
    )
    foid = api.create(
        "/FeaturesOfInterest",
        {
            "name": "pier 3",
            "description": "",
            "encodingType": "application/geo+json",
            "feature": {"type": "Point", "coordinates": [126.9386, 37.5385]},
        },
    )
    oid = api.create(
        "/Observations",
        {
            "phenomenonTime": "2026-11-25T09:00:00+09:00",
            "result": 0.12,
            "Datastream": {"@iot.id": dsid},
            "FeatureOfInterest": {"@iot.id": foid},
        },
    )
    moid = api.create(
        f"/MultiDatastreams({mdsid})/Observations",
        {
            "phenomenonTime": "2026-11-25T00:00:00Z",
            "result": [0.1, 0.2],
            "FeatureOfInterest": {"@iot.id": foid},
        },
    )
    hid = api.create("/HistoricalLocations", {"time": "2026-11-25T00:00:00Z", "Thing": {"@iot.id": tid}})
    # read
    obs = api.get(f"/Observations({oid})").json()
    assert obs["phenomenonTime"] == "2026-11-25T00:00:00Z" and obs["result"] == 0.12
    assert obs["resultTime"] is None
    assert api.get(f"/Observations({moid})").json()["result"] == [0.1, 0.2]
    assert api.get(f"/MultiDatastreams({mdsid})/ObservedProperties").json()["value"][1]["@iot.id"] == op2
    assert api.get(f"/HistoricalLocations({hid})/Thing").json()["@iot.id"] == tid
    # Datastream's phenomenonTime spans its observations.
    assert api.get(f"/Datastreams({dsid})").json()["phenomenonTime"] == "2026-11-25T00:00:00Z"
    # update
    for path, body, key, value in [
        (f"/Things({tid})", {"name": "Mapo Bridge"}, "name", "Mapo Bridge"),
        (
            f"/Locations({lid})",
            {"description": "pier 3, upstream side"},
            "description",
            "pier 3, upstream side",
        ),
        (
            f"/Sensors({sid})",
            {"metadata": "https://example.org/inc.pdf"},
            "metadata",
            "https://example.org/inc.pdf",
        ),
        (
            f"/ObservedProperties({opid})",
            {"description": "tilt from vertical"},
            "description",
            "tilt from vertical",
        ),
        (f"/Datastreams({dsid})", {"properties": {"limit_deg": 0.5}}, "properties", {"limit_deg": 0.5}),
        (f"/MultiDatastreams({mdsid})", {"name": "xy"}, "name", "xy"),
        (f"/FeaturesOfInterest({foid})", {"name": "Pier 3"}, "name", "Pier 3"),
        (f"/Observations({oid})", {"result": 0.15}, "result", 0.15),
        (f"/HistoricalLocations({hid})", {"time": "2026-11-25T01:00:00Z"}, "time", "2026-11-25T01:00:00Z"),
    ]:
        r = api.patch(path, body)
        assert r.status_code == 200, (path, r.text)
        assert api.get(path).json()[key] == value
    # property and $value
    assert api.get(f"/Things({tid})/name").json() == {"name": "Mapo Bridge"}
    assert api.get(f"/Things({tid})/name/$value").text == "Mapo Bridge"
    # delete cascades: a Thing takes its Datastreams and their Observations with it
    assert api.delete(f"/Things({tid})").status_code == 200
    assert api.get(f"/Things({tid})").status_code == 404
    assert api.get(f"/Datastreams({dsid})").status_code == 404
    assert api.get(f"/Observations({oid})").status_code == 404
    assert api.get(f"/MultiDatastreams({mdsid})").status_code == 404
    for path in (
        f"/Locations({lid})",
        f"/Sensors({sid})",
        f"/ObservedProperties({opid})",
        f"/FeaturesOfInterest({foid})",
    ):
        assert api.delete(path).status_code == 200
        assert api.get(path).status_code == 404


def test_association_links(api: Api) -> None:
    tid = api.create("/Things", weather_station())
    lid2 = api.create(
        "/Locations",
        {
            "name": "moved",
            "description": "",
            "encodingType": "application/geo+json",
            "location": {"type": "Point", "coordinates": [127.0, 37.5]},
        },
    )
    refs = api.get(f"/Things({tid})/Locations/$ref").json()
    assert len(refs["value"]) == 1 and set(refs["value"][0]) == {"@iot.selfLink"}
    assert api.post(f"/Things({tid})/Locations/$ref", {"@iot.id": lid2}).status_code == 204
    # Linking a new Location replaces the Thing's location and records the move.
    assert [v["@iot.id"] for v in api.get(f"/Things({tid})/Locations").json()["value"]] == [lid2]
    assert len(api.get(f"/Things({tid})/HistoricalLocations").json()["value"]) == 2
    assert api.delete(f"/Things({tid})/Locations({lid2})/$ref").status_code == 200
    assert api.get(f"/Things({tid})/Locations").json()["value"] == []
    assert api.get(f"/Locations({lid2})").status_code == 200  # the Location itself remains


def test_observation_gets_feature_of_interest_from_thing_location(api: Api) -> None:
    tid = api.create("/Things", weather_station())
    dsid = api.get(f"/Things({tid})/Datastreams").json()["value"][0]["@iot.id"]
    o1 = api.create(
        f"/Datastreams({dsid})/Observations", {"phenomenonTime": "2026-08-08T12:00:00Z", "result": 3.5}
    )
    o2 = api.create(
        f"/Datastreams({dsid})/Observations", {"phenomenonTime": "2026-08-08T12:10:00Z", "result": 14.0}
    )
    f1 = api.get(f"/Observations({o1})/FeatureOfInterest").json()
    f2 = api.get(f"/Observations({o2})/FeatureOfInterest").json()
    assert f1["@iot.id"] == f2["@iot.id"]  # one generated feature, reused
    assert f1["feature"] == {"type": "Point", "coordinates": [127.0473, 37.5172]}


def test_retried_observation_is_stored_once(api: Api) -> None:
    tid = api.create("/Things", weather_station())
    dsid = api.get(f"/Things({tid})/Datastreams").json()["value"][0]["@iot.id"]
    body = {"phenomenonTime": "2026-08-08T12:00:00+09:00", "result": 3.5}
    a = api.create(f"/Datastreams({dsid})/Observations", body)
    b = api.create(f"/Datastreams({dsid})/Observations", body)
    assert a == b
    assert api.get(f"/Datastreams({dsid})/Observations?$count=true").json()["@iot.count"] == 1


def test_json_patch_updates(api: Api) -> None:
    tid = api.create("/Things", weather_station())
    ops = [
        {"op": "replace", "path": "/name", "value": "Gangnam rain gauge"},
        {"op": "add", "path": "/properties/owner", "value": "Seoul"},
    ]
    r = api.client.patch(
        f"/sta/v1.1/Things({tid})",
        json=ops,
        headers={**api.headers, "Content-Type": "application/json-patch+json"},
    )
    assert r.status_code == 200, r.text
    thing = api.get(f"/Things({tid})").json()
    assert thing["name"] == "Gangnam rain gauge" and thing["properties"]["owner"] == "Seoul"
    r = api.client.patch(
        f"/sta/v1.1/Things({tid})",
        json=[{"op": "remove", "path": "/nope"}],
        headers={**api.headers, "Content-Type": "application/json-patch+json"},
    )
    assert r.status_code == 400 and "JSON Patch" in r.json()["message"]


def test_patch_moves_a_thing_and_records_the_move(api: Api) -> None:
    tid = api.create("/Things", weather_station())
    new_site = {
        "name": "new site",
        "description": "",
        "encodingType": "application/geo+json",
        "location": {"type": "Point", "coordinates": [127.03, 37.50]},
    }
    r = api.patch(f"/Things({tid})", {"Locations": [new_site]})
    assert r.status_code == 200, r.text
    locs = api.get(f"/Things({tid})/Locations").json()["value"]
    assert [loc["name"] for loc in locs] == ["new site"]
    assert len(api.get(f"/Things({tid})/HistoricalLocations").json()["value"]) == 2
    r = api.patch(f"/Things({tid})", {"Datastreams": [{"@iot.id": 1}]})
    assert r.status_code == 400 and r.json()["where"] == "Datastreams"
