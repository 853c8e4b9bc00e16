# SPDX-License-Identifier: Apache-2.0
"""The demo city's 119 safety centres become dispatch stations with their units (both stores), once."""

from __future__ import annotations

from collections import Counter

from safecity.app import Platform
from safecity.demo.city import build_city
from safecity.demo.network import build_network
from safecity.demo.sample import _seed_dispatch
from safecity.dispatch.model import StationIn, UnitStatus, UnitType
from safecity.dispatch.seed import Seeded, seed_units
from safecity.dispatch.service import Dispatch


def test_the_demo_centres_get_their_units_once(platform: Platform) -> None:
    network = build_network(build_city())
    centres = [
        StationIn(
            code=p.code, name_ko=p.name_ko, name_en=p.name_en, district=p.district, lon=p.lon, lat=p.lat
        )
        for p in network.fire_stations
    ]
    districts = {c.district for c in centres}
    assert len(districts) == 25 and len(centres) >= 100
    dispatch = platform.services.get(Dispatch)
    _seed_dispatch(platform, network)  # what `safecity demo` does after loading the city
    seeded = Seeded(len(dispatch.stations()), len(dispatch.units()))
    # a pumper and an ambulance per centre; a ladder and a rescue unit per district
    assert (seeded.stations, seeded.units) == (len(centres), 2 * len(centres) + 2 * 25)
    units = dispatch.units()
    by_type = Counter(u.type for u in units)
    assert by_type == {
        UnitType.pumper: len(centres),
        UnitType.ambulance: len(centres),
        UnitType.ladder: 25,
        UnitType.rescue: 25,
    }
    assert all(u.status is UnitStatus.available for u in units)
    home = {s.code: (s.lon, s.lat) for s in dispatch.stations()}
    assert all((u.lon, u.lat) == home[u.station] for u in units)
    assert {u.callsign for u in units if u.station == "fire-11440-01"} == {
        "11440-01펌프",
        "11440-01구급",
        "11440-01사다리",
        "11440-01구조",
    }
    # loading the demo again adds nothing
    again = seed_units(dispatch, centres)
    assert (again.stations, again.units) == (0, 0) and len(dispatch.units()) == len(units)
