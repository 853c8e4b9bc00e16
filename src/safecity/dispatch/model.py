# SPDX-License-Identifier: Apache-2.0
"""Typed models of 119 dispatch: unit types and their capabilities, the unit status lifecycle, call
types with their run cards (``data/call_types.toml``), stations, units and calls."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from functools import cache
from importlib import resources
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator


class UnitType(StrEnum):
    pumper = "pumper"  # 펌프차
    ladder = "ladder"  # 사다리차 (aerial)
    rescue = "rescue"  # 구조공작차
    ambulance = "ambulance"  # 구급차
    water_rescue = "water_rescue"  # 수난구조대
    collapse_rescue = "collapse_rescue"  # 특수구조 (붕괴)


#: What each unit type can do; a run card asks for a type, and a type that can do everything the asked
#: one does may stand in for it (a collapse rescue unit can do a rescue unit's work).
CAPABILITIES: dict[UnitType, frozenset[str]] = {
    UnitType.pumper: frozenset({"suppression", "water_supply", "first_response"}),
    UnitType.ladder: frozenset({"aerial", "suppression"}),
    UnitType.rescue: frozenset({"rescue", "extrication"}),
    UnitType.ambulance: frozenset({"ems", "transport"}),
    UnitType.water_rescue: frozenset({"rescue", "extrication", "water"}),
    UnitType.collapse_rescue: frozenset({"rescue", "extrication", "collapse", "heavy_lifting"}),
}

UNIT_NAMES: dict[UnitType, tuple[str, str]] = {
    UnitType.pumper: ("펌프차", "Pumper"),
    UnitType.ladder: ("사다리차", "Ladder"),
    UnitType.rescue: ("구조차", "Rescue"),
    UnitType.ambulance: ("구급차", "Ambulance"),
    UnitType.water_rescue: ("수난구조", "Water rescue"),
    UnitType.collapse_rescue: ("붕괴구조", "Collapse rescue"),
}


def can_serve(unit: UnitType, asked: UnitType) -> bool:
    return CAPABILITIES[asked] <= CAPABILITIES[unit]


class UnitStatus(StrEnum):
    available = "available"
    dispatched = "dispatched"
    en_route = "en_route"
    on_scene = "on_scene"
    transporting = "transporting"
    at_hospital = "at_hospital"
    returning = "returning"
    out_of_service = "out_of_service"


S = UnitStatus
#: Allowed status changes. A dispatched, en-route or returning unit can be cancelled or re-sent; any
#: unit can go out of service (breakdown, crew change) and come back available.
TRANSITIONS: dict[UnitStatus, frozenset[UnitStatus]] = {
    S.available: frozenset({S.dispatched, S.out_of_service}),
    S.dispatched: frozenset({S.en_route, S.available, S.returning, S.out_of_service}),
    S.en_route: frozenset({S.on_scene, S.returning, S.available, S.out_of_service}),
    S.on_scene: frozenset({S.transporting, S.returning, S.available, S.out_of_service}),
    S.transporting: frozenset({S.at_hospital, S.out_of_service}),
    S.at_hospital: frozenset({S.returning, S.available, S.out_of_service}),
    S.returning: frozenset({S.available, S.dispatched, S.out_of_service}),
    S.out_of_service: frozenset({S.available}),
}

#: Statuses from which a unit may be sent to a new call (a returning unit is free for a new call).
DISPATCHABLE = frozenset({S.available, S.returning})
#: Statuses counted as busy with a call (for utilisation and coverage).
BUSY = frozenset({S.dispatched, S.en_route, S.on_scene, S.transporting, S.at_hospital})

STATUS_NAMES: dict[UnitStatus, tuple[str, str]] = {
    S.available: ("대기", "Available"),
    S.dispatched: ("출동지령", "Dispatched"),
    S.en_route: ("출동 중", "En route"),
    S.on_scene: ("현장 도착", "On scene"),
    S.transporting: ("이송 중", "Transporting"),
    S.at_hospital: ("병원 도착", "At hospital"),
    S.returning: ("귀소 중", "Returning"),
    S.out_of_service: ("운휴", "Out of service"),
}


class Category(StrEnum):
    fire = "fire"
    rescue = "rescue"
    ems = "ems"


@dataclass(frozen=True)
class RunCardLine:
    unit: UnitType
    count: int


@dataclass(frozen=True)
class CallType:
    code: str
    category: Category
    name_ko: str
    name_en: str
    golden_min: int  # the arrival target, minutes from the call (4 for cardiac arrest, else 7)
    run_card: tuple[RunCardLine, ...]


@cache
def call_types() -> dict[str, CallType]:
    """The call-type list shipped in ``data/call_types.toml`` (sources cited there)."""
    text = resources.files("safecity.dispatch").joinpath("data/call_types.toml").read_text("utf-8")
    out: dict[str, CallType] = {}
    for t in tomllib.loads(text)["type"]:
        out[t["code"]] = CallType(
            code=t["code"],
            category=Category(t["category"]),
            name_ko=t["name_ko"],
            name_en=t["name_en"],
            golden_min=int(t["golden_min"]),
            run_card=tuple(RunCardLine(UnitType(r["unit"]), int(r["count"])) for r in t["run_card"]),
        )
    return out


def call_type(code: str) -> CallType:
    from safecity.core.errors import BadRequest

    found = call_types().get(code)
    if found is None:
        raise BadRequest(
            f"type: '{code}' is not a known call type; use one of {', '.join(call_types())}",
            where="type",
            message_ko=f"type: '{code}'은(는) 알 수 없는 신고 유형입니다",
        )
    return found


# ---- API models ------------------------------------------------------------------------------


class StationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(min_length=1, max_length=60)
    name_ko: str = Field(min_length=1, max_length=200)
    name_en: str = Field(min_length=1, max_length=200)
    district: str = Field("", max_length=10, description="MOIS district code (e.g. 11440)")
    lon: float = Field(ge=-180, le=180)
    lat: float = Field(ge=-90, le=90)


class UnitIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    callsign: str = Field(min_length=1, max_length=60)
    type: UnitType
    station: str = Field(min_length=1, max_length=60, description="home station code")
    crew: int = Field(3, ge=1, le=20)


class HospitalIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(min_length=1, max_length=60)
    name_ko: str = Field(min_length=1, max_length=200)
    name_en: str = Field(min_length=1, max_length=200)
    lon: float = Field(ge=-180, le=180)
    lat: float = Field(ge=-90, le=90)
    capacity: int = Field(ge=0, le=10_000, description="patients its emergency department can take now")


class CapacityIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    capacity: int = Field(ge=0, le=10_000, description="patients the emergency department can take now")
    note: str | None = Field(None, max_length=500, description="why (e.g. the ED's own word, a phone call)")


class StatusIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: UnitStatus
    hospital: str | None = Field(
        None,
        min_length=1,
        max_length=60,
        description="transporting: the hospital's code (default: the nearest with a free place)",
    )
    note: str | None = Field(None, max_length=500)
    lon: float | None = Field(None, ge=-180, le=180)
    lat: float | None = Field(None, ge=-90, le=90)


class CallIn(BaseModel):
    """A 119 call: its type and where (a point, a dong code, or an address naming a dong)."""

    model_config = ConfigDict(extra="forbid")
    type: str = Field(min_length=1, max_length=60)
    lon: float | None = Field(None, ge=-180, le=180)
    lat: float | None = Field(None, ge=-90, le=90)
    dong: str | None = Field(None, min_length=8, max_length=10, description="MOIS dong code (adm_cd2)")
    address: str | None = Field(None, min_length=2, max_length=300)
    note: str | None = Field(None, max_length=2000)
    incident: int | None = Field(None, ge=1, description="join this dispatch incident")
    situation_incident: int | None = Field(None, ge=1, alias="situationIncident")

    @model_validator(mode="after")
    def _where(self) -> CallIn:
        if (self.lon is None) != (self.lat is None):
            raise ValueError("lon and lat: give both or neither")
        if self.lon is None and self.dong is None and self.address is None:
            raise ValueError("location: give lon/lat, a dong code or an address")
        return self


class DispatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    units: list[str] = Field(min_length=1, max_length=20, description="callsigns to send")


@dataclass(frozen=True)
class Station:
    id: int
    code: str
    name_ko: str
    name_en: str
    district: str
    lon: float
    lat: float


@dataclass(frozen=True)
class Unit:
    id: int
    callsign: str
    type: UnitType
    crew: int
    station: str
    status: UnitStatus
    status_at: datetime
    lon: float
    lat: float
    call_id: int | None
    position_at: datetime | None = None  # when lon/lat were last known (a tracker's fix, or quarters)
    hospital_id: int | None = None  # where it is taking a patient (transporting, at hospital)

    def public(self) -> dict[str, Any]:
        ko, en = STATUS_NAMES[self.status]
        return {
            "id": self.id,
            "callsign": self.callsign,
            "type": self.type.value,
            "typeKo": UNIT_NAMES[self.type][0],
            "typeEn": UNIT_NAMES[self.type][1],
            "crew": self.crew,
            "station": self.station,
            "status": self.status.value,
            "statusKo": ko,
            "statusEn": en,
            "statusAt": self.status_at.isoformat(),
            "lon": self.lon,
            "lat": self.lat,
            "positionAt": self.position_at.isoformat() if self.position_at else None,
            "hospital": self.hospital_id,
            "call": self.call_id,
        }


@dataclass(frozen=True)
class Call:
    id: int
    type: str
    status: str  # open | suggested (by the platform, e.g. a predicted collapse) | dispatched | closed
    received_at: datetime
    dispatched_at: datetime | None
    arrived_at: datetime | None
    closed_at: datetime | None
    lon: float
    lat: float
    address: str | None
    dong: str | None
    district: str | None
    incident: int
    situation_incident: int | None
    note: str | None
    source: str  # "call", "rule" or "quake"

    def public(self) -> dict[str, Any]:
        t = call_types().get(self.type)
        return {
            "id": self.id,
            "type": self.type,
            "typeKo": t.name_ko if t else self.type,
            "typeEn": t.name_en if t else self.type,
            "category": t.category.value if t else None,
            "goldenMin": t.golden_min if t else 7,
            "status": self.status,
            "receivedAt": self.received_at.isoformat(),
            "dispatchedAt": self.dispatched_at.isoformat() if self.dispatched_at else None,
            "arrivedAt": self.arrived_at.isoformat() if self.arrived_at else None,
            "closedAt": self.closed_at.isoformat() if self.closed_at else None,
            "lon": self.lon,
            "lat": self.lat,
            "address": self.address,
            "dong": self.dong,
            "district": self.district,
            "incident": self.incident,
            "situationIncident": self.situation_incident,
            "note": self.note,
            "source": self.source,
        }
