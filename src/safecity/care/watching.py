# SPDX-License-Identifier: Apache-2.0
"""The care operations that watch over a person as things happen: safe return home (trips, SOS) and
the heat/cold check-ins. Mixed into :class:`safecity.care.service.Care`, which owns the entitlement
and the audit they use; the decisions themselves live in :mod:`.trips` and :mod:`.checkins`."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, select

from safecity.bus.port import Bus
from safecity.care import consent, records
from safecity.care.checkins import AnswerIn, CheckIns
from safecity.care.entitlement import is_operator
from safecity.care.law import cite
from safecity.care.model import Actor, Device, Fix, IngestResult, Position, Purpose
from safecity.care.settings import CareSettings
from safecity.care.tables import guardians, people, positions
from safecity.care.trips import PROBLEMS, Trip, TripIn, Trips
from safecity.care.trips import State as TripState
from safecity.core.clock import Clock
from safecity.core.errors import BadRequest, Forbidden
from safecity.store import Store

if TYPE_CHECKING:
    from collections.abc import Sequence


class Watching:
    store: Store
    clock: Clock
    bus: Bus
    settings: CareSettings
    trips: Trips
    checkins: CheckIns

    def _entitled(
        self, conn: Connection, person_id: int, actor: Actor, *, positions: bool, withdraw: bool = False
    ) -> str:
        raise NotImplementedError

    def _audit(self, actor: Actor, action: str, target: str, details: dict[str, Any]) -> None:
        raise NotImplementedError

    def ingest(self, device: Device, fixes: Sequence[Fix]) -> IngestResult:
        raise NotImplementedError

    # -- safe return home -------------------------------------------------------------------------
    def start_trip(self, person_id: int, body: TripIn, actor: Actor) -> Trip:
        """A guardian (for their own people), an operator, or the person's tracker starts a trip.
        Without ``originLon/Lat`` it starts from the latest position (a recorded *use*)."""
        now = self.clock.now()
        with self.store.write() as conn:
            self._entitled(conn, person_id, actor, positions=False, withdraw=True)
            if not consent.active(conn, person_id, Purpose.location):
                raise Forbidden(
                    f"person {person_id} has no active location consent: no trip is watched ({cite('LIA-15')})",
                    message_ko=f"위치정보 수집 동의가 없어 귀가를 지켜볼 수 없습니다 ({cite('LIA-15')})",
                )
            if body.origin_lon is not None and body.origin_lat is not None:
                origin = (body.origin_lon, body.origin_lat)
            else:
                row = conn.execute(
                    select(positions.c.lon, positions.c.lat, positions.c.at)
                    .where(positions.c.person_id == person_id)
                    .order_by(positions.c.at.desc())
                    .limit(1)
                ).first()
                if row is None or now - row[2] > timedelta(minutes=10):
                    raise BadRequest(
                        "originLon: no position in the last 10 minutes; give originLon and originLat",
                        where="originLon",
                        message_ko="originLon: 최근 10분 안의 위치가 없습니다; 출발지(originLon, originLat)를 주십시오",
                    )
                origin = (float(row[0]), float(row[1]))
                latest = Position(person_id, 0, row[2], origin[0], origin[1], None, None, None)
                records.read(
                    conn, self.bus, person_id, now, "use", "system", "안심귀가 출발지 / trip origin", [latest]
                )
        trip = self.trips.start(person_id, body, origin, actor.name)
        self._audit(actor, "care.trip_started", f"care:person:{person_id}", {"trip": trip.id})
        return trip

    def trips_of(
        self, person_id: int, actor: Actor, trip_id: int | None = None
    ) -> list[tuple[Trip, TripState]]:
        """A person's trips (routes and last fixes: a read of positions, recorded and audited)."""
        found = [self.trips.get(person_id, trip_id)] if trip_id is not None else self.trips.of(person_id)
        with self.store.write() as conn:
            action = self._entitled(conn, person_id, actor, positions=True)
            purpose = actor.reason or "보호자 귀가 확인 / guardian checks the trip"
            records.read(conn, self.bus, person_id, self.clock.now(), action, actor.name, purpose, [])
        self._audit(
            actor,
            "personal.read",
            f"care:person:{person_id}:trips",
            {"count": len(found), "reason": actor.reason},
        )
        return found

    def escalated_trips(self, actor: Actor) -> list[dict[str, Any]]:
        """Operators: the trips passed to them, without positions (opening one is a recorded *use*
        with a reason, through :meth:`trips_of` and ``positions``)."""
        if not is_operator(actor):
            raise Forbidden("only operators see the escalated trips", message_ko="관제 요원만 볼 수 있습니다")
        found = self.trips.escalated()
        with self.store.engine.connect() as conn:
            names = {
                int(r[0]): str(r[1])
                for r in conn.execute(
                    select(people.c.id, people.c.name).where(people.c.id.in_([t.person_id for t, _ in found]))
                )
            }
        self._audit(
            actor, "personal.read", "care:trips:escalated", {"count": len(found), "reason": actor.reason}
        )
        return [
            {
                "tripId": t.id,
                "personId": t.person_id,
                "name": names.get(t.person_id, ""),
                "startedAt": t.started_at.isoformat(),
                "destination": t.dest_name,
                "incidentId": s.incident_id,
                "problems": [k for k in PROBLEMS if getattr(s, k, False)],
            }
            for t, s in found
        ]

    def end_trip(self, person_id: int, trip_id: int, actor: Actor) -> Trip:
        with self.store.engine.connect() as conn:
            self._entitled(conn, person_id, actor, positions=False, withdraw=True)
        trip = self.trips.end(person_id, trip_id)
        self._audit(actor, "care.trip_ended", f"care:person:{person_id}", {"trip": trip_id})
        return trip

    def acknowledge_trip(self, person_id: int, trip_id: int, actor: Actor) -> TripState:
        with self.store.engine.connect() as conn:
            self._entitled(conn, person_id, actor, positions=False, withdraw=True)
        state = self.trips.acknowledge(person_id, trip_id)
        self._audit(actor, "care.trip_acknowledged", f"care:person:{person_id}", {"trip": trip_id})
        return state

    def sos(self, device: Device, fix: Fix) -> dict[str, Any]:
        """The SOS button: the position is stored like any fix (refused without a location consent),
        then the guardians and the operators are alerted at once."""
        self.ingest(device, [fix])
        p = Position(device.person_id, device.id, fix.at, fix.lon, fix.lat, fix.accuracy_m, None, fix.battery)
        alert = self.trips.sos(device.person_id, p)
        return {"tripId": alert.trip_id, "incidentId": alert.incident_id}

    # -- heat/cold check-ins -----------------------------------------------------------------------
    def checkin_list(self, actor: Actor, open_only: bool = True) -> list[dict[str, Any]]:
        """The call list: operators see every task (audited), carers and guardians their own people's."""
        mine: list[int] | None = None
        if not is_operator(actor):
            with self.store.engine.connect() as conn:
                mine = list(
                    conn.execute(
                        select(guardians.c.person_id).where(guardians.c.username == actor.name)
                    ).scalars()
                )
        found = self.checkins.tasks(mine, open_only)
        self._audit(actor, "personal.read", "care:checkins", {"count": len(found), "reason": actor.reason})
        return found

    def answer_checkin(self, task_id: int, body: AnswerIn, actor: Actor) -> dict[str, Any]:
        task = self.checkins.task(task_id)
        with self.store.engine.connect() as conn:
            self._entitled(conn, task.person_id, actor, positions=False)
        done = self.checkins.answer(task_id, body, actor.name)
        self._audit(
            actor,
            "care.checkin_answered",
            f"care:person:{task.person_id}",
            {"task": task_id, "outcome": body.outcome},
        )
        return {
            "id": done.id,
            "status": done.status,
            "attempts": done.attempts,
            "outcome": done.outcome,
            "escalatedIncidentId": done.escalated_incident,
        }

    # -- child traffic safety --------------------------------------------------------------------------
    def safety_note(self, person_id: int, actor: Actor) -> dict[str, Any]:
        """The crash hotspots the person's usual routes (positions of the last two weeks) pass, with a
        note for the guardian (ko/en). Reads positions: recorded and audited like any read."""
        from safecity.care.zones import USUAL_DAYS, hotspots_on_route, note_text

        crossed, used = hotspots_on_route(self.store, self.clock, person_id)
        with self.store.write() as conn:
            action = self._entitled(conn, person_id, actor, positions=True)
            purpose = actor.reason or "보호자 안전 안내 / guardian safety note"
            records.read(conn, self.bus, person_id, self.clock.now(), action, actor.name, purpose, [])
        self._audit(actor, "personal.read", f"care:person:{person_id}:safety-note", {"positions": used})
        return {"personId": person_id, "days": USUAL_DAYS, "hotspots": crossed, "note": note_text(crossed)}
