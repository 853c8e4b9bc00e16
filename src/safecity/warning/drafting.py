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
    "earthquake": "Geo",
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
    # after the shaking: check for damage, keep out of damaged buildings (the guide's after steps)
    "earthquake": "Execute",
    "air_quality": "Execute",  # mask, stay indoors: the guide's steps
}

#: <geocode> valueName of a 10-digit MOIS 행정동 code (a platform convention, like KR.SIG).
DONG_GEOCODE = "KR.ADM_DONG"
#: More areas than this are summarised ("서울 12개 구") instead of named: a short text has 90 characters.
MAX_NAMED = 3


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
    radius_km: float | None = None  # the circle; None: not a point alert
    site_ko: str = ""  # the facility or address at the centre
    site_en: str = ""
    districts_total: int = 0  # the city's districts (all of them: "서울 전역")

    @property
    def point(self) -> bool:
        return self.centre is not None and self.radius_km is not None


def place_text(facts: IncidentFacts, words: Wording) -> str:
    """How the text names where: the facility or address of a point alert (else its districts) with the
    circle's radius; up to :data:`MAX_NAMED` areas by name; more as "서울 12개 구"; every district as
    "서울 전역"."""
    ko_names = words.place_names == "ko"
    names = [p.name_ko if ko_names else p.name_en for p in facts.places]
    if facts.point:
        site = facts.site_ko if ko_names else (facts.site_en or facts.site_ko)
        around = words.around.format(km=f"{facts.radius_km:g}")
        named = [n for p, n in zip(facts.places, names, strict=True) if p.code != "site"][:MAX_NAMED]
        return f"{site or ', '.join(named)} {around}".strip()
    districts = [p for p in facts.places if len(p.code) != 10]
    if facts.districts_total and len(districts) >= facts.districts_total:
        return words.whole_city
    if len(names) > MAX_NAMED:
        key = words.many_dongs if len(districts) < len(names) else words.many_districts
        return key.format(n=len(names))
    return ", ".join(names) or words.city


#: CAP responseType at 심각 where it differs from :data:`RESPONSE`: a structure at collapse danger is
#: an evacuation of its cordon, not only "keep away".
RESPONSE_SERIOUS = {"facility": "Evacuate"}


def response_for(hazard: str, level: Crisis) -> str:
    if level >= Crisis.serious and hazard in RESPONSE_SERIOUS:
        return RESPONSE_SERIOUS[hazard]
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
    places = place_text(facts, words)
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
            # the stage in this language: the short text leads with it (warning.texts)
            {"valueName": "SAFECITY_STAGE", "value": stage},
            # where, as a short text says it ("서울 12개 구"); <areaDesc> names every area
            {"valueName": "SAFECITY_PLACE", "value": places},
        ],
        "area": [area_block(facts, words, places)],
    }
    if msg_type == "Cancel" and lowered:
        # the areas still have a (lower) alert in force: the short text says "lowered", not "all clear"
        info["parameter"].append({"valueName": "SAFECITY_LOWERED", "value": "true"})
    if web:
        info["web"] = web
    return info


def area_block(facts: IncidentFacts, words: Wording, place_text: str) -> dict[str, Any]:
    """The CAP <area>: a point alert is its circle only (no district codes: a receiver targeting by
    code would warn the whole district); an area alert is its areas' polygons and MOIS codes (5-digit
    시군구 as KR.SIG, 10-digit 행정동 as KR.ADM_DONG), so receivers can target by code too."""
    if facts.point and facts.centre is not None:
        lon, lat = facts.centre
        return {"areaDesc": place_text, "circle": [f"{lat:.5f},{lon:.5f} {facts.radius_km:g}"]}
    ko_names = words.place_names == "ko"
    names = ", ".join(p.name_ko if ko_names else p.name_en for p in facts.places)
    codes = [
        {"valueName": DONG_GEOCODE if len(p.code) == 10 else "KR.SIG", "value": p.code} for p in facts.places
    ]
    polygons: list[str] = []
    for p in facts.places:
        polygons.extend(cap_polygons(p.geometry))
    return {"areaDesc": names or words.city, "polygon": polygons, "geocode": codes}


def identifier(prefix: str, incident_id: int, when: datetime, n: int) -> str:
    """A CAP identifier: no spaces, commas or reserved characters; unique per sender."""
    return f"{prefix}-{when:%Y%m%dT%H%M%S}-i{incident_id}-{n}"
