# SPDX-License-Identifier: Apache-2.0
"""What :class:`~safecity.situation.incidents.Incidents` returns: an incident as the lists show it
(:class:`Incident`) and in full with its timeline, conditions and sensors (:class:`IncidentDetail`).
Routers serialise them with ``to_json()``, whose keys and their order are the HTTP API's
(``GET /incidents``, ``GET /incidents/{id}``, the board's ``incidents``).

What the warning capability reads of an incident (``safecity.warning.incident_view``; keep it stable):
``level`` (the highest live level), ``base_level`` (a manual incident's declared floor, 0 for rules),
the titles (the current stage over the areas at it), ``areas`` with each area's *published* level
(growth batched per hazard, a fall at once; never above the live level), ``location`` (for a point
hazard with its cordon and the facility's names, never an internal key), ``conditions`` (in full reads)
and the timeline's ``fired`` entries.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from safecity.situation.lifecycle import Status
from safecity.situation.model import Crisis, Site


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


@dataclass(frozen=True, slots=True)
class IncidentArea:
    """An area an incident covers, with its own level as published."""

    code: str  # MOIS code: a 5-digit district or a 10-digit dong
    name_ko: str | None  # None when the city's areas are not loaded
    name_en: str | None
    level: int

    @property
    def kind(self) -> str:
        return "dong" if len(self.code) == 10 else "district"

    def to_json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "kind": self.kind,
            "nameKo": self.name_ko,
            "nameEn": self.name_en,
            "level": self.level,
        }


@dataclass(frozen=True, slots=True)
class IncidentLocation:
    """Where an incident started; a point hazard's also carries its cordon and the facility it is at."""

    lon: float
    lat: float
    radius_m: float | None = None  # the hazard's cordon (HazardPolicy.cordon_m), point hazards only
    site: Site | None = None  # the facility of its highest condition (point or official incidents)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"lon": self.lon, "lat": self.lat}
        if self.radius_m is not None:
            out["radiusM"] = self.radius_m
        if self.site is not None:
            out.update({k: v for k, v in self.site.to_json().items() if v})
        return out


@dataclass(frozen=True, slots=True)
class IncidentCondition:
    """A rule condition linked to an incident (full reads only)."""

    rule: str | None
    subject: str | None
    level: int
    since: datetime | None
    stage_ko: str | None
    stage_en: str | None
    districts: tuple[str, ...]
    official: bool
    lift_within_s: float | None
    site: Site | None

    def to_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "subject": self.subject,
            "level": self.level,
            "since": iso(self.since),
            "stageKo": self.stage_ko,
            "stageEn": self.stage_en,
            "districts": list(self.districts),
            "official": self.official,
            "liftWithinS": self.lift_within_s,
            "site": self.site.to_json() if self.site is not None else None,
        }


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    """One entry of an incident's timeline (fired, joined, status, note, attachment...)."""

    id: int
    at: datetime | None
    recorded_at: datetime | None
    kind: str
    actor: str | None
    rule: str | None
    level: int | None
    detail_ko: str | None
    detail_en: str | None
    data: dict[str, Any] | None  # what the entry recorded (JSON as stored)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": iso(self.at),
            "recordedAt": iso(self.recorded_at),
            "kind": self.kind,
            "actor": self.actor,
            "rule": self.rule,
            "level": self.level,
            "detailKo": self.detail_ko,
            "detailEn": self.detail_en,
            "data": self.data,
        }


@dataclass(frozen=True, slots=True)
class Incident:
    """An incident as the lists show it (``GET /incidents``): no timeline, conditions or sensors."""

    id: int
    hazard: str
    hazard_ko: str
    hazard_en: str
    level: Crisis  # the highest live level
    base_level: int  # a manual incident's declared floor; 0 for rules
    status: Status
    title_ko: str | None
    title_en: str | None
    description: str | None
    source: str | None
    source_note: str | None
    rule: str | None
    location: IncidentLocation | None
    opened_at: datetime | None
    opened_by: str | None
    last_activity_at: datetime | None
    cleared_at: datetime | None
    status_changed_at: datetime | None
    status_changed_by: str | None
    closed_at: datetime | None
    closed_by: str | None
    dismissed_reason: str | None
    created_at: datetime | None
    updated_at: datetime | None
    areas: tuple[IncidentArea, ...]
    #: at most how long after the hazard's driving input ends its conditions clear (the longest of its
    #: rules' RuleDef.lift_within_s), for the warning side's <expires> and lifting
    lift_within_s: float | None
    official: bool  # an authority's official stage (its own headline)

    @property
    def open(self) -> bool:
        return self.status not in (Status.closed, Status.dismissed)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "hazard": self.hazard,
            "hazardKo": self.hazard_ko,
            "hazardEn": self.hazard_en,
            "level": int(self.level),
            "baseLevel": self.base_level,
            "crisis": self.level.to_json(),
            "status": self.status.value,
            "statusKo": self.status.name_ko,
            "statusEn": self.status.name_en,
            "titleKo": self.title_ko,
            "titleEn": self.title_en,
            "description": self.description,
            "source": self.source,
            "sourceNote": self.source_note,
            "rule": self.rule,
            "location": self.location.to_json() if self.location is not None else None,
            "openedAt": iso(self.opened_at),
            "openedBy": self.opened_by,
            "lastActivityAt": iso(self.last_activity_at),
            "clearedAt": iso(self.cleared_at),
            "statusChangedAt": iso(self.status_changed_at),
            "statusChangedBy": self.status_changed_by,
            "closedAt": iso(self.closed_at),
            "closedBy": self.closed_by,
            "dismissedReason": self.dismissed_reason,
            "createdAt": iso(self.created_at),
            "updatedAt": iso(self.updated_at),
            "areas": [a.to_json() for a in self.areas],
            "liftWithinS": self.lift_within_s,
            "official": self.official,
        }


@dataclass(frozen=True, slots=True)
class IncidentDetail(Incident):
    """One incident in full (``GET /incidents/{id}``): its timeline (oldest first), conditions, the
    GeoJSON union of its districts' geometries (None when districts are not loaded), and what is
    attached to it."""

    timeline: tuple[TimelineEntry, ...] = ()
    geometry: dict[str, Any] | None = None  # GeoJSON geometry
    conditions: tuple[IncidentCondition, ...] = ()
    datastreams: tuple[int, ...] = ()
    things: tuple[int, ...] = ()
    observations: tuple[int, ...] = ()
    links: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            **Incident.to_json(self),
            "timeline": [e.to_json() for e in self.timeline],
            "geometry": self.geometry,
            "conditions": [c.to_json() for c in self.conditions],
            "datastreams": list(self.datastreams),
            "things": list(self.things),
            "observations": list(self.observations),
            "links": list(self.links),
        }


@dataclass(frozen=True, slots=True)
class DistrictLevel:
    """The crisis level of one district for one hazard over the open incidents (their active conditions
    and manual incidents' declared levels)."""

    district: str
    name_ko: str | None  # None when the city's areas are not loaded
    name_en: str | None
    hazard: str
    hazard_ko: str
    hazard_en: str
    level: Crisis
    incidents: tuple[int, ...]  # the open incidents putting it there

    def to_json(self) -> dict[str, Any]:
        return {
            "district": self.district,
            "nameKo": self.name_ko,
            "nameEn": self.name_en,
            "hazard": self.hazard,
            "hazardKo": self.hazard_ko,
            "hazardEn": self.hazard_en,
            "level": int(self.level),
            "crisis": self.level.to_json(),
            "incidents": list(self.incidents),
        }


@dataclass(frozen=True, slots=True)
class Dismissal:
    """An incident a rule fed that an operator dismissed as a false alarm, and why."""

    incident_id: int
    reason: str | None
    at: datetime | None
    by: str | None

    def to_json(self) -> dict[str, Any]:
        return {"incidentId": self.incident_id, "reason": self.reason, "at": iso(self.at), "by": self.by}


@dataclass(frozen=True, slots=True)
class RuleStats:
    """How a rule fares (``GET /situation/rules/stats``): conditions fired, incidents it opened and fed,
    those dismissed as false alarms among them (a high share points at a threshold to tune)."""

    rule: str
    conditions_fired: int
    incidents_opened: int
    incidents_fed: int
    incidents_dismissed: int
    dismissed_share: float  # of the incidents it fed, rounded to 3 places
    dismiss_reasons: tuple[Dismissal, ...]  # the latest first, at most MAX_REASONS

    def to_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "conditionsFired": self.conditions_fired,
            "incidentsOpened": self.incidents_opened,
            "incidentsFed": self.incidents_fed,
            "incidentsDismissed": self.incidents_dismissed,
            "dismissedShare": self.dismissed_share,
            "dismissReasons": [d.to_json() for d in self.dismiss_reasons],
        }
