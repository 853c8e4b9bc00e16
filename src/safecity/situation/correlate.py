# SPDX-License-Identifier: Apache-2.0
"""Which open incident a new condition belongs to: one situation, not an alert storm.

A condition that fires joins an open incident of the same hazard whose last activity is within
``IncidentConfig.gap`` of it and that is spatially related to it; otherwise it opens a new incident.
"Spatially related" depends on the hazard (:class:`HazardPolicy`):

* area hazards (weather, river flood, air quality): the same district, or district centroids within
  ``radius_km``. Weather warnings are issued for the whole city at once, so 40 km (Seoul is about
  36 km east-west) makes one heavy-rain situation of every district it rains on.
* point hazards (a bridge, a fire, a gas leak, a slope): the same Thing, or points within
  ``radius_km``; sharing a district is not enough (two bridges 6 km apart in 강서구 are two incidents).

Distances are great-circle distances in kilometres between WGS84 points: a change's own lon/lat, or the
centroids of its districts (from ``geo.areas`` when areas are loaded).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import MappingProxyType

from safecity.situation.model import Crisis, Site

Point = tuple[float, float]  # lon, lat (WGS84 degrees)

#: Mean Earth radius (IUGG), km: the haversine error against the ellipsoid is < 0.5 %, far below the
#: tolerance of "within 5 km".
EARTH_RADIUS_KM = 6371.0088
#: Area hazards correlated over at least this radius are region-wide: without coordinates they join by
#: 시·도 (province or metropolitan city).
REGION_KM = 20.0


@dataclass(frozen=True)
class HazardPolicy:
    """How incidents of one hazard are correlated and closed."""

    radius_km: float
    point: bool = False  # correlate by Thing and point distance, not by district
    close_after: timedelta | None = None  # overrides IncidentConfig.close_after for this hazard
    #: Areas joining an incident, or rising, are published (area links, levels, IncidentUpdated, title)
    #: at most once per this interval, the first at once: a heat wave spreading over the city district
    #: by district is a few updates, not one per district. A level that falls is published at once.
    batch: timedelta = timedelta(0)
    #: Point hazards: the radius (m) of the cordon around the point that the incident's warning covers,
    #: instead of whole districts.
    cordon_m: float | None = None


def _default_policies() -> Mapping[str, HazardPolicy]:
    # Batching (judgement): a storm's districts join within the hour and people in a newly hit district
    # must hear soon, so 30 min; heat, cold and fine dust spread over hours and are safety guidance, 2 h.
    storm = HazardPolicy(radius_km=40.0, batch=timedelta(minutes=30))
    slow = HazardPolicy(radius_km=40.0, batch=timedelta(hours=2))
    return MappingProxyType(
        {
            "heavy_rain": storm,
            "heat_wave": slow,
            "cold_wave": slow,
            "strong_wind": storm,
            "air_quality": slow,
            # The Han River and its tributaries rise together in one storm: one flood situation.
            "river_flood": storm,
            # One earthquake shakes the whole city within seconds: one incident with all its districts,
            # published at once (its stations report within a minute of each other).
            "earthquake": HazardPolicy(radius_km=40.0),
            # Slopes of one hillside (우면산 2011) fail together; another mountain is another incident.
            "landslide": HazardPolicy(radius_km=5.0, point=True),
            # A structure, a fire or a leak is one place; 500 m takes in the neighbouring sensors of it.
            # Cordons (judgement): a failing structure's fall and debris zone, 300 m; a fire's smoke and a
            # leak's evacuation zone, 500 m (a 2-km circle would take in a whole district's people).
            "facility": HazardPolicy(radius_km=0.5, point=True, cordon_m=300.0),
            "fire": HazardPolicy(radius_km=0.5, point=True, cordon_m=500.0),
            "gas": HazardPolicy(radius_km=0.5, point=True, cordon_m=500.0),
            # Sensor faults are one situation for the people who keep the network running: a power cut
            # or a telecom outage silences hundreds of devices at once, and that must read as one
            # incident listing them, not hundreds (the board's sensor summary shows them one by one).
            "sensor": HazardPolicy(radius_km=40.0),
        }
    )


@dataclass(frozen=True)
class IncidentConfig:
    """Correlation and auto-close settings. Durations compare event times (observation time)."""

    #: A condition joins an incident whose last activity is at most this far from it in time.
    gap: timedelta = timedelta(hours=6)
    #: An incident whose conditions have all been clear this long is closed (or set recovering).
    close_after: timedelta = timedelta(hours=1)
    hazards: Mapping[str, HazardPolicy] = field(default_factory=_default_policies)
    #: Hazards not in ``hazards`` (``other``).
    default: HazardPolicy = HazardPolicy(radius_km=5.0)
    #: Observation links kept per incident: the deciding observations of a days-long situation on
    #: 10-minute gauges would otherwise grow without bound; the timeline keeps every change.
    max_observation_links: int = 1000

    def policy(self, hazard: str) -> HazardPolicy:
        return self.hazards.get(hazard, self.default)

    def close_after_for(self, hazard: str) -> timedelta:
        return self.policy(hazard).close_after or self.close_after


@dataclass
class ConditionState:
    """One rule × subject condition held by an incident, at its current level."""

    key: str  # "<rule id>|<subject>"
    rule_id: str
    subject: str
    level: Crisis
    since: datetime  # event time the current level was entered
    stage_ko: str  # latest non-empty stage name (kept when cleared, for "호우경보 해제")
    stage_en: str
    districts: tuple[str, ...]
    lon: float | None
    lat: float | None
    official: bool = False  # from a rule whose levels are official stages (RuleDef.official)
    lift_within_s: float | None = None  # the rule's bound (RuleDef.lift_within_s)
    site: Site | None = None  # the facility it is at


@dataclass
class OpenIncident:
    """What correlation needs of an open incident, kept in memory (rebuilt from the store at start)."""

    id: int
    hazard: str
    status: str
    level: Crisis
    base_level: Crisis  # a manual incident's declared level; 0 for rule incidents
    last_activity: datetime
    cleared_at: datetime | None
    opened_at: datetime | None = None
    source: str = "rule"  # "rule" or "manual"
    conditions: dict[str, ConditionState] = field(default_factory=dict)
    areas: set[str] = field(default_factory=set)
    things: set[int] = field(default_factory=set)
    points: set[Point] = field(default_factory=set)
    links: set[tuple[str, str]] = field(default_factory=set)  # (kind, ref) already stored
    observation_links: int = 0
    title_ko: str = ""
    title_en: str = ""
    #: the rule whose official stages this incident is (ConditionChange.official), else None
    own_rule: str | None = None
    #: each area's level as published (area links); lags ``area_levels`` on growth by the policy's batch
    published: dict[str, Crisis] = field(default_factory=dict)
    published_at: datetime | None = None  # event time of the last published growth
    pending: bool = False  # growth waits for the batch interval
    #: a manual incident's own level per area when its areas differ (ManualIncidentIn.district_levels:
    #: an earthquake's shaking per district); ``base_level`` is then the lowest of them (the floor)
    declared: dict[str, Crisis] = field(default_factory=dict)

    def area_levels(self) -> dict[str, Crisis]:
        """Each district's own level now: the highest of the conditions naming it (a manual incident's
        declared level is its areas' floor, or each area's own declared level)."""
        out = (
            {a: self.declared.get(a, self.base_level) for a in self.areas}
            if self.base_level > Crisis.none
            else {}
        )
        for c in self.conditions.values():
            if c.level > Crisis.none:
                for d in c.districts:
                    out[d] = max(out.get(d, Crisis.none), c.level)
        return out

    def current_level(self) -> Crisis:
        # A manual incident's declared level is a floor: conditions raise it, never lower it.
        return max([self.base_level, *self.declared.values(), *(c.level for c in self.conditions.values())])

    def active(self) -> bool:
        return any(c.level > Crisis.none for c in self.conditions.values())


def condition_key(rule_id: str, subject: str) -> str:
    return f"{rule_id}|{subject}"


def distance_km(a: Point, b: Point) -> float:
    """Great-circle (haversine) distance between two lon/lat points, in kilometres."""
    lon1, lat1, lon2, lat2 = map(math.radians, (a[0], a[1], b[0], b[1]))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def locations(
    policy: HazardPolicy,
    districts: Iterable[str],
    points: Iterable[Point],
    centroid: Callable[[str], Point | None],
) -> list[Point]:
    """Where something is for distance purposes: points first for point hazards (a district centroid
    says nothing about which bridge), district centroids first for area hazards; the other as fallback."""
    pts = list(points)
    cents = [c for c in (centroid(d) for d in districts) if c is not None]
    first, second = (pts, cents) if policy.point else (cents, pts)
    return first or second


def relation(
    policy: HazardPolicy,
    incident: OpenIncident,
    districts: Iterable[str],
    point: Point | None,
    things: Iterable[int],
    centroid: Callable[[str], Point | None],
) -> float | None:
    """How close a change is to an incident (km; 0 for the same Thing or district), or None if unrelated."""
    if incident.things.intersection(things):
        return 0.0
    districts = tuple(districts)
    # its published areas and those of its conditions (growth may wait for publishing, see batch)
    areas = incident.areas | {d for c in incident.conditions.values() for d in c.districts}
    if not policy.point and areas.intersection(districts):
        return 0.0
    here = locations(policy, districts, [point] if point else [], centroid)
    there = locations(policy, areas, incident.points, centroid)
    if not here or not there:
        # No geometry to measure (districts not imported, no coordinates): a region-wide hazard still
        # joins within the same 시·도, whose code is the first two digits of every sigungu code.
        if not policy.point and policy.radius_km >= REGION_KM:
            regions = {a[:2] for a in areas}
            if any(d[:2] in regions for d in districts):
                return policy.radius_km
        return None
    best = min(distance_km(a, b) for a in here for b in there)
    return best if best <= policy.radius_km else None


def best_match(
    candidates: Iterable[OpenIncident],
    config: IncidentConfig,
    hazard: str,
    at: datetime,
    districts: Iterable[str],
    point: Point | None,
    things: Iterable[int],
    centroid: Callable[[str], Point | None],
) -> OpenIncident | None:
    """The open incident a firing condition joins: same hazard, active within ``gap`` of ``at``, spatially
    related; the closest, then the most recently active, wins (incidents are never merged)."""
    policy = config.policy(hazard)
    districts = tuple(districts)
    things = tuple(things)
    best: tuple[float, float, OpenIncident] | None = None
    for inc in candidates:
        if inc.hazard != hazard or abs(at - inc.last_activity) > config.gap:
            continue
        d = relation(policy, inc, districts, point, things, centroid)
        if d is None:
            continue
        score = (d, -inc.last_activity.timestamp())
        if best is None or score < best[:2]:
            best = (score[0], score[1], inc)
    return best[2] if best else None
