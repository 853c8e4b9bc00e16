# SPDX-License-Identifier: Apache-2.0
"""Heat-wave and cold-wave check-ins (폭염·한파 안부 확인) for elderly people living alone.

When the situation capability opens an incident whose hazard is ``heat_wave`` or ``cold_wave`` (a rule
on the temperature stations, or an operator), every registered elderly person living alone gets one
check-in task for that incident (idempotent: the bus delivers at least once). Their carers and
guardians see the call list (name, who to call and their phone, the guidance to read out, ko/en, from
``data/checkin.toml``) and record each call: ``ok``, ``need_help`` (escalated at once) or ``no_answer``
(escalated after ``attempts_before_escalation`` calls). A task nobody answered within the answer window
is escalated by the clock (:meth:`CheckIns.tick`). Escalation opens an operator incident through the
situation capability (the same chain as the trips') and publishes ``care.CheckInEscalated``.
"""

from __future__ import annotations

import threading
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel
from sqlalchemy import insert, select, update

from safecity.bus.port import Bus
from safecity.care.events import CheckInEscalated, CheckInsOpened
from safecity.care.model import PersonKind
from safecity.care.tables import checkins, guardians, people
from safecity.core.clock import Clock
from safecity.core.errors import Conflict, NotFound
from safecity.store import Store

HAZARDS = ("heat_wave", "cold_wave")
DATA = Path(__file__).with_name("data") / "checkin.toml"
#: Opens an operator incident: (hazard, title_ko, title_en, lon, lat, districts, level, note) → its id.
Opener = Callable[[str, str, str, float | None, float | None, list[str], int, str], int]


@cache
def guidance() -> dict[str, Any]:
    with DATA.open("rb") as f:
        return tomllib.load(f)


class AnswerIn(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")
    outcome: str = Field(pattern="^(ok|need_help|no_answer)$", description="What the call found")
    note: str | None = Field(None, max_length=500)


@dataclass(frozen=True)
class Task:
    id: int
    person_id: int
    incident_id: int
    hazard: str
    opened_at: datetime
    due_at: datetime
    status: str  # open | done | escalated
    attempts: int
    outcome: str | None
    escalated_incident: int | None


class CheckIns:
    def __init__(self, store: Store, clock: Clock, bus: Bus) -> None:
        self.store = store
        self.clock = clock
        self.bus = bus
        self.open_incident: Opener | None = None
        self._lock = threading.Lock()

    def on_incident(self, incident_id: int, hazard: str, areas: list[str]) -> int:
        """A heat or cold incident opened: a task per elderly person living alone; returns how many
        were opened now (0 for a repeated delivery)."""
        if hazard not in HAZARDS:
            return 0
        now = self.clock.now()
        due = now + timedelta(seconds=float(guidance()["answer_window_s"]))
        opened = 0
        with self._lock, self.store.write() as conn:
            alone = conn.execute(
                select(people.c.id)
                .where(people.c.kind == PersonKind.elderly_alone.value)
                .order_by(people.c.id)
            ).scalars()
            have = set(
                conn.execute(
                    select(checkins.c.person_id).where(checkins.c.incident_id == incident_id)
                ).scalars()
            )
            for pid in alone:
                if pid in have:
                    continue
                conn.execute(
                    insert(checkins).values(
                        person_id=pid,
                        incident_id=incident_id,
                        hazard=hazard,
                        areas=[a for a in areas if len(a) == 5 and a.isdigit()],
                        opened_at=now,
                        due_at=due,
                        status="open",
                        attempts=0,
                    )
                )
                opened += 1
            if opened:
                self.bus.publish(conn, CheckInsOpened(incident_id=incident_id, hazard=hazard, tasks=opened))
        return opened

    def tasks(self, person_ids: list[int] | None, open_only: bool = True) -> list[dict[str, Any]]:
        """The call list: tasks with the person, who to call and the guidance (``None``: everyone)."""
        q = select(checkins, people.c.name, people.c.kind).join(people, people.c.id == checkins.c.person_id)
        if person_ids is not None:
            q = q.where(checkins.c.person_id.in_(person_ids))
        if open_only:
            q = q.where(checkins.c.status == "open")
        q = q.order_by(checkins.c.due_at, checkins.c.id)
        g = guidance()
        with self.store.engine.connect() as conn:
            rows = conn.execute(q).mappings().all()
            contacts: dict[int, list[dict[str, Any]]] = {}
            ids = list({r["person_id"] for r in rows})
            for c in conn.execute(select(guardians).where(guardians.c.person_id.in_(ids))).mappings():
                contacts.setdefault(c["person_id"], []).append(
                    {
                        "username": c["username"],
                        "relation": c["relation"],
                        "kind": c["kind"],
                        "phone": c["phone"],
                    }
                )
        return [
            {
                "id": r["id"],
                "personId": r["person_id"],
                "name": r["name"],
                "incidentId": r["incident_id"],
                "hazard": r["hazard"],
                "openedAt": r["opened_at"].isoformat(),
                "dueAt": r["due_at"].isoformat(),
                "status": r["status"],
                "attempts": r["attempts"],
                "outcome": r["outcome"],
                "escalatedIncidentId": r["escalated_incident"],
                "contacts": contacts.get(r["person_id"], []),
                "guidance": {
                    "ko": g[r["hazard"]]["ko"],
                    "en": g[r["hazard"]]["en"],
                    "source": g[r["hazard"]]["source"],
                },
            }
            for r in rows
        ]

    def task(self, task_id: int) -> Task:
        with self.store.engine.connect() as conn:
            row = conn.execute(select(checkins).where(checkins.c.id == task_id)).mappings().first()
        if row is None:
            raise NotFound(f"check-in {task_id} does not exist", where="task_id")
        return _task(row)

    def answer(self, task_id: int, body: AnswerIn, actor: str) -> Task:
        now = self.clock.now()
        with self._lock:
            t = self.task(task_id)
            if t.status != "open":
                raise Conflict(f"check-in {task_id} is already {t.status}", where="task_id")
            attempts = t.attempts + (1 if body.outcome == "no_answer" else 0)
            status = "done" if body.outcome == "ok" else "open"
            with self.store.write() as conn:
                conn.execute(
                    update(checkins)
                    .where(checkins.c.id == task_id)
                    .values(
                        status=status,
                        attempts=attempts,
                        outcome=body.outcome,
                        note=body.note,
                        answered_at=now,
                        answered_by=actor,
                    )
                )
            t = self.task(task_id)
            if body.outcome == "need_help" or attempts >= int(guidance()["attempts_before_escalation"]):
                self._escalate(t, body.outcome)
        return self.task(task_id)

    def tick(self, now: datetime | None = None) -> int:
        """Escalate the tasks nobody answered in the answer window."""
        now = now or self.clock.now()
        with self._lock:
            with self.store.engine.connect() as conn:
                due = [
                    _task(r)
                    for r in conn.execute(
                        select(checkins).where(checkins.c.status == "open", checkins.c.due_at <= now)
                    ).mappings()
                ]
            for t in due:
                self._escalate(t, "unanswered")
        return len(due)

    def _escalate(self, t: Task, reason: str) -> None:
        with self.store.engine.connect() as conn:
            p = conn.execute(select(people).where(people.c.id == t.person_id)).mappings().one()
            areas = conn.execute(select(checkins.c.areas).where(checkins.c.id == t.id)).scalar_one() or []
        incident = None
        if self.open_incident is not None and (p["home_lon"] is not None or areas):
            what = {
                "need_help": ("도움 필요", "needs help"),
                "no_answer": ("연락 안 됨", "not answering"),
                "unanswered": ("안부 미확인", "not checked on"),
            }[reason]
            hz = {"heat_wave": ("폭염", "heat wave"), "cold_wave": ("한파", "cold wave")}[t.hazard]
            # named by id only: the operators look the person up (a recorded read) when they act
            incident = self.open_incident(
                t.hazard,
                f"{hz[0]} 독거노인 {what[0]}: 보호 대상자 #{t.person_id}",
                f"{hz[1].capitalize()}: elderly person living alone {what[1]}, protected person #{t.person_id}",
                p["home_lon"],
                p["home_lat"],
                list(areas),
                3 if reason == "need_help" else 2,
                f"care check-in {t.id} (incident {t.incident_id})",
            )
        with self.store.write() as conn:
            conn.execute(
                update(checkins)
                .where(checkins.c.id == t.id)
                .values(status="escalated", escalated_incident=incident)
            )
            self.bus.publish(
                conn,
                CheckInEscalated(
                    person_id=t.person_id, task_id=t.id, hazard=t.hazard, reason=reason, incident_id=incident
                ),
            )


def _task(r: Any) -> Task:
    return Task(
        r["id"],
        r["person_id"],
        r["incident_id"],
        r["hazard"],
        r["opened_at"],
        r["due_at"],
        r["status"],
        r["attempts"],
        r["outcome"],
        r["escalated_incident"],
    )


__all__ = ["HAZARDS", "AnswerIn", "CheckIns", "guidance"]
