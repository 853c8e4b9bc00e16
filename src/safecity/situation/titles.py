# SPDX-License-Identifier: Apache-2.0
"""Incident titles that follow the situation: the current stage and where it is, in words people use.

"극한호우 — 서울 남서부 12개 구" / "Extreme rainfall — 12 districts of south-west Seoul": a few districts by
name, many as a part of the city and a count, nearly all as the whole city. An earthquake is named for
after the shaking; a point incident (a fire, a failing structure) after its facility.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from safecity.situation.correlate import Point
from safecity.situation.model import HAZARDS, Site

#: Up to this many districts are named one by one.
NAMED_MAX = 3
#: Regions by the first two digits of the MOIS district code: names, number of districts, centre (the city
#: hall, lon/lat) for "north-west", and from how many districts it is "the whole city" (judgement: 20 of
#: 25 leaves out too little for people to read a list).
REGIONS = {"11": ("서울", "Seoul", 25, (126.9780, 37.5665), 20)}
#: Within this distance (km) of the centre the districts' middle is "central".
CENTRAL_KM = 3.0
_SECTORS = (
    ("북부", "north"),
    ("북동부", "north-east"),
    ("동부", "east"),
    ("남동부", "south-east"),
    ("남부", "south"),
    ("남서부", "south-west"),
    ("서부", "west"),
    ("북서부", "north-west"),
)


@dataclass(frozen=True)
class Area:
    """A district as a title names it."""

    code: str
    name_ko: str
    name_en: str
    centroid: Point | None


def area_phrase(areas: Sequence[Area]) -> tuple[str, str]:
    """Korean and English words for where: "동작구, 관악구", "서울 남서부 12개 구", "서울 전역"."""
    if not areas:
        return "", ""
    ordered = sorted(areas, key=lambda a: a.code)
    if len(ordered) <= NAMED_MAX:
        return ", ".join(a.name_ko for a in ordered), ", ".join(a.name_en for a in ordered)
    regions = {a.code[:2] for a in ordered}
    region = REGIONS.get(regions.pop()) if len(regions) == 1 else None
    n = len(ordered)
    if region is None:
        return f"{n}개 지역", f"{n} areas"
    name_ko, name_en, total, centre, whole = region
    if n >= whole or n >= total:
        return f"{name_ko} 전역", f"all of {name_en}"
    points = [a.centroid for a in ordered if a.centroid is not None]
    if not points:
        return f"{name_ko} {n}개 구", f"{n} districts of {name_en}"
    lon = sum(p[0] for p in points) / len(points)
    lat = sum(p[1] for p in points) / len(points)
    east_km = (lon - centre[0]) * 111.32 * math.cos(math.radians(centre[1]))
    north_km = (lat - centre[1]) * 110.57
    if math.hypot(east_km, north_km) < CENTRAL_KM:
        return f"{name_ko} 중심부 {n}개 구", f"{n} districts of central {name_en}"
    bearing = math.degrees(math.atan2(east_km, north_km)) % 360
    part_ko, part_en = _SECTORS[int((bearing + 22.5) // 45) % 8]
    return f"{name_ko} {part_ko} {n}개 구", f"{n} districts of {part_en} {name_en}"


def incident_title(
    hazard: str, stage_ko: str, stage_en: str, place: tuple[str, str], site: Site | None = None
) -> tuple[str, str]:
    """The title of an incident at a stage over a place (from :func:`area_phrase`); ``site`` names the
    facility of a point incident. An earthquake's levels are known once the shaking has been recorded,
    so its title says so (the shaking is over; what follows is checking and aftershocks)."""
    h = HAZARDS.get(hazard)
    stage_ko = stage_ko or (h.name_ko if h else hazard)
    stage_en = stage_en or (h.name_en if h else hazard)
    place_ko, place_en = place
    if site is not None and site.name_ko:
        place_ko = f"{site.name_ko} ({place_ko})" if place_ko else site.name_ko
        place_en = f"{site.name_en} ({place_en})" if place_en else site.name_en
    if hazard == "earthquake":
        stage_ko, stage_en = f"지진 흔들림 관측: {stage_ko}", f"Earthquake shaking recorded: {stage_en}"
    ko = f"{stage_ko} — {place_ko}" if place_ko else stage_ko
    en = f"{stage_en} — {place_en}" if place_en else stage_en
    return ko, en
