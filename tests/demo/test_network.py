# SPDX-License-Identifier: Apache-2.0
"""The demo sensor network and places on the real districts and dongs: deterministic, where they should be,
honest about being demo data."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from shapely.geometry import Point

from safecity.demo.city import SOURCE, DemoCity, build_city
from safecity.demo.fields import distance_m
from safecity.demo.network import (
    RESIDENTS_PER_SAFETY_CENTRE,
    RESIDENTS_PER_SCHOOL,
    Network,
    build_network,
    on_land,
)


@pytest.fixture(scope="module")
def city() -> DemoCity:
    return build_city()


@pytest.fixture(scope="module")
def network(city: DemoCity) -> Network:
    return build_network(city)


def test_the_network_is_deterministic(city: DemoCity, network: Network) -> None:
    assert build_network(build_city()).digest() == network.digest()
    assert len({s.code for s in network.sensors}) == len(network.sensors)


def test_counts_per_kind(city: DemoCity, network: Network) -> None:
    c = network.counts()
    for kind in ("rain", "environment", "seismic"):
        assert c[kind] == 25, kind  # one per district
        assert {s.district for s in network.sensors if s.kind == kind} == {d.code for d in city.districts}
    assert c["river"] == len(city.facts.gauges) == 4
    facilities = Counter(f.kind for f in city.facts.facilities)
    assert (c["bridge"], c["tunnel"], c["old_building"]) == (
        facilities["bridge"],
        facilities["tunnel"],
        facilities["old_building"],
    )
    # a generated underpass per district, at the lowest point of its street grid, with a depth gauge
    underpasses = [s for s in network.sensors if s.kind == "underpass"]
    assert sorted(s.district for s in underpasses) == sorted(d.code for d in city.districts)
    for s in underpasses:
        assert [st.prop for st in s.streams] == ["road_water_depth", "crack_width"]
        assert s.properties["generated"] is True and "생성 위치" in s.name_ko
    assert c["hospitals"] == len(city.facts.hospitals) == 10
    schools = Counter(s.district for s in network.schools)
    fire = Counter(s.district for s in network.fire_stations)
    for d in city.districts:
        assert schools[d.code] == max(1, round(d.population / RESIDENTS_PER_SCHOOL)), d.name_en
        assert fire[d.code] == max(1, round(d.population / RESIDENTS_PER_SAFETY_CENTRE)) >= 1
    total = sum(d.population for d in city.districts)
    assert total / 100_000 <= c["fire_stations"] <= total / 80_000
    # shelters: every 3rd school's gym, every 2nd school's yard, and the 25 district offices
    assert c["shelters"] == -(-len(network.schools) // 3) + -(-len(network.schools) // 2) + 25


def test_every_sensor_and_place_is_on_land_in_its_district(city: DemoCity, network: Network) -> None:
    places = [*network.schools, *network.fire_stations, *network.shelters]
    everything: list[Any] = [*network.sensors, *places]  # sensors and places share code/lon/lat/dong
    for item in everything:
        polygon = city.district(item.district).polygon
        assert polygon.contains(Point(item.lon, item.lat)), item.code
        assert on_land(city, item.lon, item.lat), item.code
        # and names the real dong it stands in, a dong of its district
        assert item.dong[:5] == item.district, item.code
        assert city.dong(item.dong).polygon.intersects(Point(item.lon, item.lat)), item.code
    for s in network.sensors:
        if s.kind in ("rain", "environment", "seismic"):
            office = city.district(s.district).office
            # near the district office, never on it
            assert 300 <= distance_m((s.lon, s.lat), (office.x, office.y)) <= 3000, s.code


def test_gauges_stay_at_their_bridges(city: DemoCity, network: Network) -> None:
    for g in city.facts.gauges:
        sensor = network.sensor(f"river-{g.code}")
        # moved from mid-river to the bank where the gauge house stands (Haengju: inside the outline)
        assert distance_m((sensor.lon, sensor.lat), g.position) < 1500, g.code
        assert sensor.transport == "mqtt"
    assert network.sensor("river-hangang-bridge").properties["gauge"] == "hangang_bridge"


def test_things_say_they_are_demo_data(network: Network) -> None:
    for s in network.sensors:
        props = s.thing_properties()
        assert props["demo"] is True and props["source"] == SOURCE and props["district"] == s.district
        assert props["dong"] == s.dong and len(s.dong) == 10
    building = network.sensor("facility-building-sewoon")
    assert {st.prop for st in building.streams} >= {
        "tilt",
        "crack_width",
        "smoke_obscuration",
        "co_concentration",
    }
    assert next(st for st in building.streams if st.prop == "tilt").properties == {"allowable": 0.5}
    for p in network.schools:
        assert p.generated and "(generated)" in p.name_en and "(생성)" in p.name_ko
    for h in network.hospitals:
        assert not h.generated and "approximate" in h.source


def test_things_name_their_facility_and_address_for_incidents(city: DemoCity, network: Network) -> None:
    # an incident at a facility is named after it and its administrative address, never a device name
    districts = {d.code: d for d in city.districts}
    dongs = {d.code: d for d in city.dongs}
    for f in city.facts.facilities:
        try:
            sensor = network.sensor(f"facility-{f.code}")
        except KeyError:
            continue  # a facility without a monitor (retention ponds)
        props = sensor.thing_properties()
        assert (props["name_ko"], props["name_en"]) == (f.name_ko, f.name_en)
        district, dong = districts[sensor.district], dongs[sensor.dong]
        assert props["address_ko"] == f"서울특별시 {district.name_ko} {dong.name_ko}"
        assert props["address_en"] == f"{dong.name_en}, {district.name_en}, Seoul"
    gauge = network.sensor("river-hangang-bridge").thing_properties()
    assert gauge["name_ko"].startswith("한강대교") and gauge["name_en"].startswith("Hangang")
    underpass = next(s for s in network.sensors if s.kind == "underpass").thing_properties()
    assert "(생성)" in underpass["name_ko"] and "(generated)" in underpass["name_en"]
