# SPDX-License-Identifier: Apache-2.0
"""Rule conditions into incidents: correlate each condition change with an open incident (or open one),
record it (conditions, links, timeline, the incident's level) and move an opening back when an earlier
change arrives late. Part of :class:`~safecity.situation.incidents.Incidents`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import insert
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from safecity.core.logging import get_logger
from safecity.geo import areas as geo_areas
from safecity.situation import events as ev
from safecity.situation.correlate import (
    ConditionState,
    OpenIncident,
    best_match,
    condition_key,
)
from safecity.situation.incident_base import (
    MAX_TIMELINE_OBSERVATIONS,
    SYSTEM,
    Events,
    IncidentRegister,
    Opening,
    Work,
    elapsed_text,
    fmt_num,
    jsonable,
)
from safecity.situation.incident_model import iso
from safecity.situation.lifecycle import Status
from safecity.situation.model import HAZARDS, ConditionChange, Crisis
from safecity.situation.tables import incidents as t_incidents
from safecity.situation.titles import Area, area_phrase, incident_title

log = get_logger(__name__)

#: The partial unique index that lets one open incident hold a condition (situation/tables.py); both
#: PostgreSQL and SQLite name it in the error.
HELD_CONDITION = "uq_situation_incident_links_held_condition"


#: One record per incident and condition (situation/tables.py): met when this process's index is older
#: than the store's (a standby taking the rule engine over after the holder added a condition).
CONDITION_RECORD = "uq_situation_incident_links_incident_id_kind_ref"


def held_elsewhere(e: IntegrityError) -> bool:
    """Whether ``e`` is the store refusing what another process wrote first: a second open holder of a
    condition (the one-open-incident-per-condition index), or a second record of a condition in one
    incident (this process's index did not know the first). Either way the index was stale."""
    msg = str(e.orig)
    # PostgreSQL names the index or constraint; SQLite names the indexed columns only
    return any(
        name in msg
        for name in (
            HELD_CONDITION,
            CONDITION_RECORD,
            "UNIQUE constraint failed: situation_incident_links.ref",
            "UNIQUE constraint failed: situation_incident_links.incident_id, "
            "situation_incident_links.kind, situation_incident_links.ref",
        )
    )


class RuleIncidents(IncidentRegister):
    """The rule side of the register: :meth:`apply` takes the engine's condition changes."""

    # --------------------------------------------------------------------------- rule conditions

    def apply(self, changes: Sequence[ConditionChange]) -> Events:
        """Correlate and record a batch of condition changes in one transaction; returns the events.

        Changes that cannot be recorded (an unknown hazard, a time without a zone) are logged and
        skipped, so one bad change does not cost the batch. A lowering change for a condition no open
        incident holds (its incident was closed or dismissed) changes nothing.
        """
        valid: list[ConditionChange] = []
        for c in changes:
            if c.hazard not in HAZARDS or c.at.tzinfo is None:
                log.warning("condition change skipped", rule=c.rule_id, subject=c.subject, hazard=c.hazard)
                continue
            valid.append(c)
        if not valid:
            return []

        def work(conn: Connection, w: Work) -> None:
            for c in valid:
                self._apply_one(conn, w, c)
            for incident_id in sorted(w.touched):
                inc = self._open.get(incident_id)
                if inc is not None and inc.source == "rule":
                    self._publish_areas(conn, w, inc, w.at or w.now)

        try:
            _, events = self._commit(work)
        except IntegrityError as e:
            if not held_elsewhere(e):
                raise
            # Another process (another rule engine) opened an incident for one of these conditions
            # first, or recorded it in an incident since this process loaded its index. _commit rolled
            # back and reloaded the open incidents from the store, theirs included: the same changes
            # now join it.
            log.info("condition recorded by another process since this index was loaded; joining it")
            _, events = self._commit(work)
        return events

    def _holder(self, c: ConditionChange) -> OpenIncident | None:
        """The open incident that already holds this rule × subject, if the change belongs to it."""
        key = condition_key(c.rule_id, c.subject)
        inc = self._open.get(self._by_condition.get(key, 0))
        if inc is None:
            return None
        cond = inc.conditions[key]
        # A condition that cleared and fires again much later is a new situation, even if nobody has
        # closed the old incident yet (one left in "recovering" for days).
        if cond.level == Crisis.none and c.fired and abs(c.at - inc.last_activity) > self.config.gap:
            return None
        return inc

    def _apply_one(self, conn: Connection, work: Work, c: ConditionChange) -> None:
        work.saw(c.at)
        districts = tuple(c.district_codes)
        if not districts and c.lon is not None and c.lat is not None:
            found = geo_areas.area_at(conn, c.lon, c.lat, "district")
            districts = (found.code,) if found is not None else ()
        inc = self._holder(c)
        if inc is not None and not c.late:
            held = inc.conditions[condition_key(c.rule_id, c.subject)]
            # A restarted engine re-reads the recent history and reports again what it finds: changes
            # older than the condition's current level, or that very change, are already recorded.
            if held.since is not None and (
                c.at < held.since or (c.at == held.since and c.level == held.level)
            ):
                return
        if inc is None:
            if not c.fired or c.level == Crisis.none:
                return
            point = (c.lon, c.lat) if c.lon is not None and c.lat is not None else None
            # an official stage is an incident of its own, and no other rule joins it
            own = c.rule_id if c.official else None
            inc = best_match(
                [i for i in self._open.values() if i.own_rule == own],
                self.config,
                c.hazard,
                c.at,
                districts,
                point,
                c.thing_ids,
                lambda code: a.centroid if (a := self._area(conn, code, work)) else None,
            ) or self._open_for(conn, work, c, districts)
        # the situation stream of every process shows the change (a repeat above is not one), before
        # the incident events it causes (published when the work is flushed)
        self.bus.publish(conn, ev.CONDITION_CHANGED, c.to_json())
        self._record(conn, work, inc, c, districts)

    def _title(
        self, conn: Connection, work: Work, c: ConditionChange, districts: tuple[str, ...]
    ) -> tuple[str, str]:
        """An incident's title from the change that opens it: 호우주의보 기준 — 동작구 (see
        :mod:`safecity.situation.titles`; :meth:`_retitle` keeps it current afterwards)."""
        hazard = HAZARDS[c.hazard]
        stage_ko = c.stage_ko or f"{hazard.name_ko} {c.level.name_ko}"
        stage_en = c.stage_en or f"{hazard.name_en} {c.level.name_en.lower()}"
        place = area_phrase(self._title_areas(conn, work, districts))
        site = c.site if self.config.policy(c.hazard).point or c.official else None
        return incident_title(c.hazard, stage_ko, stage_en, place, site)

    def _title_areas(self, conn: Connection, work: Work, codes: Iterable[str]) -> list[Area]:
        out = []
        for code in codes:
            a = self._area(conn, code, work)
            out.append(Area(code, a.name_ko, a.name_en, a.centroid) if a else Area(code, code, code, None))
        return out

    def _retitle(self, conn: Connection, work: Work, inc: OpenIncident) -> None:
        """Name the incident after its current stage and published areas: the highest published level's
        stage (of a condition in those areas when one is) over the areas at that level. When every
        condition has cleared the title stays as it was, so it keeps saying what happened where."""
        if inc.source != "rule":
            return  # a person named it
        top = max(inc.published.values(), default=Crisis.none)
        if top == Crisis.none:
            return  # all cleared: the title keeps the last stage it had
        # the title claims its stage only for the areas at it ("극한호우 — 동작구", not over the band)
        at_level = sorted(code for code, lv in inc.published.items() if lv == top)
        stages = sorted(
            (c for c in inc.conditions.values() if c.level == top),
            key=lambda c: (not set(c.districts) & set(at_level), -c.since.timestamp()),
        )
        if not stages:
            return
        cond = stages[0]
        place = area_phrase(self._title_areas(conn, work, at_level))
        site = cond.site if self.config.policy(inc.hazard).point or inc.own_rule else None
        title = incident_title(inc.hazard, cond.stage_ko, cond.stage_en, place, site)
        if title != (inc.title_ko, inc.title_en):
            inc.title_ko, inc.title_en = title
            work.retitled[inc.id] = title

    def _publish_areas(
        self, conn: Connection, work: Work, inc: OpenIncident, at: datetime, force: bool = False
    ) -> None:
        """Publish the incident's areas and their levels (area links, IncidentUpdated, title).

        A level that falls is published at once: nobody may keep a warning stronger than their area's
        level. Areas that join or rise are published at once the first time and then at most once per
        the hazard's ``batch`` interval (:meth:`Incidents.tick` publishes what waited), so a situation
        spreading district by district is a few updates. Published levels never exceed the live ones.
        """
        live = inc.area_levels()
        published = inc.published
        changed = {
            code: live.get(code, Crisis.none)
            for code, lv in published.items()
            if live.get(code, Crisis.none) < lv
        }
        grown = {code: lv for code, lv in live.items() if lv > published.get(code, Crisis.none)}
        if grown:
            batch = self.config.policy(inc.hazard).batch
            if force or inc.published_at is None or at - inc.published_at >= batch:
                changed.update(grown)
                inc.published_at = at
                inc.pending = False
            else:
                inc.pending = True
        if not changed:
            return
        for code, lv in sorted(changed.items()):
            if code not in inc.areas:
                self._link(work, inc, "area", code, "areas")
                inc.areas.add(code)
            published[code] = lv
            work.area_levels[(inc.id, code)] = lv
            work.added.setdefault(inc.id, {}).setdefault("levels", []).append(
                {"area": code, "level": int(lv)}
            )
        work.touched.add(inc.id)
        self._retitle(conn, work, inc)

    def _open_for(
        self, conn: Connection, work: Work, c: ConditionChange, districts: tuple[str, ...]
    ) -> OpenIncident:
        title_ko, title_en = self._title(conn, work, c, districts)
        incident_id = int(
            conn.execute(
                insert(t_incidents)
                .values(
                    hazard=c.hazard,
                    level=int(c.level),
                    base_level=0,
                    status=Status.detected.value,
                    title_ko=title_ko,
                    title_en=title_en,
                    source="rule",
                    rule_id=c.rule_id,
                    lon=c.lon,
                    lat=c.lat,
                    opened_at=c.at,
                    opened_by=SYSTEM,
                    last_activity_at=c.at,
                    status_changed_at=c.at,
                    status_changed_by=SYSTEM,
                    created_at=work.now,
                    updated_at=work.now,
                )
                .returning(t_incidents.c.id)
            ).scalar_one()
        )
        inc = OpenIncident(
            id=incident_id,
            hazard=c.hazard,
            status=Status.detected.value,
            level=c.level,
            base_level=Crisis.none,
            last_activity=c.at,
            cleared_at=None,
            opened_at=c.at,
            title_ko=title_ko,
            title_en=title_en,
            own_rule=c.rule_id if c.official else None,
        )
        self._open[incident_id] = inc
        work.opened.add(incident_id)
        self._timeline(
            work,
            incident_id,
            c.at,
            "opened",
            SYSTEM,
            *self._opened_text(title_ko, title_en, c.rule_id),
            level=c.level,
            rule_id=c.rule_id,
        )
        work.events.append(
            (
                ev.INCIDENT_OPENED,
                {
                    "incidentId": incident_id,
                    "hazard": c.hazard,
                    "level": int(c.level),
                    "status": Status.detected.value,
                    "titleKo": title_ko,
                    "titleEn": title_en,
                    "source": "rule",
                    "rule": c.rule_id,
                    "areas": sorted(districts),
                    "at": iso(c.at),
                    "actor": SYSTEM,
                },
            )
        )
        return inc

    def _condition_text(
        self, conn: Connection, work: Work, c: ConditionChange, cond: ConditionState
    ) -> tuple[str, str]:
        """Timeline text: 호우경보 (동작구, 3시간 누적 92.5 mm) / Heavy rain warning (Dongjak-gu, 3-h sum 92.5 mm).

        The signal's names and unit come from the change's ``detail`` (``signal_ko``, ``signal_en``,
        ``unit``) when the engine gives them, else its ``signal`` description.
        """
        place_ko, place_en = self._names(conn, cond.districts, work)
        place_ko, place_en = place_ko or c.subject, place_en or c.subject
        if c.level == Crisis.none:
            return (
                f"{cond.stage_ko or HAZARDS[c.hazard].name_ko} 해제 ({place_ko})",
                f"{cond.stage_en or HAZARDS[c.hazard].name_en} cleared ({place_en})",
            )
        value_ko = value_en = ""
        if c.value is not None:
            unit = c.detail.get("unit")
            amount = f"{fmt_num(c.value)} {unit}" if unit else fmt_num(c.value)
            amount_ko = amount_en = amount
            if unit == "s" and c.value >= 60:  # a sensor's silence reads as a duration
                amount_ko, amount_en = elapsed_text(c.value, True), elapsed_text(c.value, False)
            value_ko = f", {c.detail.get('signal_ko') or c.signal} {amount_ko}"
            value_en = f", {c.detail.get('signal_en') or c.signal} {amount_en}"
        return f"{cond.stage_ko} ({place_ko}{value_ko})", f"{cond.stage_en} ({place_en}{value_en})"

    def _record(
        self, conn: Connection, work: Work, inc: OpenIncident, c: ConditionChange, districts: tuple[str, ...]
    ) -> None:
        key = condition_key(c.rule_id, c.subject)
        hazard = HAZARDS[c.hazard]
        cond = inc.conditions.get(key)
        if cond is None:
            cond = ConditionState(
                key=key,
                rule_id=c.rule_id,
                subject=c.subject,
                level=c.level,
                since=c.at,
                stage_ko=c.stage_ko or hazard.name_ko,
                stage_en=c.stage_en or hazard.name_en,
                districts=districts,
                lon=c.lon,
                lat=c.lat,
                official=c.official,
                lift_within_s=c.lift_within_s,
                site=c.site,
            )
            inc.conditions[key] = cond
            work.conditions[(inc.id, key)] = True
            older = self._by_condition.get(key)
            if older is not None and older != inc.id:
                work.released.append((older, key))
        else:
            if cond.level != c.level:
                cond.since = c.at
            cond.level = c.level
            cond.stage_ko = c.stage_ko or cond.stage_ko
            cond.stage_en = c.stage_en or cond.stage_en
            cond.districts = districts or cond.districts
            cond.lon, cond.lat = (c.lon, c.lat) if c.lon is not None else (cond.lon, cond.lat)
            cond.lift_within_s = c.lift_within_s if c.lift_within_s is not None else cond.lift_within_s
            cond.site = c.site or cond.site
            work.conditions.setdefault((inc.id, key), False)
        # A subject that fires again long after clearing moves to the new incident (see _holder); the
        # old one keeps it as cleared.
        self._by_condition[key] = inc.id
        # areas are linked when published (_publish_areas, at the end of the batch)
        if c.lon is not None and c.lat is not None:
            inc.points.add((c.lon, c.lat))
        for ds in c.datastream_ids:
            self._link(work, inc, "datastream", str(ds), "datastreams")
        for th in c.thing_ids:
            if self._link(work, inc, "thing", str(th), "things"):
                inc.things.add(th)
        for obs in c.observation_ids:
            if inc.observation_links >= self.config.max_observation_links:
                break
            if self._link(work, inc, "observation", str(obs), "observations"):
                inc.observation_links += 1
        inc.last_activity = max(inc.last_activity, c.at)
        if (
            c.fired
            and c.level > Crisis.none
            and inc.source == "rule"
            and inc.opened_at is not None
            and c.at < inc.opened_at
        ):
            self._backdate(conn, work, inc, c, districts)

        kind = "fired" if c.level > c.previous else ("cleared" if c.level == Crisis.none else "lowered")
        ko, en = self._condition_text(conn, work, c, cond)
        data = jsonable({**c.to_json(), "detail": c.detail})
        data["observations"] = data["observations"][:MAX_TIMELINE_OBSERVATIONS]
        self._timeline(work, inc.id, c.at, kind, SYSTEM, ko, en, level=c.level, rule_id=c.rule_id, data=data)

        previous = inc.level
        inc.level = inc.current_level()
        if inc.level != previous:
            self._timeline(
                work,
                inc.id,
                c.at,
                "level",
                SYSTEM,
                f"위기 수준 {previous.name_ko} → {inc.level.name_ko}: {ko}",
                f"Crisis level {previous.name_en} → {inc.level.name_en}: {en}",
                level=inc.level,
                rule_id=c.rule_id,
            )
            work.events.append(
                (
                    ev.CRISIS_LEVEL_CHANGED,
                    {
                        "scope": "incident",
                        "incidentId": inc.id,
                        "hazard": inc.hazard,
                        "level": int(inc.level),
                        "previous": int(previous),
                        "areas": sorted(inc.areas),
                        "at": iso(c.at),
                    },
                )
            )
        if inc.active():
            inc.cleared_at = None
        elif inc.cleared_at is None or c.at > inc.cleared_at:
            inc.cleared_at = c.at
        if c.fired and inc.status == Status.recovering:
            self._set_status(
                conn,
                work,
                inc.id,
                Status.recovering,
                Status.responding,
                SYSTEM,
                c.at,
                note_ko=f"상황 재악화: {ko}",
                note_en=f"Situation escalated again: {en}",
            )
        work.touched.add(inc.id)

    def _backdate(
        self, conn: Connection, work: Work, inc: OpenIncident, c: ConditionChange, districts: tuple[str, ...]
    ) -> None:
        """Move a rule incident's opening back to a change dated before it that arrived after it.

        Streams do not arrive in the order of their data: a gateway's backlog after an outage, a device
        that reconnects later than its neighbours after a restart. The incident began when its earliest
        condition fired, so it opens then, is named after that change (title, rule, place) and its
        "opened" timeline entry moves with it: the picture depends on the data's time, not on the order
        it arrived in.
        """
        title_ko, title_en = self._title(conn, work, c, districts)
        inc.opened_at = c.at
        work.backdated[inc.id] = Opening(
            c.at,
            title_ko,
            title_en,
            c.rule_id,
            c.lon,
            c.lat,
            int(c.level),
            inc.status == Status.detected.value,
        )
        for topic, payload in work.events:
            if topic == ev.INCIDENT_OPENED and payload["incidentId"] == inc.id:
                # opened in this very transaction: its announcement says the earlier opening
                payload.update(
                    titleKo=title_ko, titleEn=title_en, rule=c.rule_id, level=int(c.level), at=iso(c.at)
                )
