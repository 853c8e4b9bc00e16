# SPDX-License-Identifier: Apache-2.0
"""Reading incidents: the incidents the API, the board and the CLI show, and rule tuning statistics.

Every function reads inside the caller's connection; ``area_of`` names a district code (names and
centroid from ``geo.areas``, cached by the caller) or answers None when districts are not loaded.

The shapes are typed (:mod:`safecity.situation.incident_model`, which also says what the warning
capability reads of an incident); routers serialise them with ``to_json()``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import shapely
from sqlalchemy import and_, func, select
from sqlalchemy.engine import Connection, RowMapping

from safecity.core.errors import BadRequest, NotFound
from safecity.geo import areas as geo_areas
from safecity.situation.correlate import Point
from safecity.situation.incident_model import (
    Dismissal,
    Incident,
    IncidentArea,
    IncidentCondition,
    IncidentDetail,
    IncidentLocation,
    RuleStats,
    TimelineEntry,
)
from safecity.situation.lifecycle import OPEN, Status, parse_status
from safecity.situation.model import HAZARDS, Crisis, Site
from safecity.situation.tables import incidents as t_incidents
from safecity.situation.tables import links as t_links
from safecity.situation.tables import timeline as t_timeline

#: Dismissal reasons listed per rule in :func:`rule_stats` (the most recent).
MAX_REASONS = 20
#: Most incidents one list request returns.
MAX_LIMIT = 1000


@dataclass(frozen=True)
class AreaInfo:
    """A district as incidents name it: code, names, centroid (WGS84)."""

    code: str
    name_ko: str
    name_en: str
    centroid: Point


AreaLookup = Callable[[Connection, str], "AreaInfo | None"]


def incident_row(conn: Connection, incident_id: int) -> RowMapping:
    row = conn.execute(select(t_incidents).where(t_incidents.c.id == incident_id)).mappings().first()
    if row is None:
        raise NotFound(f"incident {incident_id} does not exist", where="id")
    return row


def _areas(
    conn: Connection,
    codes: Sequence[tuple[str, int | None]],
    conditions: Sequence[RowMapping],
    area_of: AreaLookup,
) -> tuple[IncidentArea, ...]:
    out = []
    for code, published in codes:
        area = area_of(conn, code)
        # the area's level as published (situation.incident_rules._publish_areas); rows from before
        # publishing existed, and a manual incident's areas, carry none: their conditions' highest
        level = (
            int(published)
            if published is not None
            else max(
                (
                    int(c["level"] or 0)
                    for c in conditions
                    if code in ((c["data"] or {}).get("districts") or ())
                ),
                default=0,
            )
        )
        out.append(
            IncidentArea(
                code=code,
                name_ko=area.name_ko if area else None,
                name_en=area.name_en if area else None,
                level=level,
            )
        )
    return tuple(out)


def _incident_fields(
    conn: Connection, r: RowMapping, incident_links: Sequence[RowMapping], area_of: AreaLookup
) -> dict[str, Any]:
    hazard = HAZARDS.get(r["hazard"])
    conditions = [lr for lr in incident_links if lr["kind"] == "condition"]
    codes = sorted((lr["ref"], lr["level"]) for lr in incident_links if lr["kind"] == "area")
    data = [lr["data"] or {} for lr in conditions]
    lifts = [float(d["liftWithinS"]) for d in data if d.get("liftWithinS") is not None]
    return {
        "id": int(r["id"]),
        "hazard": r["hazard"],
        "hazard_ko": hazard.name_ko if hazard else r["hazard"],
        "hazard_en": hazard.name_en if hazard else r["hazard"],
        "level": Crisis(r["level"]),
        "base_level": int(r["base_level"]),
        "status": Status(r["status"]),
        "title_ko": r["title_ko"],
        "title_en": r["title_en"],
        "description": r["description"],
        "source": r["source"],
        "source_note": r["source_note"],
        "rule": r["rule_id"],
        "location": None if r["lon"] is None else IncidentLocation(r["lon"], r["lat"]),
        "opened_at": r["opened_at"],
        "opened_by": r["opened_by"],
        "last_activity_at": r["last_activity_at"],
        "cleared_at": r["cleared_at"],
        "status_changed_at": r["status_changed_at"],
        "status_changed_by": r["status_changed_by"],
        "closed_at": r["closed_at"],
        "closed_by": r["closed_by"],
        "dismissed_reason": r["dismissed_reason"],
        "created_at": r["created_at"],
        "updated_at": r["updated_at"],
        "areas": _areas(conn, codes, conditions, area_of),
        "lift_within_s": max(lifts) if lifts else None,
        "official": any(d.get("official") for d in data),
    }


def incident_of(
    conn: Connection, r: RowMapping, incident_links: Sequence[RowMapping], area_of: AreaLookup
) -> Incident:
    """An incident as the lists show it, from its row and its area and condition links."""
    return Incident(**_incident_fields(conn, r, incident_links, area_of))


def _site(value: Any) -> Site | None:
    return Site(**site_args(value)) if isinstance(value, dict) else None


def site_args(data: dict[str, Any]) -> dict[str, str]:
    """A stored site's fields (camelCase JSON) as :class:`~safecity.situation.model.Site` arguments."""
    return {
        "name_ko": str(data.get("nameKo") or ""),
        "name_en": str(data.get("nameEn") or ""),
        "address_ko": str(data.get("addressKo") or ""),
        "address_en": str(data.get("addressEn") or ""),
    }


def read_incident(conn: Connection, incident_id: int, area_of: AreaLookup) -> IncidentDetail:
    """One incident with its timeline (oldest first), conditions, affected areas (with the GeoJSON
    union of their geometries when districts are loaded), datastreams, things, observations, links.
    Raises NotFound."""
    r = incident_row(conn, incident_id)
    incident_links = list(
        conn.execute(
            select(t_links).where(t_links.c.incident_id == incident_id).order_by(t_links.c.id)
        ).mappings()
    )
    fields = _incident_fields(conn, r, incident_links, area_of)
    ids = {
        k: tuple(int(lr["ref"]) for lr in incident_links if lr["kind"] == k)
        for k in ("datastream", "thing", "observation")
    }
    geoms = []
    for a in fields["areas"]:
        ref = geo_areas.area_by_code(conn, a.code, kind="district")
        geom = geo_areas.geometry_of(conn, ref.id) if ref is not None else None
        if geom is not None:
            geoms.append(geom)
    timeline_rows = conn.execute(
        select(t_timeline).where(t_timeline.c.incident_id == incident_id).order_by(t_timeline.c.id)
    ).mappings()
    timeline = tuple(
        TimelineEntry(
            id=int(t["id"]),
            at=t["at"],
            recorded_at=t["recorded_at"],
            kind=t["kind"],
            actor=t["actor"],
            rule=t["rule_id"],
            level=t["level"],
            detail_ko=t["detail_ko"],
            detail_en=t["detail_en"],
            data=t["data"],
        )
        for t in timeline_rows
    )
    conditions = tuple(
        IncidentCondition(
            rule=lr["rule_id"],
            subject=(lr["data"] or {}).get("subject"),
            level=int(lr["level"] or 0),
            since=lr["since"],
            stage_ko=(lr["data"] or {}).get("stageKo"),
            stage_en=(lr["data"] or {}).get("stageEn"),
            districts=tuple((lr["data"] or {}).get("districts", [])),
            official=bool((lr["data"] or {}).get("official")),
            lift_within_s=(lr["data"] or {}).get("liftWithinS"),
            site=_site((lr["data"] or {}).get("site")),
        )
        for lr in incident_links
        if lr["kind"] == "condition"
    )
    return IncidentDetail(
        **fields,
        timeline=timeline,
        geometry=shapely.union_all(geoms).__geo_interface__ if geoms else None,
        conditions=conditions,
        datastreams=ids["datastream"],
        things=ids["thing"],
        observations=ids["observation"],
        links=tuple(lr["ref"] for lr in incident_links if lr["kind"] == "link"),
    )


def list_incidents(
    conn: Connection,
    area_of: AreaLookup,
    *,
    status: str | None = None,
    hazard: str | None = None,
    open_only: bool = False,
    limit: int = 100,
    offset: int = 0,
) -> list[Incident]:
    """Incidents, newest first (by when they opened), without timelines. BadRequest names a bad filter."""
    q = select(t_incidents)
    if status is not None:
        q = q.where(t_incidents.c.status == parse_status(status).value)
    if hazard is not None:
        if hazard not in HAZARDS:
            raise BadRequest(
                f"hazard: unknown hazard '{hazard}'; use one of {', '.join(HAZARDS)}", where="hazard"
            )
        q = q.where(t_incidents.c.hazard == hazard)
    if open_only:
        q = q.where(t_incidents.c.status.in_([s.value for s in OPEN]))
    if not 1 <= limit <= MAX_LIMIT:
        raise BadRequest(f"limit: 1 to {MAX_LIMIT}", where="limit")
    if offset < 0:
        raise BadRequest("offset: 0 or more", where="offset")
    q = q.order_by(t_incidents.c.opened_at.desc(), t_incidents.c.id.desc()).limit(limit).offset(offset)
    rows = list(conn.execute(q).mappings())
    by_incident: dict[int, list[RowMapping]] = {int(r["id"]): [] for r in rows}
    if rows:
        for lr in conn.execute(
            select(t_links).where(
                t_links.c.incident_id.in_(list(by_incident)),
                t_links.c.kind.in_(["area", "condition"]),
            )
        ).mappings():
            by_incident[int(lr["incident_id"])].append(lr)
    return [incident_of(conn, r, by_incident[int(r["id"])], area_of) for r in rows]


def rule_stats(conn: Connection) -> list[RuleStats]:
    """Per rule: conditions fired, incidents it opened, incidents it fed (opened or joined), and
    incidents dismissed as false alarms among those it fed, with the latest reasons. High
    dismissal shares point at thresholds to tune."""
    fired: dict[str, int] = {}
    opened: dict[str, int] = {}
    fed: dict[str, int] = {}
    dismissed: dict[str, list[Dismissal]] = {}
    for rule_id, n in conn.execute(
        select(t_timeline.c.rule_id, func.count())
        .where(t_timeline.c.kind == "fired", t_timeline.c.rule_id.is_not(None))
        .group_by(t_timeline.c.rule_id)
    ):
        fired[rule_id] = int(n)
    for rule_id, n in conn.execute(
        select(t_incidents.c.rule_id, func.count())
        .where(t_incidents.c.source == "rule", t_incidents.c.rule_id.is_not(None))
        .group_by(t_incidents.c.rule_id)
    ):
        opened[rule_id] = int(n)
    for rule_id, n in conn.execute(
        select(t_links.c.rule_id, func.count(t_links.c.incident_id.distinct()))
        .where(t_links.c.kind == "condition", t_links.c.rule_id.is_not(None))
        .group_by(t_links.c.rule_id)
    ):
        fed[rule_id] = int(n)
    rows = conn.execute(
        select(
            t_links.c.rule_id,
            t_incidents.c.id,
            t_incidents.c.dismissed_reason,
            t_incidents.c.closed_at,
            t_incidents.c.closed_by,
        )
        .distinct()
        .select_from(t_links.join(t_incidents, t_links.c.incident_id == t_incidents.c.id))
        .where(
            and_(
                t_links.c.kind == "condition",
                t_links.c.rule_id.is_not(None),
                t_incidents.c.status == Status.dismissed.value,
            )
        )
        .order_by(t_incidents.c.closed_at.desc(), t_incidents.c.id.desc())
    ).all()
    for rule_id, incident_id, reason, closed_at, closed_by in rows:
        dismissed.setdefault(rule_id, []).append(Dismissal(int(incident_id), reason, closed_at, closed_by))
    out = []
    for rule_id in sorted({*fired, *opened, *fed, *dismissed}):
        n_fed, gone = fed.get(rule_id, 0), dismissed.get(rule_id, [])
        out.append(
            RuleStats(
                rule=rule_id,
                conditions_fired=fired.get(rule_id, 0),
                incidents_opened=opened.get(rule_id, 0),
                incidents_fed=n_fed,
                incidents_dismissed=len(gone),
                dismissed_share=round(len(gone) / n_fed, 3) if n_fed else 0.0,
                dismiss_reasons=tuple(gone[:MAX_REASONS]),
            )
        )
    return out
