# SPDX-License-Identifier: Apache-2.0
"""Incidents: conditions from the rule engine (and reports from people) made into situations.

One heavy-rain storm over three districts is *one* incident with three affected areas, not three alerts
(:mod:`safecity.situation.correlate` decides what belongs together). An incident's crisis level is the
highest current level of its conditions; it escalates at once and follows de-escalation, because the
engine already applied each condition's hysteresis and minimum clear time. When every condition has been
clear for ``close_after``, :meth:`Incidents.tick` closes the incident, or moves it to ``recovering`` if
people are responding to it.

Every change is one write transaction: the incident rows, the timeline, the links and the bus events
(:mod:`safecity.situation.events`) commit together or not at all. Open incidents are kept in memory so
that correlating a batch of conditions costs no query per condition; the store stays the truth and the
memory is rebuilt from it at start-up and after any failed transaction.
"""

from __future__ import annotations

import builtins
from dataclasses import replace
from datetime import datetime

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection

from safecity.core.errors import BadRequest, Conflict, NotFound
from safecity.geo import areas as geo_areas
from safecity.sensing.service import existing_ids
from safecity.situation import events as ev
from safecity.situation.correlate import OpenIncident
from safecity.situation.incident_base import SYSTEM, Events, Work, duration_en, duration_ko
from safecity.situation.incident_inputs import (
    SENSING_KINDS,
    AttachmentIn,
    ManualIncidentIn,
    attachment_ref,
    check_manual,
)
from safecity.situation.incident_model import (
    DistrictLevel,
    Incident,
    IncidentDetail,
    IncidentLocation,
    RuleStats,
    iso,
)
from safecity.situation.incident_read import (
    incident_row,
    list_incidents,
    read_incident,
    rule_stats,
)
from safecity.situation.incident_rules import RuleIncidents
from safecity.situation.lifecycle import Status, check_transition, parse_status
from safecity.situation.model import HAZARDS, Crisis
from safecity.situation.tables import incidents as t_incidents
from safecity.situation.tables import links as t_links

__all__ = ["SYSTEM", "Incidents"]


class Incidents(RuleIncidents):
    """The incident register. Thread-safe: the bus dispatcher calls :meth:`apply`, request threads the rest.

    Whoever follows incidents subscribes to the situation's events on the bus (published in the same
    transaction as the change, delivered at least once per subscriber); there is no in-process side
    channel. The changing methods return what they published (the payload plus ``topic``).
    """

    # ------------------------------------------------------------------------------------ lifecycle

    def transition(
        self, incident_id: int, status: str, actor: str, reason: str | None = None, note: str | None = None
    ) -> IncidentDetail:
        """Move an incident to ``status`` as ``actor``; returns the incident (as :meth:`get`).

        Raises NotFound (no such incident), BadRequest (unknown status; dismissing without a reason) or
        Conflict (an illegal step, naming from and to).
        """
        target = parse_status(status)
        reason = reason.strip() if reason else None
        if target is Status.dismissed and not reason:
            raise BadRequest(
                "reason: dismissing an incident needs a reason (why it was a false alarm); it is kept "
                "for tuning the rules that raised it",
                where="reason",
                message_ko="reason: 오경보 처리에는 사유가 필요합니다",
            )

        def work(conn: Connection, w: Work) -> None:
            current = Status(incident_row(conn, incident_id)["status"])
            check_transition(current, target)
            self._set_status(conn, w, incident_id, current, target, actor, w.now, reason=reason, note=note)

        self._commit(work)
        return self.get(incident_id)

    def tick(self, now: datetime) -> Events:
        """Close (or set recovering) the incidents whose conditions have all been clear for close_after,
        and publish the area growth that waited for its hazard's batch interval.

        ``now`` is the current time on the conditions' clock (the wall clock live, the data's time in a
        replay). Manual incidents are never closed by the platform: a person opened them.
        """

        def waiting() -> list[OpenIncident]:
            return [
                inc
                for inc in self._open.values()
                if inc.pending
                and inc.published_at is not None
                and now - inc.published_at >= self.config.policy(inc.hazard).batch
            ]

        def due() -> list[OpenIncident]:
            return [
                inc
                for inc in self._open.values()
                if inc.base_level == Crisis.none
                and inc.cleared_at is not None
                and not inc.active()
                and inc.status in (Status.detected, Status.acknowledged, Status.responding)
                and now - inc.cleared_at >= self.config.close_after_for(inc.hazard)
            ]

        with self._lock:
            if not due() and not waiting():
                return []

        def work(conn: Connection, w: Work) -> None:
            w.saw(now)
            for inc in waiting():
                self._publish_areas(conn, w, inc, now, force=True)
            for inc in due():
                wait = self.config.close_after_for(inc.hazard)
                current = Status(inc.status)
                target = Status.recovering if current is Status.responding else Status.closed
                self._set_status(
                    conn,
                    w,
                    inc.id,
                    current,
                    target,
                    SYSTEM,
                    now,
                    note_ko=f"모든 조건이 {duration_ko(wait)} 동안 해소됨",
                    note_en=f"every condition clear for {duration_en(wait)}",
                )
                if target is Status.recovering:
                    w.touched.add(inc.id)

        _, events = self._commit(work)
        return events

    # ------------------------------------------------------------------------------ manual input

    def open_manual(self, data: ManualIncidentIn, actor: str, ref: str | None = None) -> IncidentDetail:
        """Open an incident a person reported; returns it (as :meth:`get`).

        Needs a title in at least one language (the other falls back to it) and a place: district
        codes and/or lon/lat (the district containing the point is added when districts are loaded).
        ``district_levels`` gives districts their own levels (an earthquake's shaking per district): each
        area's published level is its own, the incident's level the highest and its floor
        (``baseLevel``) the lowest, so a warning tells each district its own level.
        ``ref``: what another capability reported (``core.events.IncidentReport.ref``); an incident
        already opened for it is returned instead of a second one (kept as a ``report`` link).
        """
        title_ko, title_en = check_manual(data)
        level = Crisis(data.level)

        def work(conn: Connection, w: Work) -> int:
            if ref is not None:
                seen = conn.execute(
                    select(t_links.c.incident_id).where(t_links.c.kind == "report", t_links.c.ref == ref)
                ).scalar()
                if seen is not None:
                    return int(seen)
            at = data.at or w.now
            w.saw(at)
            districts = list(dict.fromkeys([*data.districts, *data.district_levels]))
            if geo_areas.areas_of(conn, "district"):
                # Districts are loaded: a code that names none is a typo, not a place.
                for i, code in enumerate(districts):
                    if geo_areas.area_by_code(conn, code, kind="district") is None:
                        field = f"districts[{i}]" if i < len(data.districts) else f"district_levels[{code}]"
                        raise NotFound(f"{field}: no district has code {code}", where=field)
                if data.lon is not None and data.lat is not None:
                    found = geo_areas.area_at(conn, data.lon, data.lat, "district")
                    if found is not None and found.code not in districts:
                        districts.append(found.code)
            declared = (
                {d: Crisis(data.district_levels.get(d, int(level))) for d in districts}
                if data.district_levels
                else {}
            )
            floor = min(declared.values(), default=level)
            incident_id = int(
                conn.execute(
                    insert(t_incidents)
                    .values(
                        hazard=data.hazard,
                        level=int(level),
                        base_level=int(floor),
                        status=Status.detected.value,
                        title_ko=title_ko,
                        title_en=title_en,
                        description=data.description,
                        source="manual",
                        source_note=data.source_note,
                        lon=data.lon,
                        lat=data.lat,
                        opened_at=at,
                        opened_by=actor,
                        last_activity_at=at,
                        status_changed_at=at,
                        status_changed_by=actor,
                        created_at=w.now,
                        updated_at=w.now,
                    )
                    .returning(t_incidents.c.id)
                ).scalar_one()
            )
            inc = OpenIncident(
                id=incident_id,
                hazard=data.hazard,
                status=Status.detected.value,
                level=level,
                base_level=floor,
                last_activity=at,
                cleared_at=None,
                opened_at=at,
                source="manual",
                declared=declared,
            )
            if data.lon is not None and data.lat is not None:
                inc.points.add((data.lon, data.lat))
            self._open[incident_id] = inc
            w.opened.add(incident_id)
            for d in districts:
                self._link(w, inc, "area", d, "areas")
                inc.areas.add(d)
                if d in declared:  # published at once: a person declared it
                    inc.published[d] = declared[d]
                    w.area_levels[(incident_id, d)] = declared[d]
                    w.area_declared[(incident_id, d)] = declared[d]
            if ref is not None:
                self._link(w, inc, "report", ref, "reports")
            source_ko = f" (제보: {data.source_note})" if data.source_note else ""
            source_en = f" (reported by: {data.source_note})" if data.source_note else ""
            self._timeline(
                w,
                incident_id,
                at,
                "opened",
                actor,
                f"수동 등록: {title_ko}, {_levels_text(level, declared, True)}{source_ko}",
                f"Reported: {title_en}, {_levels_text(level, declared, False)}{source_en}",
                level=level,
            )
            w.events.append(
                (
                    ev.INCIDENT_OPENED,
                    {
                        "incidentId": incident_id,
                        "hazard": data.hazard,
                        "level": int(level),
                        "status": Status.detected.value,
                        "titleKo": title_ko,
                        "titleEn": title_en,
                        "source": "manual",
                        "rule": None,
                        "areas": sorted(districts),
                        "at": iso(at),
                        "actor": actor,
                    },
                )
            )
            return incident_id

        incident_id, _ = self._commit(work)
        return self.get(incident_id)

    def attach(self, incident_id: int, data: AttachmentIn, actor: str) -> IncidentDetail:
        """Attach an observation, datastream, thing, link or note to an incident (closed ones too, for
        the review afterwards); returns the incident. NotFound for an id that names nothing, Conflict
        for something already attached."""
        ref = attachment_ref(data)

        def work(conn: Connection, w: Work) -> None:
            row = incident_row(conn, incident_id)
            sensing_kind = SENSING_KINDS.get(data.kind)
            if (
                ref is not None
                and sensing_kind is not None
                and int(ref) not in existing_ids(conn, sensing_kind, [int(ref)])
            ):
                raise NotFound(f"ref: {data.kind} {ref} does not exist", where="ref")
            inc = self._open.get(incident_id) or OpenIncident(
                id=incident_id,
                hazard=row["hazard"],
                status=row["status"],
                level=Crisis(row["level"]),
                base_level=Crisis(row["base_level"]),
                last_activity=row["last_activity_at"],
                cleared_at=row["cleared_at"],
            )
            w.saw(w.now)
            if ref is not None:
                exists = conn.execute(
                    select(t_links.c.id).where(
                        t_links.c.incident_id == incident_id,
                        t_links.c.kind == data.kind,
                        t_links.c.ref == ref,
                    )
                ).first()
                if exists is not None:
                    raise Conflict(
                        f"ref: {data.kind} {ref} is already attached to incident {incident_id}", where="ref"
                    )
                self._link(w, inc, data.kind, ref, f"{data.kind}s")
                if data.kind == "thing":
                    inc.things.add(int(ref))
            else:
                w.added.setdefault(incident_id, {}).setdefault("notes", []).append(data.note)
            w.actors[incident_id] = actor
            w.hazards[incident_id] = row["hazard"]
            what_ko = {
                "observation": "관측",
                "datastream": "데이터스트림",
                "thing": "센서 장비",
                "link": "링크",
            }
            what_en = {
                "observation": "observation",
                "datastream": "datastream",
                "thing": "thing",
                "link": "link",
            }
            note = f": {data.note}" if data.note else ""
            if ref is None:
                ko, en = f"메모{note}", f"Note{note}"
            else:
                ko = f"{what_ko[data.kind]} {ref} 첨부{note}"
                en = f"Attached {what_en[data.kind]} {ref}{note}"
            self._timeline(
                w,
                incident_id,
                w.now,
                "note" if ref is None else "attachment",
                actor,
                ko,
                en,
                data={"kind": data.kind, "ref": ref, "note": data.note},
            )
            if incident_id in self._open:
                w.touched.add(incident_id)
            else:
                conn.execute(
                    update(t_incidents).where(t_incidents.c.id == incident_id).values(updated_at=w.now)
                )

        self._commit(work)
        return self.get(incident_id)

    # ----------------------------------------------------------------------------------- reading

    def get(self, incident_id: int) -> IncidentDetail:
        """One incident with its timeline (oldest first), conditions, affected areas (with the GeoJSON
        union of their geometries when districts are loaded), datastreams, things, observations, links.
        Raises NotFound."""
        with self.store.engine.connect() as conn:
            return self._with_site(read_incident(conn, incident_id, self._area))

    def _with_site(self, incident: IncidentDetail) -> IncidentDetail:
        """A point incident's location with its cordon (the hazard's
        :attr:`~safecity.situation.correlate.HazardPolicy.cordon_m`) and the facility's names and address
        (from its highest condition's site)."""
        loc = incident.location
        policy = self.config.policy(incident.hazard)
        if loc is None or not (policy.point or incident.official):
            return incident
        radius = policy.cordon_m if policy.point and policy.cordon_m else None
        sited = sorted((c for c in incident.conditions if c.site), key=lambda c: -c.level)
        located = IncidentLocation(loc.lon, loc.lat, radius, sited[0].site if sited else None)
        return replace(incident, location=located)

    def list(
        self,
        *,
        status: str | None = None,
        hazard: str | None = None,
        open_only: bool = False,
        limit: int = 100,
        offset: int = 0,
    ) -> builtins.list[Incident]:
        """Incidents, newest first (by when they opened), without timelines. BadRequest names a bad filter."""
        with self.store.engine.connect() as conn:
            return list_incidents(
                conn,
                self._area,
                status=status,
                hazard=hazard,
                open_only=open_only,
                limit=limit,
                offset=offset,
            )

    def levels(self) -> builtins.list[DistrictLevel]:
        """The crisis level of each district for each hazard, over the open incidents' active conditions
        (and manual incidents' declared levels); districts at level none are left out."""
        with self._lock:
            current = self._district_levels()
        out = []
        with self.store.engine.connect() as conn:
            for (district, hazard), (level, ids) in sorted(current.items()):
                area = self._area(conn, district)
                h = HAZARDS[hazard]
                out.append(
                    DistrictLevel(
                        district=district,
                        name_ko=area.name_ko if area else None,
                        name_en=area.name_en if area else None,
                        hazard=hazard,
                        hazard_ko=h.name_ko,
                        hazard_en=h.name_en,
                        level=level,
                        incidents=tuple(sorted(ids)),
                    )
                )
        return out

    def rule_stats(self) -> builtins.list[RuleStats]:
        """Per rule: conditions fired, incidents it opened, incidents it fed (opened or joined), and
        incidents dismissed as false alarms among those it fed, with the latest reasons. High
        dismissal shares point at thresholds to tune."""
        with self.store.engine.connect() as conn:
            return rule_stats(conn)


def _levels_text(level: Crisis, declared: dict[str, Crisis], korean: bool) -> str:
    """The declared level, or the areas per level when they differ: 심각 5개 구, 경계 20개 구."""
    counts: dict[Crisis, int] = {}
    for lv in declared.values():
        counts[lv] = counts.get(lv, 0) + 1
    if len(counts) < 2:
        return level.name_ko if korean else level.name_en
    parts = sorted(counts.items(), key=lambda kv: -int(kv[0]))
    if korean:
        return ", ".join(f"{lv.name_ko} {n}개 구" for lv, n in parts)
    return ", ".join(f"{lv.name_en} {n} district{'s' if n > 1 else ''}" for lv, n in parts)
