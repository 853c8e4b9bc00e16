# SPDX-License-Identifier: Apache-2.0
"""What the warning capability reads of an incident: the one interface between situation and warning.

The situation capability hands incidents over as :class:`~safecity.situation.incident_model.
IncidentDetail` (``Incidents.get``); this module turns one into the :class:`IncidentView` drafting needs
and is the only place in the warning package that reads it:

* ``id, hazard, status, level``, the titles;
* ``areas``: ``code`` (5-digit district or 10-digit dong MOIS code), names, ``level`` (the area's own
  level as published); ``base_level``: the level an operator declared for a manual incident's areas
  (0 for rules), a floor under each area's level;
* ``location``: ``lon, lat`` of a point incident, its cordon (``radius_m``) and its facility's names or
  address (``site``);
* ``conditions``: ``level, stage_ko, stage_en, districts``;
* ``timeline``: the ``fired`` entries' ``level, detail_ko, detail_en`` (why the incident is at a level).

Internal keys (observed properties such as ``smoke_obscuration``) never reach a citizen: details are
passed through :func:`words_for_keys`, which names them from the sensing catalogue.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache

from safecity.situation.incident_model import IncidentDetail
from safecity.situation.model import Crisis


@dataclass(frozen=True)
class AreaLevel:
    """One affected area and its own level."""

    code: str
    name_ko: str
    name_en: str
    level: Crisis

    @property
    def kind(self) -> str:
        return "dong" if len(self.code) == 10 else "district"


@dataclass(frozen=True)
class Site:
    """Where a point incident is (a fire, a leak, a failing structure) and what to call it."""

    lon: float
    lat: float
    radius_km: float | None  # the cordon situation drew; None: the warning policy's default for the hazard
    name_ko: str
    name_en: str


@dataclass(frozen=True)
class Stage:
    level: Crisis
    stage_ko: str
    stage_en: str
    codes: frozenset[str]


@dataclass(frozen=True)
class IncidentView:
    id: int
    hazard: str
    status: str
    level: Crisis
    title_ko: str
    title_en: str
    areas: tuple[AreaLevel, ...]
    site: Site | None
    stages: tuple[Stage, ...]  # the active conditions' stages, highest first
    #: the latest "fired" reason per level: level -> (ko, en)
    details: Mapping[int, tuple[str, str]]

    @property
    def closed(self) -> bool:
        return self.status in ("closed", "dismissed")

    def levels(self) -> dict[str, Crisis]:
        return {a.code: a.level for a in self.areas}

    def stage_for(self, level: Crisis, codes: frozenset[str]) -> tuple[str, str]:
        """The stage names of the condition that puts ``codes`` at ``level`` (else the highest stage)."""
        for s in self.stages:
            if s.level == level and (not s.codes or s.codes & codes):
                return s.stage_ko, s.stage_en
        for s in self.stages:
            if s.level == level:
                return s.stage_ko, s.stage_en
        return "", ""

    def detail_for(self, level: Crisis) -> tuple[str, str]:
        if int(level) in self.details:
            return self.details[int(level)]
        if self.details:
            return self.details[max(self.details)]
        return "", ""


def view_of(incident: IncidentDetail) -> IncidentView:
    level = incident.level
    conditions = [c for c in incident.conditions if c.level > 0]
    floor = Crisis(incident.base_level)  # a manual incident's declared level; 0 for rules
    areas = []
    for a in incident.areas:
        own = Crisis(max(a.level, int(floor)))
        areas.append(AreaLevel(a.code, a.name_ko or a.code, a.name_en or a.name_ko or a.code, own))
    stages = sorted(
        (
            Stage(Crisis(c.level), c.stage_ko or "", c.stage_en or "", frozenset(c.districts))
            for c in conditions
        ),
        key=lambda s: -int(s.level),
    )
    details: dict[int, tuple[str, str]] = {}
    for e in incident.timeline:
        if e.kind == "fired" and e.level is not None:
            details[int(e.level)] = (
                words_for_keys(e.detail_ko or "", "ko"),
                words_for_keys(e.detail_en or "", "en"),
            )
    return IncidentView(
        id=incident.id,
        hazard=incident.hazard,
        status=incident.status.value,
        level=level,
        title_ko=words_for_keys(incident.title_ko or "", "ko"),
        title_en=words_for_keys(incident.title_en or "", "en"),
        areas=tuple(areas),
        site=_site(incident),
        stages=tuple(stages),
        details=details,
    )


def _site(incident: IncidentDetail) -> Site | None:
    loc = incident.location
    if loc is None or loc.lon is None or loc.lat is None:
        return None
    site = loc.site
    name_ko = (site.name_ko or site.address_ko) if site else ""
    name_en = (site.name_en or site.address_en) if site else ""
    return Site(
        float(loc.lon),
        float(loc.lat),
        float(loc.radius_m) / 1000.0 if loc.radius_m else None,
        words_for_keys(name_ko, "ko"),
        words_for_keys(name_en or name_ko, "en"),
    )


_KEY = re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b")


@cache
def _property_names() -> dict[str, tuple[str, str]]:
    from safecity.core.errors import SafecityError
    from safecity.sensing.catalogue import load_catalogue

    try:
        cat = load_catalogue()
    except (SafecityError, OSError, ValueError):  # a broken catalogue must not stop a warning:
        return {}  # keys are then spelled out as words below
    return {p.key: (p.name_ko, p.name_en) for p in cat.all()}


def words_for_keys(text: str, lang: str) -> str:
    """``text`` with internal snake_case keys (``smoke_obscuration``) replaced by their names in ``lang``
    (the sensing catalogue's), or, for a key the catalogue does not know, by its words ("smoke obscuration")."""
    names = _property_names()

    def name(m: re.Match[str]) -> str:
        known = names.get(m.group(0))
        if known:
            return known[0] if lang == "ko" else known[1].lower()
        return m.group(0).replace("_", " ")

    return _KEY.sub(name, text)
