# SPDX-License-Identifier: Apache-2.0
"""The situation board (``GET /situation``) as typed values: the computed risk level per district and
hazard beside the official one, open incidents, active conditions, sensor health, the rules' state, and
the parts other capabilities add (``safecity.capability.BoardPart``). :meth:`Board.to_json` is the
HTTP answer, key for key."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from safecity.situation.incident_model import IncidentDetail
from safecity.situation.model import HAZARDS, Crisis
from safecity.situation.official import RISK_LEVEL


@dataclass(frozen=True, slots=True)
class DistrictLevels:
    """One district's computed level per hazard and overall (0: none)."""

    code: str  # 5-digit sigungu code
    name_ko: str | None  # None: a code the rules name but no imported area has
    name_en: str | None
    levels: Mapping[str, int]  # hazard key -> level 1..4
    level: int

    def to_json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "nameKo": self.name_ko,
            "nameEn": self.name_en,
            "levels": dict(self.levels),
            "level": self.level,
        }


@dataclass(frozen=True, slots=True)
class RulesState:
    loaded: int  # rules evaluating without error
    failed: tuple[str, ...]  # ids of rules that raised and were disabled
    errors: tuple[dict[str, Any], ...]  # rule files or rules that did not load (RuleError.to_json)

    def to_json(self) -> dict[str, Any]:
        return {"loaded": self.loaded, "failed": list(self.failed), "errors": list(self.errors)}


@dataclass(frozen=True, slots=True)
class UnreadStream:
    """A city's own sensor stream no rule reads (its property is not mapped to the catalogue)."""

    datastream: int
    name: str
    thing: str
    property: str | None  # the catalogue key of its ObservedProperty (None: not in the catalogue)

    def to_json(self) -> dict[str, Any]:
        return {
            "datastream": self.datastream,
            "name": self.name,
            "thing": self.thing,
            "property": self.property,
        }


@dataclass(frozen=True, slots=True)
class Board:
    generated_at: datetime
    level: Crisis  # the highest computed level of any district (위험 수준, not the declared 위기경보)
    official: Sequence[dict[str, Any]]  # the 위기경보 declared by people, in force (official.in_force)
    districts: Sequence[DistrictLevels]  # by code
    incidents: Sequence[IncidentDetail]  # open incidents, as GET /situation/incidents/{id} shows them
    conditions: Sequence[dict[str, Any]]  # rule conditions at a level now (the engine's active())
    sensors: Mapping[str, int]  # streams by health state, and "total"
    rules: RulesState
    #: what other capabilities add (warning: alertDrafts, externalAlerts), by key
    parts: Mapping[str, Any] = field(default_factory=dict)
    #: the router fills it: the city's streams no rule reads yet (None: not asked)
    unread_streams: Sequence[UnreadStream] | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            **self.parts,
            "generatedAt": self.generated_at.isoformat(),
            "level": self.level.to_json(),
            "levelLabel": RISK_LEVEL,
            "official": list(self.official),
            "districts": [d.to_json() for d in self.districts],
            "hazards": [{"key": h.key, "nameKo": h.name_ko, "nameEn": h.name_en} for h in HAZARDS.values()],
            "crisisLevels": [c.to_json() for c in Crisis],
            "incidents": [i.to_json() for i in self.incidents],
            "conditions": list(self.conditions),
            "sensors": dict(self.sensors),
            "rules": self.rules.to_json(),
        }
        if self.unread_streams is not None:
            out["unreadStreams"] = [s.to_json() for s in self.unread_streams]
        return out
