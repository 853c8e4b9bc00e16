# SPDX-License-Identifier: Apache-2.0
"""Stations and units for a city that has 119 safety centres but no dispatch set-up yet (the demo city:
``safecity demo`` gives its generated centres units, so the dispatcher's screen is populated).

Each centre gets a pumper (펌프차, crew 4) and an ambulance (구급차, crew 3), the fixed pair of a Seoul 119
safety centre; each district's first centre also a ladder (사다리차, crew 3) and a rescue unit (구조공작차,
crew 5), as each Seoul fire station (소방서) keeps its special vehicles at one centre. That shape is our
judgement from the 서울소방 station pages, UNCONFIRMED as a rule. Loading twice adds nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from safecity.dispatch.model import StationIn, UnitIn, UnitType
from safecity.dispatch.service import Dispatch

#: (type, Korean callsign suffix, crew) of every centre, and of each district's first centre
EVERY_CENTRE = ((UnitType.pumper, "펌프", 4), (UnitType.ambulance, "구급", 3))
FIRST_CENTRE = ((UnitType.ladder, "사다리", 3), (UnitType.rescue, "구조", 5))


@dataclass(frozen=True)
class Seeded:
    stations: int  # added now
    units: int  # added now


def seed_units(dispatch: Dispatch, centres: Sequence[StationIn], actor: str = "system") -> Seeded:
    """Add the centres missing from dispatch as stations, with their units (callsigns from the centre's
    code, e.g. ``11440-01구급``); existing stations and callsigns are left as they are."""
    have_stations = {s.code for s in dispatch.stations()}
    have_units = {u.callsign for u in dispatch.units()}
    added_stations = added_units = 0
    seen_districts: set[str] = set()
    for centre in centres:
        if centre.code not in have_stations:
            dispatch.add_station(centre)
            added_stations += 1
        first = centre.district not in seen_districts
        seen_districts.add(centre.district)
        short = centre.code.removeprefix("fire-")
        for kind, suffix, crew in EVERY_CENTRE + (FIRST_CENTRE if first else ()):
            callsign = f"{short}{suffix}"
            if callsign in have_units:
                continue
            dispatch.add_unit(UnitIn(callsign=callsign, type=kind, station=centre.code, crew=crew), actor)
            added_units += 1
    return Seeded(added_stations, added_units)
