# SPDX-License-Identifier: Apache-2.0
"""The incident register's core: the in-memory index of open incidents, the one-transaction write
(:meth:`IncidentRegister._commit`), timeline entries, links, area names and status changes.

:class:`~safecity.situation.incidents.Incidents` is what the rest of the platform uses; this base holds
what both the rule side (:mod:`safecity.situation.incident_rules`) and the people's side (manual incidents,
transitions, reading) need. See :mod:`safecity.situation.incidents` for the contract.
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
from safecity.core.logging import get_logger
from safecity.geo import areas as geo_areas
from safecity.situation import events as ev
from safecity.situation.correlate import (
    ConditionState,
    IncidentConfig,
    OpenIncident,
)
from safecity.situation.incident_model import iso
from safecity.situation.incident_read import AreaInfo, site_args
from safecity.situation.lifecycle import OPEN, TERMINAL, Status
from safecity.situation.model import Crisis, Site
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
class Opening:
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
class Work:
    """What one write transaction changes, collected while the in-memory index is updated."""

    now: datetime  # wall clock
    at: datetime | None = None  # latest event time the work is about
    events: list[tuple[str, Event]] = field(default_factory=list)
    timeline: list[dict[str, Any]] = field(default_factory=list)
    links: list[dict[str, Any]] = field(default_factory=list)
    conditions: dict[tuple[int, str], bool] = field(default_factory=dict)  # → True when new
    #: (incident, condition key): an older open incident that no longer holds the condition (it fired
    #: again long after clearing and opened a newer one)
    released: list[tuple[int, str]] = field(default_factory=list)
    touched: set[int] = field(default_factory=set)
    opened: set[int] = field(default_factory=set)
    added: dict[int, dict[str, list[Any]]] = field(default_factory=dict)  # for IncidentUpdated
    actors: dict[int, str] = field(default_factory=dict)  # who added them (default: system)
    hazards: dict[int, str] = field(default_factory=dict)  # of incidents not in the open index
    missing_areas: set[str] = field(default_factory=set)  # codes geo.areas does not know (this work)
    backdated: dict[int, Opening] = field(default_factory=dict)  # incident → its new opening
    area_levels: dict[tuple[int, str], Crisis] = field(default_factory=dict)  # (incident, area) → published
    #: (incident, area) → the level a person declared for that area (OpenIncident.declared)
    area_declared: dict[tuple[int, str], Crisis] = field(default_factory=dict)
    retitled: dict[int, tuple[str, str]] = field(default_factory=dict)  # incident → (title_ko, title_en)

    def saw(self, at: datetime) -> None:
        self.at = at if self.at is None or at > self.at else self.at


def jsonable(value: Any) -> Any:
    """A JSON-column-safe copy (a rule's ``detail`` may hold datetimes or numpy numbers)."""
    return orjson.loads(orjson.dumps(value, default=str, option=orjson.OPT_SERIALIZE_NUMPY))


def fmt_num(value: float) -> str:
    # never an exponent in a timeline an operator reads ("1.35657e+08")
    return f"{round(value, 2):,.2f}".rstrip("0").rstrip(".") if abs(value) >= 1e5 else f"{round(value, 2):g}"


def elapsed_text(seconds: float, korean: bool) -> str:
    """A silence of ``seconds`` as days/hours/minutes: 3일 4시간 / 3 d 4 h."""
    s = int(seconds)
    parts = [(s // 86400, "일", "d"), (s % 86400 // 3600, "시간", "h"), (s % 3600 // 60, "분", "min")]
    shown = [f"{n}{ko}" if korean else f"{n} {en}" for n, ko, en in parts if n][:2]
    return " ".join(shown) or (f"{s}초" if korean else f"{s} s")


def duration_ko(d: timedelta) -> str:
    minutes = int(d.total_seconds() // 60)
    return f"{minutes // 60}시간" if minutes % 60 == 0 else f"{minutes}분"


def duration_en(d: timedelta) -> str:
    minutes = int(d.total_seconds() // 60)
    return f"{minutes // 60} h" if minutes % 60 == 0 else f"{minutes} min"


class IncidentRegister:
    """The open-incident index and the transaction every change goes through (see :class:`Incidents`
    in :mod:`safecity.situation.incidents` for the thread-safety contract)."""

    def __init__(self, store: Store, bus: Bus, clock: Clock, config: IncidentConfig | None = None) -> None:
        self.store = store
        self.bus = bus
        self.clock = clock
        self.config = config or IncidentConfig()
        self._lock = threading.RLock()
        self._open: dict[int, OpenIncident] = {}
        self._by_condition: dict[str, int] = {}  # condition key → the open incident holding it
        self._areas: dict[str, AreaInfo] = {}  # district code → names and centroid (geo.areas hits only)
        self._load()

    # ------------------------------------------------------------------------------------- the index

    def reload(self) -> None:
        """Read the open incidents again (another process may have changed them since)."""
        self._load()

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
                    title_ko=r["title_ko"],
                    title_en=r["title_en"],
                )
                if r["lon"] is not None and r["lat"] is not None:
                    inc.points.add((float(r["lon"]), float(r["lat"])))
                open_incidents[inc.id] = inc
            if open_incidents:
                for lr in conn.execute(
                    select(t_links).where(t_links.c.incident_id.in_(list(open_incidents)))
                ).mappings():
                    self._index_link(open_incidents[int(lr["incident_id"])], lr, open_incidents, by_condition)
        for inc in open_incidents.values():
            # growth that waited for its batch when the platform stopped still waits
            inc.pending = inc.source == "rule" and any(
                lv > inc.published.get(code, Crisis.none) for code, lv in inc.area_levels().items()
            )
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
            inc.published[ref] = Crisis(lr["level"] or 0)
            declared = (lr["data"] or {}).get("declared")
            if declared is not None:
                inc.declared[ref] = Crisis(int(declared))
            # an area link's ``since``: when the incident's growth was last published (batching resumes
            # after a restart where it stood)
            if lr["since"] is not None and (inc.published_at is None or lr["since"] > inc.published_at):
                inc.published_at = lr["since"]
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
                official=bool(data.get("official")),
                lift_within_s=data.get("liftWithinS"),
                site=Site(**site_args(data["site"])) if isinstance(data.get("site"), dict) else None,
            )
            inc.conditions[ref] = cond
            if cond.official:
                inc.own_rule = cond.rule_id
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
                    raise_to(d, inc.hazard, inc.declared.get(d, inc.base_level), inc.id)
        return out

    # ------------------------------------------------------------------------------------ geography

    def _area(self, conn: Connection, code: str, work: Work | None = None) -> AreaInfo | None:
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

    def _names(self, conn: Connection, codes: Sequence[str], work: Work | None = None) -> tuple[str, str]:
        found = [self._area(conn, c, work) for c in codes]
        ko = ", ".join(a.name_ko if a else c for a, c in zip(found, codes, strict=True))
        en = ", ".join(a.name_en if a else c for a, c in zip(found, codes, strict=True))
        return ko, en

    # ------------------------------------------------------------------------------ the transaction

    def _commit(self, fn: Callable[[Connection, Work], T]) -> tuple[T, Events]:
        """Run ``fn`` and flush what it collected in one write transaction, with the bus events.

        ``fn`` updates the in-memory index as it goes; if anything fails the transaction rolls back and
        the index is rebuilt from the store, so memory never holds what the store does not.
        """
        with self._lock:
            before = self._district_levels()
            work = Work(self.clock.now())
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

    def _flush(self, conn: Connection, work: Work) -> None:
        now = work.now
        for incident_id, key in work.released:  # before the new holder's link takes the claim
            conn.execute(
                update(t_links)
                .where(
                    t_links.c.incident_id == incident_id, t_links.c.kind == "condition", t_links.c.ref == key
                )
                .values(holds=False, updated_at=now)
            )
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
                    "official": cond.official,
                    "liftWithinS": cond.lift_within_s,
                    "site": cond.site.to_json() if cond.site else None,
                },
                "updated_at": now,
            }
            if is_new:
                conn.execute(
                    insert(t_links).values(
                        incident_id=incident_id,
                        kind="condition",
                        ref=key,
                        holds=True,  # uq_situation_incident_links_held_condition: one open holder
                        created_at=now,
                        **values,
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
        for (incident_id, code), lv in sorted(work.area_levels.items()):
            published = self._open[incident_id].published_at if incident_id in self._open else None
            declared = work.area_declared.get((incident_id, code))
            extra = {"data": {"declared": int(declared)}} if declared is not None else {}
            conn.execute(
                update(t_links)
                .where(t_links.c.incident_id == incident_id, t_links.c.kind == "area", t_links.c.ref == code)
                .values(level=int(lv), since=published, updated_at=now, **extra)
            )
        for incident_id, (title_ko, title_en) in sorted(work.retitled.items()):
            conn.execute(
                update(t_incidents)
                .where(t_incidents.c.id == incident_id)
                .values(title_ko=title_ko, title_en=title_en)
            )
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
        for incident_id in sorted(work.added.keys() | work.backdated.keys() | work.retitled.keys()):
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
            if (title := work.retitled.get(incident_id)) is not None:
                payload.update(titleKo=title[0], titleEn=title[1])
            work.events.append((ev.INCIDENT_UPDATED, payload))

    def _district_events(self, work: Work, before: dict[tuple[str, str], tuple[Crisis, set[int]]]) -> None:
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
        work: Work,
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

    def _link(self, work: Work, inc: OpenIncident, kind: str, ref: str, what: str) -> bool:
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

    @staticmethod
    def _opened_text(title_ko: str, title_en: str, rule_id: str) -> tuple[str, str]:
        return f"사건 감지: {title_ko} (규칙 {rule_id})", f"Incident detected: {title_en} (rule {rule_id})"

    def _flush_backdated(self, conn: Connection, work: Work) -> None:
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
        work: Work,
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
        if target in TERMINAL:  # a closed incident holds no condition: the next firing opens a new one
            conn.execute(
                update(t_links)
                .where(t_links.c.incident_id == incident_id, t_links.c.kind == "condition")
                .values(holds=False)
            )
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
