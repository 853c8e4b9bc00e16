# SPDX-License-Identifier: Apache-2.0
"""The situation capability's vocabulary: crisis levels, hazards and the conditions rules produce."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import IntEnum
from typing import Any


class Crisis(IntEnum):
    """The four national crisis levels (국가위기경보: 관심, 주의, 경계, 심각), plus none."""

    none = 0
    attention = 1  # 관심, blue
    caution = 2  # 주의, yellow
    alert = 3  # 경계, orange
    serious = 4  # 심각, red

    @property
    def name_ko(self) -> str:
        return _CRISIS_KO[self]

    @property
    def name_en(self) -> str:
        return _CRISIS_EN[self]

    @property
    def colour(self) -> str:
        return _CRISIS_COLOUR[self]

    def to_json(self) -> dict[str, Any]:
        return {
            "level": int(self),
            "key": self.name,
            "nameKo": self.name_ko,
            "nameEn": self.name_en,
            "colour": self.colour,
        }


_CRISIS_KO = {0: "평시", 1: "관심", 2: "주의", 3: "경계", 4: "심각"}
_CRISIS_EN = {0: "Normal", 1: "Attention", 2: "Caution", 3: "Alert", 4: "Serious"}
_CRISIS_COLOUR = {0: "grey", 1: "blue", 2: "yellow", 3: "orange", 4: "red"}


@dataclass(frozen=True)
class Hazard:
    key: str
    name_ko: str
    name_en: str


HAZARDS: dict[str, Hazard] = {
    h.key: h
    for h in (
        Hazard("heavy_rain", "호우", "Heavy rain"),
        Hazard("heat_wave", "폭염", "Heat wave"),
        Hazard("cold_wave", "한파", "Cold wave"),
        Hazard("strong_wind", "강풍", "Strong wind"),
        Hazard("river_flood", "하천 홍수", "River flood"),
        Hazard("landslide", "산사태", "Landslide"),
        Hazard("facility", "시설물 안전", "Facility safety"),
        Hazard("fire", "화재", "Fire"),
        Hazard("gas", "가스 누출", "Gas leak"),
        Hazard("air_quality", "대기질", "Air quality"),
        Hazard("earthquake", "지진", "Earthquake"),
        Hazard("sensor", "센서 이상", "Sensor fault"),
        Hazard("other", "기타", "Other"),
    )
}


@dataclass(frozen=True, slots=True)
class Site:
    """What to call the place a condition is at, for people: the facility and its administrative address
    (from the Thing's properties ``name_ko``/``name_en``/``address_ko``/``address_en``, else its name)."""

    name_ko: str
    name_en: str
    address_ko: str = ""
    address_en: str = ""

    def to_json(self) -> dict[str, str]:
        return {
            "nameKo": self.name_ko,
            "nameEn": self.name_en,
            "addressKo": self.address_ko,
            "addressEn": self.address_en,
        }


@dataclass(frozen=True, slots=True)
class ConditionChange:
    """A rule's condition entered, changed or left a level for one subject (a stream, a thing or an area).

    ``level`` is the new crisis level (``Crisis.none`` = cleared) and ``at`` the observations' time at which
    it happened (not the wall clock: a replay or a late batch gives past times). ``late`` marks a change
    found by re-evaluating a window after data arrived out of order.
    """

    rule_id: str
    rule_version: int
    hazard: str
    subject: str  # "ds:12", "thing:5" or "area:district:11590"
    level: Crisis
    previous: Crisis
    stage_ko: str  # name of the rule level, e.g. 호우경보 ("" when cleared)
    stage_en: str
    at: datetime
    value: float | None  # the deciding signal value, when there is one
    signal: str  # the deciding signal's description, e.g. "sum 3h"
    datastream_ids: tuple[int, ...] = ()
    thing_ids: tuple[int, ...] = ()
    observation_ids: tuple[int, ...] = ()
    district_codes: tuple[str, ...] = ()
    dong_codes: tuple[str, ...] = ()
    lon: float | None = None
    lat: float | None = None
    late: bool = False
    detail: dict[str, Any] = field(default_factory=dict)
    #: the rule's levels are an authority's official stages (RuleDef.official): its own incident
    official: bool = False
    #: at most how long after the driving input falls back the rule leaves its levels (RuleDef.lift_within_s)
    lift_within_s: float | None = None
    #: the facility the condition is at (a point hazard's incident is named after it)
    site: Site | None = None

    @property
    def fired(self) -> bool:
        return self.level > self.previous

    def to_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule_id,
            "ruleVersion": self.rule_version,
            "hazard": self.hazard,
            "subject": self.subject,
            "level": int(self.level),
            "previous": int(self.previous),
            "stageKo": self.stage_ko,
            "stageEn": self.stage_en,
            "at": self.at.isoformat(),
            "value": self.value,
            "signal": self.signal,
            "datastreams": list(self.datastream_ids),
            "things": list(self.thing_ids),
            "observations": list(self.observation_ids),
            "districts": list(self.district_codes),
            "dongs": list(self.dong_codes),
            "lon": self.lon,
            "lat": self.lat,
            "late": self.late,
            "official": self.official,
            "liftWithinS": self.lift_within_s,
            "site": self.site.to_json() if self.site else None,
        }
