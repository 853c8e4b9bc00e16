# SPDX-License-Identifier: Apache-2.0
"""A SensorThings client written by others (FROST's Python client) works against us unchanged."""

from __future__ import annotations

import frost_sta_client as fsc
from geojson import Point

from safecity.auth.model import Role
from tests.conftest import LiveServer


def test_frost_client_creates_and_reads_back(live_server: LiveServer) -> None:
    live_server.platform.auth.create_user("frost", "frost-password", {Role.operator})
    service = fsc.SensorThingsService(
        live_server.url + "/sta/v1.1",
        auth_handler=fsc.AuthHandler(username="frost", password="frost-password"),
    )
    location = fsc.Location(
        name="Hangang Bridge gauge",
        description="water level gauge",
        encoding_type="application/geo+json",
        location=Point((126.9583, 37.5172)),
    )
    thing = fsc.Thing(name="Hangang Bridge", description="Han River gauge station", locations=[location])
    service.create(thing)
    assert isinstance(thing.id, int)
    sensor = fsc.Sensor(
        name="radar level",
        description="radar water level sensor",
        encoding_type="application/pdf",
        metadata="https://example.org/radar.pdf",
    )
    prop = fsc.ObservedProperty(
        name="river water level",
        definition="urn:safecity:def:observed-property:river_level",
        description="water level above gauge datum",
    )
    ds = fsc.Datastream(
        name="Hangang Bridge level",
        description="10-minute river level",
        observation_type="http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement",
        unit_of_measurement=fsc.UnitOfMeasurement(name="metre", symbol="m", definition="ucum:m"),
        thing=thing,
        sensor=sensor,
        observed_property=prop,
    )
    service.create(ds)
    for i, level in enumerate([4.2, 5.1, 6.3, 7.8, 8.6]):
        service.create(
            fsc.Observation(result=level, phenomenon_time=f"2022-08-08T{12 + i:02d}:00:00Z", datastream=ds)
        )
    # read back with a filter and an expand, as a client would
    found = (
        service.observations()
        .query()
        .filter(f"Datastream/id eq {ds.id} and result gt 6")
        .orderby("phenomenonTime", "ASC")
        .list()
    )
    assert [o.result for o in found] == [6.3, 7.8, 8.6]
    things = (
        service.things()
        .query()
        .filter("name eq 'Hangang Bridge'")
        .expand("Datastreams($expand=Observations($orderby=phenomenonTime desc;$top=1))")
        .list()
    )
    things_list = list(things)
    assert len(things_list) == 1
    latest = things_list[0].datastreams.entities[0].observations.entities[0]
    assert latest.result == 8.6
    again = service.datastreams().find(ds.id)
    assert again.name == "Hangang Bridge level"
    assert again.unit_of_measurement.symbol == "m"
