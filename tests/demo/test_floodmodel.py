# SPDX-License-Identifier: Apache-2.0
"""The demo city under the flood model: its generated semi-basement homes, its catchment, and the water
the heavy-rain scenario makes at its underpasses (the flood model, not the old bucket)."""

from __future__ import annotations

from datetime import timedelta
from functools import cache

import pytest

from safecity.demo import scenario
from safecity.demo.city import DemoCity, build_city
from safecity.demo.floodmodel import DEMO_CELL_M, demo_catchment, semi_basement_facts, semi_basement_places
from safecity.demo.network import Network, build_network
from safecity.demo.scenario import Stream


@cache
def _city() -> tuple[DemoCity, Network]:
    city = build_city()
    return city, build_network(city)


def test_semi_basement_homes_add_up_to_seouls_total_and_say_they_are_generated() -> None:
    city, _ = _city()
    places = semi_basement_places(city)
    total = sum(int(p.properties["homes"]) for p in places)
    assert total == pytest.approx(semi_basement_facts().total, rel=0.01)  # 202,741, rounded per cell
    assert all(p.properties["generated"] and "UNCONFIRMED" in p.properties["source"] for p in places)
    assert all("생성" in p.name_ko and "generated" in p.name_en for p in places)
    assert {p.district for p in places} == {d.code for d in city.districts}


def test_the_demo_catchment_holds_every_underpass_and_the_main_roads() -> None:
    city, network = _city()
    cat = demo_catchment(city, network)
    assert cat.grid.dx == DEMO_CELL_M
    assert {p.code for p in cat.of_kind("underpass")} == {
        s.code for s in network.sensors if s.kind == "underpass"
    }
    assert cat.of_kind("road") and cat.of_kind("building")


def _underpass_series(code: str) -> list[float]:
    _, network = _city()
    sc = scenario.load("heavy_rain")
    [stream] = [
        s for st in sc.feed(network) for s in st.streams if s.key == code and s.prop == "road_water_depth"
    ]
    assert isinstance(stream, Stream)
    return [stream.value(sc.step_s * k, sc.start + timedelta(seconds=sc.step_s * k)) for k in range(sc.steps)]


def test_the_rain_band_floods_the_underpasses_under_it_and_not_the_others() -> None:
    dongjak = _underpass_series("underpass-11590")  # 동작, under the band's core (141.5 mm in an hour)
    nowon = _underpass_series("underpass-11350")  # 노원, in the north, far from the band
    assert max(dongjak) >= 0.30  # past closure depth, to where cars float
    first = next(k for k, v in enumerate(dongjak) if v >= 0.15)
    assert 19 <= first <= 26  # during the peak hour (20:10-21:10), not before the heavy rain
    assert max(nowon) < 0.05
    # the pumps and the sewer empty it after the rain: the model's own value 3 hours after the last rain
    # (step 43) is down to the 5 cm of "water on the road"
    assert dongjak[43 + 17] <= 0.05
