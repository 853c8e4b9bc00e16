# SPDX-License-Identifier: Apache-2.0
"""From an incident to a CAP alert: what the draft says, in Korean and English, and where it applies.

The draft is built from what the situation capability tells about the incident (hazard, crisis level,
affected districts, its latest condition) and from the action guides; the operator reviews and edits it
before it is issued (or it is issued at once for the levels configured as automatic).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shapely.geometry.base import BaseGeometry

from safecity.situation.model import Crisis
from safecity.warning.wording import Wording

#: CAP category per platform hazard (CAP 1.2 §3.2.2 category values).
CATEGORY = {
    "heavy_rain": "Met",
    "heat_wave": "Met",
    "cold_wave": "Met",
    "strong_wind": "Met",
    "river_flood": "Met",
    "landslide": "Geo",
    "facility": "Infra",
    "fire": "Fire",
    "gas": "Safety",
    "air_quality": "Env",
    "sensor": "Infra",
    "other": "Other",
}

#: CAP urgency / severity / certainty per crisis level. Observed: the platform warns of what its sensors
#: measure. 심각 is an immediate, extreme threat; 경계 severe and immediate; 주의 moderate and expected;
#: 관심 minor, for the future.
LEVEL_CAP = {
    Crisis.serious: ("Immediate", "Extreme", "Observed"),
    Crisis.alert: ("Immediate", "Severe", "Observed"),
    Crisis.caution: ("Expected", "Moderate", "Observed"),
    Crisis.attention: ("Future", "Minor", "Likely"),
}

#: CAP responseType per hazard at 경계 and above (below: Prepare / Monitor).
RESPONSE = {
    "heavy_rain": "Evacuate",
    "river_flood": "Evacuate",
    "landslide": "Evacuate",
    "fire": "Evacuate",
    "gas": "Evacuate",
    "facility": "Avoid",
    "heat_wave": "Execute",
    "cold_wave": "Execute",
    "strong_wind": "Shelter",
}

#: Radius (km) of the circle a point hazard's alert covers. Judgement: a fire's smoke and a gas leak's
#: evacuation zone are hundreds of metres; a failing structure's cordon less.
CIRCLE_KM = {"fire": 1.0, "gas": 0.5, "facility": 0.3}


@dataclass(frozen=True)
class Place:
    code: str
    name_ko: str
    name_en: str
    geometry: BaseGeometry | None


@dataclass(frozen=True)
class IncidentFacts:
    """What the warning capability knows about an incident when it drafts."""

    incident_id: int
    hazard: str
    level: Crisis
    status: str
    stage_ko: str
    stage_en: str
    places: Sequence[Place]
    detail_ko: str  # the latest condition, e.g. "3시간 누적 96.5 mm"
    detail_en: str
    #: where a point hazard is (a fire, a leak, a structure): the alert covers a circle around it
    centre: tuple[float, float] | None = None  # lon, lat


def response_for(hazard: str, level: Crisis) -> str:
    if level >= Crisis.alert:
        return RESPONSE.get(hazard, "Prepare")
    return "Prepare" if level == Crisis.caution else "Monitor"


def cap_polygons(geom: BaseGeometry | None, tolerance: float = 0.0005, max_points: int = 200) -> list[str]:
    """CAP polygons ("lat,lon lat,lon ...", closed) for an area, simplified so that a district fits in
    a few hundred points (cell broadcast centres and CAP consumers choke on survey-grade outlines)."""
    if geom is None or geom.is_empty:
        return []
    out = []
    parts = list(getattr(geom, "geoms", [geom]))
    for part in parts:
        if part.geom_type != "Polygon":
            continue
        simple = part.simplify(tolerance, preserve_topology=True)
        ring = list(simple.exterior.coords)
        while len(ring) > max_points:
            tolerance *= 2
            ring = list(part.simplify(tolerance, preserve_topology=True).exterior.coords)
        if len(ring) < 4:
            continue
        if ring[0] != ring[-1]:
            ring.append(ring[0])
        out.append(" ".join(f"{lat:.5f},{lon:.5f}" for lon, lat in ring))
    return out


def draft_info(
    facts: IncidentFacts,
    words: Wording,
    guide_lines: Sequence[str],
    web: str | None,
    msg_type: str,
    shelters: Sequence[str] = (),
    lowered: bool = False,
) -> dict[str, Any]:
    """One CAP ``info`` block (as the JSON rendition) in the wording's language. ``lowered``: a Cancel whose areas are still at a lower level (another alert in force speaks to
    them): it says "lowered", not "all clear"."""
    urgency, severity, certainty = LEVEL_CAP.get(facts.level, ("Unknown", "Unknown", "Unknown"))
    response = response_for(facts.hazard, facts.level)
    ko_names = words.place_names == "ko"
    places = ", ".join(p.name_ko if ko_names else p.name_en for p in facts.places) or words.city
    hazard = words.hazard(facts.hazard)
    level = words.levels.get(facts.level.name, facts.level.name)
    # the rule's stage names exist in Korean and English; other languages say hazard and level
    stage = {"ko": facts.stage_ko, "en": facts.stage_en}.get(words.lang) or f"{hazard} {level}"
    detail = {"ko": facts.detail_ko, "en": facts.detail_en}.get(words.lang, "")
    fields = {"places": places, "stage": stage, "hazard": hazard, "level": level, "detail": detail}
    if msg_type == "Cancel":
        headline = (words.lowered_headline if lowered else words.cancel_headline).format(**fields)
        description = words.lowered_instruction if lowered else words.cancel_description.format(**fields)
        instruction = words.lowered_instruction if lowered else words.cancel_instruction
        response = "AllClear"
        urgency, severity, certainty = "Past", "Minor", "Observed"
    else:
        headline = words.headline.format(**fields, action=words.actions[response])
        description = words.description.format(**fields).strip()
        lines = list(guide_lines)
        if shelters:
            lines.append(words.shelters.format(names=", ".join(shelters)))
        instruction = "\n".join(lines)
    info: dict[str, Any] = {
        "language": words.language,
        "category": [CATEGORY.get(facts.hazard, "Other")],
        "event": hazard[:1].upper() + hazard[1:],
        "responseType": [response],
        "urgency": urgency,
        "severity": severity,
        "certainty": certainty,
        "senderName": words.sender_name,
        "headline": headline,
        "description": description,
        "instruction": instruction,
        "parameter": [
            {"valueName": "SAFECITY_INCIDENT", "value": str(facts.incident_id)},
            {"valueName": "SAFECITY_HAZARD", "value": facts.hazard},
            {"valueName": "SAFECITY_CRISIS_LEVEL", "value": facts.level.name},
        ],
        "area": [area_block(facts.places, words, facts.centre, CIRCLE_KM.get(facts.hazard))],
    }
    if web:
        info["web"] = web
    return info


def area_block(
    places: Sequence[Place],
    words: Wording,
    centre: tuple[float, float] | None = None,
    radius_km: float | None = None,
) -> dict[str, Any]:
    ko_names = words.place_names == "ko"
    names = ", ".join(p.name_ko if ko_names else p.name_en for p in places)
    # Administrative codes of the districts (MOIS 5-digit sigungu codes), so receivers can target by code
    # without the geometry.
    codes = [{"valueName": "KR.SIG", "value": p.code} for p in places]
    if centre is not None and radius_km is not None:
        # a point hazard warns the people around it, not a whole district
        lon, lat = centre
        around = words.around.format(km=f"{radius_km:g}")
        block: dict[str, Any] = {
            "areaDesc": f"{names} {around}".strip(),
            "circle": [f"{lat:.5f},{lon:.5f} {radius_km:g}"],
        }
        if codes:
            block["geocode"] = codes
        return block
    polygons: list[str] = []
    for p in places:
        polygons.extend(cap_polygons(p.geometry))
    return {"areaDesc": names or words.city, "polygon": polygons, "geocode": codes}


def identifier(prefix: str, incident_id: int, when: datetime, n: int) -> str:
    """A CAP identifier: no spaces, commas or reserved characters; unique per sender."""
    return f"{prefix}-{when:%Y%m%dT%H%M%S}-i{incident_id}-{n}"
