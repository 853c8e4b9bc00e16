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

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

import orjson
from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection, RowMapping

from safecity.bus import Bus
from safecity.core.clock import Clock
from safecity.core.errors import BadRequest, Conflict, NotFound
from safecity.core.logging import get_logger
from safecity.geo import areas as geo_areas
from safecity.sensing.service import existing_ids
from safecity.situation import events as ev
from safecity.situation.correlate import (
    ConditionState,
    IncidentConfig,
    OpenIncident,
    best_match,
    condition_key,
)
from safecity.situation.incident_inputs import (
    SENSING_KINDS,
    AttachmentIn,
    ManualIncidentIn,
    attachment_ref,
    check_manual,
)
from safecity.situation.incident_read import (
    AreaInfo,
    incident_row,
    iso,
    list_incidents,
    read_incident,
    rule_stats,
)
from safecity.situation.lifecycle import OPEN, TERMINAL, Status, check_transition, parse_status
from safecity.situation.model import HAZARDS, ConditionChange, Crisis
from safecity.situation.tables import incidents as t_incidents
from safecity.situation.tables import links as t_links
from safecity.situation.tables import timeline as t_timeline
from safecity.store import Store

log = get_logger(__name__)

#: The actor of everything the platform does by itself.
SYSTEM = "system"
#: Observation ids copied into one timeline entry's data (the links keep the rest, up to their cap).
MAX_TIMELINE_OBSERVATIONS = 100

T = TypeVar("T")
Event = dict[str, Any]
Events = list[dict[str, Any]]


@dataclass(frozen=True)
class _Opening:
    """Where a rule incident's opening moves when an earlier change arrives late (see ``_backdate``)."""

    at: datetime
    title_ko: str
    title_en: str
    rule_id: str
    lon: float | None
    lat: float | None
    level: int
    detected: bool  # still in "detected": its status has dated from the opening


@dataclass
class _Work:
    """What one write transaction changes, collected while the in-memory index is updated."""

    now: datetime  # wall clock
    at: datetime | None = None  # latest event time the work is about
    events: list[tuple[str, Event]] = field(default_factory=list)
    timeline: list[dict[str, Any]] = field(default_factory=list)
    links: list[dict[str, Any]] = field(default_factory=list)
    conditions: dict[tuple[int, str], bool] = field(default_factory=dict)  # → True when new
    touched: set[int] = field(default_factory=set)
    opened: set[int] = field(default_factory=set)
    added: dict[int, dict[str, list[Any]]] = field(default_factory=dict)  # for IncidentUpdated
    actors: dict[int, str] = field(default_factory=dict)  # who added them (default: system)
    hazards: dict[int, str] = field(default_factory=dict)  # of incidents not in the open index
    missing_areas: set[str] = field(default_factory=set)  # codes geo.areas does not know (this work)
    backdated: dict[int, _Opening] = field(default_factory=dict)  # incident → its new opening

    def saw(self, at: datetime) -> None:
        self.at = at if self.at is None or at > self.at else self.at


def _jsonable(value: Any) -> Any:
    """A JSON-column-safe copy (a rule's ``detail`` may hold datetimes or numpy numbers)."""
    return orjson.loads(orjson.dumps(value, default=str, option=orjson.OPT_SERIALIZE_NUMPY))


def _num(value: float) -> str:
    # never an exponent in a timeline an operator reads ("1.35657e+08")
    return f"{round(value, 2):,.2f}".rstrip("0").rstrip(".") if abs(value) >= 1e5 else f"{round(value, 2):g}"


def _elapsed(seconds: float, korean: bool) -> str:
    """A silence of ``seconds`` as days/hours/minutes: 3일 4시간 / 3 d 4 h."""
    s = int(seconds)
    parts = [(s // 86400, "일", "d"), (s % 86400 // 3600, "시간", "h"), (s % 3600 // 60, "분", "min")]
    shown = [f"{n}{ko}" if korean else f"{n} {en}" for n, ko, en in parts if n][:2]
    return " ".join(shown) or (f"{s}초" if korean else f"{s} s")


def _duration_ko(d: timedelta) -> str:
    minutes = int(d.total_seconds() // 60)
    return f"{minutes // 60}시간" if minutes % 60 == 0 else f"{minutes}분"


def _duration_en(d: timedelta) -> str:
    minutes = int(d.total_seconds() // 60)
    return f"{minutes // 60} h" if minutes % 60 == 0 else f"{minutes} min"


class Incidents:
    """The incident register. Thread-safe: the bus dispatcher calls :meth:`apply`, request threads the rest.

    ``listeners`` are called after each commit with every event (the bus payload plus ``topic``), outside
    the lock; a listener that raises is logged and does not affect the others.
    """

    def __init__(self, store: Store, bus: Bus, clock: Clock, config: IncidentConfig | None = None) -> None:
        self.store = store
        self.bus = bus
        self.clock = clock
        self.config = config or IncidentConfig()
        self.listeners: list[Callable[[dict[str, Any]], None]] = []
        self._lock = threading.RLock()
        self._open: dict[int, OpenIncident] = {}
        self._by_condition: dict[str, int] = {}  # condition key → the open incident holding it
        self._areas: dict[str, AreaInfo] = {}  # district code → names and centroid (geo.areas hits only)
        self._load()

    # ------------------------------------------------------------------------------------- the index

    def _load(self) -> None:
        """Rebuild the open-incident index from the store."""
        open_incidents: dict[int, OpenIncident] = {}
        by_condition: dict[str, int] = {}
        with self.store.engine.connect() as conn:
            rows = conn.execute(
                select(t_incidents).where(t_incidents.c.status.in_([s.value for s in OPEN]))
            ).mappings()
            for r in rows:
                inc = OpenIncident(
                    id=int(r["id"]),
                    hazard=r["hazard"],
                    status=r["status"],
                    level=Crisis(r["level"]),
                    base_level=Crisis(r["base_level"]),
                    last_activity=r["last_activity_at"],
                    cleared_at=r["cleared_at"],
                    opened_at=r["opened_at"],
                    source=r["source"],
                )
                if r["lon"] is not None and r["lat"] is not None:
                    inc.points.add((float(r["lon"]), float(r["lat"])))
                open_incidents[inc.id] = inc
            if open_incidents:
                for lr in conn.execute(
                    select(t_links).where(t_links.c.incident_id.in_(list(open_incidents)))
                ).mappings():
                    self._index_link(open_incidents[int(lr["incident_id"])], lr, open_incidents, by_condition)
        with self._lock:
            self._open = open_incidents
            self._by_condition = by_condition

    @staticmethod
    def _index_link(
        inc: OpenIncident,
        lr: RowMapping,
        open_incidents: dict[int, OpenIncident],
        by_condition: dict[str, int],
    ) -> None:
        kind, ref = lr["kind"], lr["ref"]
        inc.links.add((kind, ref))
        if kind == "area":
            inc.areas.add(ref)
        elif kind == "thing":
            inc.things.add(int(ref))
        elif kind == "observation":
            inc.observation_links += 1
        elif kind == "condition":
            data = lr["data"] or {}
            cond = ConditionState(
                key=ref,
                rule_id=lr["rule_id"] or "",
                subject=data.get("subject", ref.partition("|")[2]),
                level=Crisis(lr["level"] or 0),
                since=lr["since"],
                stage_ko=data.get("stageKo", ""),
                stage_en=data.get("stageEn", ""),
                districts=tuple(data.get("districts", ())),
                lon=data.get("lon"),
                lat=data.get("lat"),
            )
            inc.conditions[ref] = cond
            # Two open incidents hold a subject when it fired again long after clearing (see _holder):
            # the one where it changed last holds it.
            other = open_incidents.get(by_condition.get(ref, 0))
            if other is None or other.conditions[ref].since <= cond.since:
                by_condition[ref] = inc.id
            if cond.lon is not None and cond.lat is not None:
                inc.points.add((float(cond.lon), float(cond.lat)))

    def open_count(self) -> int:
        """Incidents not closed or dismissed (for metrics)."""
        with self._lock:
            return len(self._open)

    def _district_levels(self) -> dict[tuple[str, str], tuple[Crisis, set[int]]]:
        """(district, hazard) → (level, incident ids) over open incidents' active conditions.

        A manual incident's declared level counts over its areas too: an operator's 경계 for 동작구 must
        show on the map as much as a gauge's.
        """
        out: dict[tuple[str, str], tuple[Crisis, set[int]]] = {}

        def raise_to(district: str, hazard: str, level: Crisis, incident_id: int) -> None:
            current, ids = out.get((district, hazard), (Crisis.none, set()))
            ids = ids | {incident_id}
            out[(district, hazard)] = (max(current, level), ids)

        for inc in self._open.values():
            for cond in inc.conditions.values():
                if cond.level > Crisis.none:
                    for d in cond.districts:
                        raise_to(d, inc.hazard, cond.level, inc.id)
            if inc.base_level > Crisis.none:
                for d in inc.areas:
                    raise_to(d, inc.hazard, inc.base_level, inc.id)
        return out

    # ------------------------------------------------------------------------------------ geography

    def _area(self, conn: Connection, code: str, work: _Work | None = None) -> AreaInfo | None:
        cached = self._areas.get(code)
        if cached is not None or (work is not None and code in work.missing_areas):
            return cached
        ref = geo_areas.area_by_code(conn, code, kind="district")
        geom = geo_areas.geometry_of(conn, ref.id) if ref is not None else None
        if ref is None or geom is None:
            # Not cached for good: the districts may be imported while the platform runs.
            if work is not None:
                work.missing_areas.add(code)
            return None
        c = geom.centroid
        area = AreaInfo(code, ref.name_ko, ref.name_en or ref.name_ko, (float(c.x), float(c.y)))
        self._areas[code] = area
        return area

    def _names(self, conn: Connection, codes: Sequence[str], work: _Work | None = None) -> tuple[str, str]:
        found = [self._area(conn, c, work) for c in codes]
        ko = ", ".join(a.name_ko if a else c for a, c in zip(found, codes, strict=True))
        en = ", ".join(a.name_en if a else c for a, c in zip(found, codes, strict=True))
        return ko, en

    # ------------------------------------------------------------------------------ the transaction

    def _commit(self, fn: Callable[[Connection, _Work], T]) -> tuple[T, Events]:
        """Run ``fn`` and flush what it collected in one write transaction, with the bus events.

        ``fn`` updates the in-memory index as it goes; if anything fails the transaction rolls back and
        the index is rebuilt from the store, so memory never holds what the store does not.
        """
        with self._lock:
            before = self._district_levels()
            work = _Work(self.clock.now())
            try:
                with self.store.write() as conn:
                    result = fn(conn, work)
                    self._flush(conn, work)
                    self._district_events(work, before)
                    for topic, payload in work.events:
                        self.bus.publish(conn, topic, payload)
            except BaseException:
                self._load()
                raise
        if work.events:
            self.bus.notify()
        return result, [{**payload, "topic": topic} for topic, payload in work.events]

    def _deliver(self, events: Events) -> Events:
        for event in events:
            for listener in list(self.listeners):
                try:
                    listener(event)
                except Exception:  # a listener's boundary: one bad listener must not stop the others
                    log.exception("incident listener failed", topic=event.get("topic"))
        return events

    def _flush(self, conn: Connection, work: _Work) -> None:
        now = work.now
        for (incident_id, key), is_new in work.conditions.items():
            inc = self._open.get(incident_id)
            cond = inc.conditions.get(key) if inc else None
            if cond is None:
                continue
            values = {
                "rule_id": cond.rule_id,
                "level": int(cond.level),
                "since": cond.since,
                "data": {
                    "subject": cond.subject,
                    "stageKo": cond.stage_ko,
                    "stageEn": cond.stage_en,
                    "districts": list(cond.districts),
                    "lon": cond.lon,
                    "lat": cond.lat,
                },
                "updated_at": now,
            }
            if is_new:
                conn.execute(
                    insert(t_links).values(
                        incident_id=incident_id, kind="condition", ref=key, created_at=now, **values
                    )
                )
            else:
                conn.execute(
                    update(t_links)
                    .where(
                        t_links.c.incident_id == incident_id,
                        t_links.c.kind == "condition",
                        t_links.c.ref == key,
                    )
                    .values(**values)
                )
        if work.links:
            conn.execute(insert(t_links), work.links)
        if work.timeline:
            conn.execute(insert(t_timeline), work.timeline)
        if work.backdated:
            self._flush_backdated(conn, work)  # after the timeline, whose "opened" entry it may move
        for incident_id in sorted(work.touched):
            inc = self._open.get(incident_id)
            if inc is None:
                continue  # closed in this work: its row was written by _set_status
            conn.execute(
                update(t_incidents)
                .where(t_incidents.c.id == incident_id)
                .values(
                    level=int(inc.level),
                    status=inc.status,
                    last_activity_at=inc.last_activity,
                    cleared_at=inc.cleared_at,
                    updated_at=now,
                )
            )
        for incident_id in sorted(work.added.keys() | work.backdated.keys()):
            inc = self._open.get(incident_id)
            if incident_id in work.opened:
                continue  # IncidentOpened already says what it holds
            payload: Event = {
                "incidentId": incident_id,
                "hazard": inc.hazard if inc else work.hazards.get(incident_id),
                "added": work.added.get(incident_id, {}),
                "areas": sorted(inc.areas) if inc else [],
                "at": iso(work.at or now),
                "actor": work.actors.get(incident_id, SYSTEM),
            }
            if (b := work.backdated.get(incident_id)) is not None:
                payload.update(openedAt=iso(b.at), titleKo=b.title_ko, titleEn=b.title_en)
            work.events.append((ev.INCIDENT_UPDATED, payload))

    def _district_events(self, work: _Work, before: dict[tuple[str, str], tuple[Crisis, set[int]]]) -> None:
        after = self._district_levels()
        for key in sorted(before.keys() | after.keys()):
            old, old_ids = before.get(key, (Crisis.none, set()))
            new, new_ids = after.get(key, (Crisis.none, set()))
            if old != new:
                district, hazard = key
                work.events.append(
                    (
                        ev.CRISIS_LEVEL_CHANGED,
                        {
                            "scope": "district",
                            "district": district,
                            "hazard": hazard,
                            "level": int(new),
                            "previous": int(old),
                            "incidents": sorted(new_ids or old_ids),
                            "at": iso(work.at or work.now),
                        },
                    )
                )

    def _timeline(
        self,
        work: _Work,
        incident_id: int,
        at: datetime,
        kind: str,
        actor: str,
        ko: str,
        en: str,
        *,
        level: Crisis | None = None,
        rule_id: str | None = None,
        data: dict[str, Any] | None = None,
    ) -> None:
        work.timeline.append(
            {
                "incident_id": incident_id,
                "at": at,
                "recorded_at": work.now,
                "kind": kind,
                "actor": actor,
                "rule_id": rule_id,
                "level": None if level is None else int(level),
                "detail_ko": ko,
                "detail_en": en,
                "data": data,
            }
        )

    def _link(self, work: _Work, inc: OpenIncident, kind: str, ref: str, what: str) -> bool:
        """Record a link once per incident; ``what`` names the list in IncidentUpdated's ``added``."""
        if (kind, ref) in inc.links:
            return False
        inc.links.add((kind, ref))
        work.links.append(
            {"incident_id": inc.id, "kind": kind, "ref": ref, "created_at": work.now, "updated_at": work.now}
        )
        value: Any = int(ref) if kind in ("datastream", "thing", "observation") else ref
        work.added.setdefault(inc.id, {}).setdefault(what, []).append(value)
        return True

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

        def work(conn: Connection, w: _Work) -> None:
            for c in valid:
                self._apply_one(conn, w, c)

        _, events = self._commit(work)
        return self._deliver(events)

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

    def _apply_one(self, conn: Connection, work: _Work, c: ConditionChange) -> None:
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
            inc = best_match(
                self._open.values(),
                self.config,
                c.hazard,
                c.at,
                districts,
                point,
                c.thing_ids,
                lambda code: a.centroid if (a := self._area(conn, code, work)) else None,
            ) or self._open_for(conn, work, c, districts)
        self._record(conn, work, inc, c, districts)

    def _title(
        self, conn: Connection, work: _Work, c: ConditionChange, districts: tuple[str, ...]
    ) -> tuple[str, str]:
        """An incident's title from the change that opens it: 호우주의보 기준 — 동작구."""
        hazard = HAZARDS[c.hazard]
        place_ko, place_en = self._names(conn, districts, work)
        stage_ko = c.stage_ko or f"{hazard.name_ko} {c.level.name_ko}"
        stage_en = c.stage_en or f"{hazard.name_en} {c.level.name_en.lower()}"
        title_ko = f"{stage_ko} — {place_ko}" if place_ko else stage_ko
        title_en = f"{stage_en} — {place_en}" if place_en else stage_en
        return title_ko, title_en

    @staticmethod
    def _opened_text(title_ko: str, title_en: str, rule_id: str) -> tuple[str, str]:
        return f"사건 감지: {title_ko} (규칙 {rule_id})", f"Incident detected: {title_en} (rule {rule_id})"

    def _open_for(
        self, conn: Connection, work: _Work, c: ConditionChange, districts: tuple[str, ...]
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
        self, conn: Connection, work: _Work, c: ConditionChange, cond: ConditionState
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
            amount = f"{_num(c.value)} {unit}" if unit else _num(c.value)
            amount_ko = amount_en = amount
            if unit == "s" and c.value >= 60:  # a sensor's silence reads as a duration
                amount_ko, amount_en = _elapsed(c.value, True), _elapsed(c.value, False)
            value_ko = f", {c.detail.get('signal_ko') or c.signal} {amount_ko}"
            value_en = f", {c.detail.get('signal_en') or c.signal} {amount_en}"
        return f"{cond.stage_ko} ({place_ko}{value_ko})", f"{cond.stage_en} ({place_en}{value_en})"

    def _record(
        self, conn: Connection, work: _Work, inc: OpenIncident, c: ConditionChange, districts: tuple[str, ...]
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
            )
            inc.conditions[key] = cond
            work.conditions[(inc.id, key)] = True
        else:
            if cond.level != c.level:
                cond.since = c.at
            cond.level = c.level
            cond.stage_ko = c.stage_ko or cond.stage_ko
            cond.stage_en = c.stage_en or cond.stage_en
            cond.districts = districts or cond.districts
            cond.lon, cond.lat = (c.lon, c.lat) if c.lon is not None else (cond.lon, cond.lat)
            work.conditions.setdefault((inc.id, key), False)
        # A subject that fires again long after clearing moves to the new incident (see _holder); the
        # old one keeps it as cleared.
        self._by_condition[key] = inc.id
        for d in districts:
            self._link(work, inc, "area", d, "areas")
            inc.areas.add(d)
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
        data = _jsonable({**c.to_json(), "detail": c.detail})
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
        self, conn: Connection, work: _Work, inc: OpenIncident, c: ConditionChange, districts: tuple[str, ...]
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
        work.backdated[inc.id] = _Opening(
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

    def _flush_backdated(self, conn: Connection, work: _Work) -> None:
        for incident_id, b in sorted(work.backdated.items()):
            values: dict[str, Any] = {
                "opened_at": b.at,
                "title_ko": b.title_ko,
                "title_en": b.title_en,
                "rule_id": b.rule_id,
                "lon": b.lon,
                "lat": b.lat,
            }
            if b.detected:
                values["status_changed_at"] = b.at
            conn.execute(update(t_incidents).where(t_incidents.c.id == incident_id).values(**values))
            ko, en = self._opened_text(b.title_ko, b.title_en, b.rule_id)
            conn.execute(
                update(t_timeline)
                .where(t_timeline.c.incident_id == incident_id, t_timeline.c.kind == "opened")
                .values(at=b.at, level=b.level, rule_id=b.rule_id, detail_ko=ko, detail_en=en)
            )

    # ------------------------------------------------------------------------------------ lifecycle

    def _set_status(
        self,
        conn: Connection,
        work: _Work,
        incident_id: int,
        current: Status,
        target: Status,
        actor: str,
        at: datetime,
        *,
        reason: str | None = None,
        note: str | None = None,
        note_ko: str | None = None,
        note_en: str | None = None,
    ) -> None:
        values: dict[str, Any] = {
            "status": target.value,
            "status_changed_at": at,
            "status_changed_by": actor,
            "updated_at": work.now,
        }
        if target in TERMINAL:
            values.update(closed_at=at, closed_by=actor)
        if target is Status.dismissed:
            values["dismissed_reason"] = reason
        conn.execute(update(t_incidents).where(t_incidents.c.id == incident_id).values(**values))
        row = conn.execute(select(t_incidents.c.hazard).where(t_incidents.c.id == incident_id)).one()
        hazard = row.hazard
        ko = f"상태 {current.name_ko} → {target.name_ko}"
        en = f"Status {current.name_en} → {target.name_en}"
        extra_ko = [x for x in (note_ko, reason and f"사유: {reason}", note) if x]
        extra_en = [x for x in (note_en, reason and f"reason: {reason}", note) if x]
        self._timeline(
            work,
            incident_id,
            at,
            "status",
            actor,
            "; ".join([ko, *extra_ko]),
            "; ".join([en, *extra_en]),
            data={"from": current.value, "to": target.value, "reason": reason, "note": note},
        )
        work.saw(at)
        work.events.append(
            (
                ev.INCIDENT_STATUS_CHANGED,
                {
                    "incidentId": incident_id,
                    "hazard": hazard,
                    "status": target.value,
                    "previous": current.value,
                    "at": iso(at),
                    "actor": actor,
                    "reason": reason,
                    "note": note,
                },
            )
        )
        inc = self._open.get(incident_id)
        if target in TERMINAL:
            work.events.append(
                (
                    ev.INCIDENT_CLOSED,
                    {
                        "incidentId": incident_id,
                        "hazard": hazard,
                        "status": target.value,
                        "reason": reason,
                        "at": iso(at),
                        "actor": actor,
                    },
                )
            )
            if inc is not None:
                del self._open[incident_id]
                for key in inc.conditions:
                    if self._by_condition.get(key) == incident_id:
                        del self._by_condition[key]
        elif inc is not None:
            inc.status = target.value

    def transition(
        self, incident_id: int, status: str, actor: str, reason: str | None = None, note: str | None = None
    ) -> dict[str, Any]:
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

        def work(conn: Connection, w: _Work) -> None:
            current = Status(incident_row(conn, incident_id)["status"])
            check_transition(current, target)
            self._set_status(conn, w, incident_id, current, target, actor, w.now, reason=reason, note=note)

        _, events = self._commit(work)
        self._deliver(events)
        return self.get(incident_id)

    def tick(self, now: datetime) -> Events:
        """Close (or set recovering) the incidents whose conditions have all been clear for close_after.

        ``now`` is the current time on the conditions' clock (the wall clock live, the data's time in a
        replay). Manual incidents are never closed by the platform: a person opened them.
        """

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
            if not due():
                return []

        def work(conn: Connection, w: _Work) -> None:
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
                    note_ko=f"모든 조건이 {_duration_ko(wait)} 동안 해소됨",
                    note_en=f"every condition clear for {_duration_en(wait)}",
                )
                if target is Status.recovering:
                    w.touched.add(inc.id)

        _, events = self._commit(work)
        return self._deliver(events)

    # ------------------------------------------------------------------------------ manual input

    def open_manual(self, data: ManualIncidentIn, actor: str) -> dict[str, Any]:
        """Open an incident a person reported; returns it (as :meth:`get`).

        Needs a title in at least one language (the other falls back to it) and a place: district
        codes and/or lon/lat (the district containing the point is added when districts are loaded).
        """
        title_ko, title_en = check_manual(data)
        level = Crisis(data.level)

        def work(conn: Connection, w: _Work) -> int:
            at = data.at or w.now
            w.saw(at)
            districts = list(dict.fromkeys(data.districts))
            if geo_areas.areas_of(conn, "district"):
                # Districts are loaded: a code that names none is a typo, not a place.
                for i, code in enumerate(districts):
                    if geo_areas.area_by_code(conn, code, kind="district") is None:
                        raise NotFound(
                            f"districts[{i}]: no district has code {code}", where=f"districts[{i}]"
                        )
                if data.lon is not None and data.lat is not None:
                    found = geo_areas.area_at(conn, data.lon, data.lat, "district")
                    if found is not None and found.code not in districts:
                        districts.append(found.code)
            incident_id = int(
                conn.execute(
                    insert(t_incidents)
                    .values(
                        hazard=data.hazard,
                        level=int(level),
                        base_level=int(level),
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
                base_level=level,
                last_activity=at,
                cleared_at=None,
                opened_at=at,
                source="manual",
            )
            if data.lon is not None and data.lat is not None:
                inc.points.add((data.lon, data.lat))
            self._open[incident_id] = inc
            w.opened.add(incident_id)
            for d in districts:
                self._link(w, inc, "area", d, "areas")
                inc.areas.add(d)
            source_ko = f" (제보: {data.source_note})" if data.source_note else ""
            source_en = f" (reported by: {data.source_note})" if data.source_note else ""
            self._timeline(
                w,
                incident_id,
                at,
                "opened",
                actor,
                f"수동 등록: {title_ko}, {level.name_ko}{source_ko}",
                f"Reported: {title_en}, {level.name_en}{source_en}",
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

        incident_id, events = self._commit(work)
        self._deliver(events)
        return self.get(incident_id)

    def attach(self, incident_id: int, data: AttachmentIn, actor: str) -> dict[str, Any]:
        """Attach an observation, datastream, thing, link or note to an incident (closed ones too, for
        the review afterwards); returns the incident. NotFound for an id that names nothing, Conflict
        for something already attached."""
        ref = attachment_ref(data)

        def work(conn: Connection, w: _Work) -> None:
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

        _, events = self._commit(work)
        self._deliver(events)
        return self.get(incident_id)

    # ----------------------------------------------------------------------------------- reading

    def get(self, incident_id: int) -> dict[str, Any]:
        """One incident with its timeline (oldest first), conditions, affected areas (with the GeoJSON
        union of their geometries when districts are loaded), datastreams, things, observations, links.
        Raises NotFound."""
        with self.store.engine.connect() as conn:
            return read_incident(conn, incident_id, self._area)

    def list(
        self,
        *,
        status: str | None = None,
        hazard: str | None = None,
        open_only: bool = False,
        limit: int = 100,
        offset: int = 0,
    ) -> Events:
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

    def levels(self) -> Events:
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
                    {
                        "district": district,
                        "nameKo": area.name_ko if area else None,
                        "nameEn": area.name_en if area else None,
                        "hazard": hazard,
                        "hazardKo": h.name_ko,
                        "hazardEn": h.name_en,
                        "level": int(level),
                        "crisis": level.to_json(),
                        "incidents": sorted(ids),
                    }
                )
        return out

    def rule_stats(self) -> Events:
        """Per rule: conditions fired, incidents it opened, incidents it fed (opened or joined), and
        incidents dismissed as false alarms among those it fed, with the latest reasons. High
        dismissal shares point at thresholds to tune."""
        with self.store.engine.connect() as conn:
            return rule_stats(conn)
