# SPDX-License-Identifier: Apache-2.0
"""What the warning capability reads of an incident: the one interface between situation and warning.

The situation capability hands incidents over as the JSON shape of ``Incidents.get`` (see
:mod:`safecity.situation.incident_read`); this module turns that dict into a typed :class:`IncidentView`
and is the only place in the warning package that knows its keys. Keys read:

* ``id, hazard, status, level, titleKo, titleEn``;
* ``areas[]``: ``code`` (5-digit district or 10-digit dong MOIS code), ``nameKo, nameEn``, ``level`` (the
  area's own level over the incident's active conditions), optional ``kind`` (``district`` | ``dong``);
* optional ``baseLevel``: a level an operator declared for the incident's areas (a manual incident). When
  absent and no active condition names any area, the incident's level is its areas' level (a manual
  incident carries its declared level and has no conditions);
* ``location``: ``lon, lat`` of a point incident, optional ``radiusM`` (the cordon), ``nameKo, nameEn``
  (facility) or ``addressKo, addressEn``;
* ``conditions[]``: ``level, stageKo, stageEn, districts`` (and optional ``dongs``);
* ``timeline[]``: the ``fired`` entries' ``level, detailKo, detailEn`` (why the incident is at a level).

Internal keys (observed properties such as ``smoke_obscuration``) never reach a citizen: details are
passed through :func:`words_for_keys`, which names them from the sensing catalogue.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

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


def view_of(incident: Mapping[str, Any]) -> IncidentView:
    level = Crisis(int(incident.get("level") or 0))
    conditions = [c for c in incident.get("conditions") or [] if int(c.get("level") or 0) > 0]
    named = {str(d) for c in conditions for d in (c.get("districts") or []) + (c.get("dongs") or [])}
    base = incident.get("baseLevel")
    floor = Crisis(int(base)) if base is not None else (level if not named else Crisis.none)
    areas = []
    for a in incident.get("areas") or []:
        code = str(a["code"])
        own = Crisis(max(int(a.get("level") or 0), int(floor)))
        areas.append(
            AreaLevel(code, a.get("nameKo") or code, a.get("nameEn") or a.get("nameKo") or code, own)
        )
    stages = sorted(
        (
            Stage(
                Crisis(int(c["level"])),
                c.get("stageKo") or "",
                c.get("stageEn") or "",
                frozenset(str(d) for d in (c.get("districts") or []) + (c.get("dongs") or [])),
            )
            for c in conditions
        ),
        key=lambda s: -int(s.level),
    )
    details: dict[int, tuple[str, str]] = {}
    for e in incident.get("timeline") or []:
        if e.get("kind") == "fired" and e.get("level") is not None:
            details[int(e["level"])] = (
                words_for_keys(e.get("detailKo") or "", "ko"),
                words_for_keys(e.get("detailEn") or "", "en"),
            )
    return IncidentView(
        id=int(incident["id"]),
        hazard=str(incident["hazard"]),
        status=str(incident["status"]),
        level=level,
        title_ko=words_for_keys(incident.get("titleKo") or "", "ko"),
        title_en=words_for_keys(incident.get("titleEn") or "", "en"),
        areas=tuple(areas),
        site=_site(incident),
        stages=tuple(stages),
        details=details,
    )


def _site(incident: Mapping[str, Any]) -> Site | None:
    loc = incident.get("location")
    if not isinstance(loc, Mapping) or loc.get("lon") is None or loc.get("lat") is None:
        return None
    radius_m = loc.get("radiusM")
    name_ko = loc.get("nameKo") or loc.get("addressKo") or ""
    name_en = loc.get("nameEn") or loc.get("addressEn") or ""
    return Site(
        float(loc["lon"]),
        float(loc["lat"]),
        float(radius_m) / 1000.0 if radius_m else None,
        words_for_keys(str(name_ko), "ko"),
        words_for_keys(str(name_en or name_ko), "en"),
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
