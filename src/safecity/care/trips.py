# SPDX-License-Identifier: Apache-2.0
"""Safe return home (안심귀가): a person walks to a destination and the server watches each fix.

* **deviation**: the expected walking route is computed on the imported road network (evacuation's
  routing, ``Mode.walk``); each fix is map-matched to the network's streets (:mod:`.matching`: off
  the route when on another street than the route's, or far from every street and farther than
  ``trip_deviation_m`` from the route), and ``trip_deviation_fixes`` such fixes in a row raise
  ``deviation`` (one fix off is GPS noise between tall buildings). Back on the route, a later
  excursion raises again.
* **stopped**: the fixes stay within ``trip_stop_radius_m`` of one point for ``trip_stop_s`` before the
  destination (once per stop).
* **late**: the clock passes the trip's due time (expected walking time × ``trip_late_factor`` +
  ``trip_late_margin_s``, or the time the guardian gave).
* **signal_lost**: no fix for ``trip_signal_lost_s`` (decided on the clock: :meth:`Trips.tick`).
* **arrived**: a fix within ``trip_arrive_m`` of the destination ends the trip.
* **sos**: the person's button (``/tracking/sos``, OsmAnd ``alarm=sos``, MQTT ``…/sos``), trip or not.

Escalation: a trip's first alert goes to the guardians (``care.TripAlert``, ``escalation=guardian``).
When no guardian acknowledges it within ``trip_escalate_after_s``, :meth:`Trips.tick` escalates to the
operators: an incident is opened through the situation capability's public API (``open_manual``, the
same chain every incident takes to the board and to warnings) and ``escalated`` is published with its
id. An SOS opens the incident at once. The decisions are pure functions (:func:`step`, :func:`settle`)
over a :class:`State` kept in ``care_trips.state``, written in the alert's transaction.

Geometry: distances in a local equirectangular projection around the trip's origin
(:class:`.matching.Local`, metres; below a few centimetres of error over the length of a walk home).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import shapely
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.alias_generators import to_camel
from shapely.geometry import LineString, Point
from sqlalchemy import Connection, delete, insert, select, update

from safecity.bus.port import Bus
from safecity.care.events import TripAlert
from safecity.care.matching import Local, Streets, StreetSource
from safecity.care.model import Position
from safecity.care.settings import CareSettings
from safecity.care.tables import alerts, trips
from safecity.core.clock import Clock
from safecity.core.errors import Conflict, NotFound
from safecity.store import Store

#: A fix less accurate than this (metres) says nothing about which street the person is on.
MAX_ACCURACY_M = 150.0
ACTIVE, ARRIVED, ENDED = "active", "arrived", "ended"
#: Kinds that need someone to act (``arrived`` is news, not a problem).
PROBLEMS = ("deviation", "stopped", "late", "signal_lost", "sos")

#: Plans a walking route: (origin, destination) lon/lat → (WGS84 line, metres, seconds), or None when
#: there is no road network, or the points are off it (the trip is then watched without deviation).
RoutePlanner = Callable[[tuple[float, float], tuple[float, float]], tuple[LineString, float, float] | None]
#: Opens an operator incident: (title_ko, title_en, lon, lat, level, note) → incident id.
IncidentOpener = Callable[[str, str, float, float, int, str], int]


class TripIn(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")
    dest_lon: float = Field(ge=-180, le=180)
    dest_lat: float = Field(ge=-90, le=90)
    dest_name: str = Field("집 / home", min_length=1, max_length=80)
    origin_lon: float | None = Field(None, ge=-180, le=180, description="Default: the latest position")
    origin_lat: float | None = Field(None, ge=-90, le=90)
    due_at: datetime | None = Field(None, description="Expected arrival; default: from the route's time")

    @field_validator("due_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("needs a time zone, e.g. 2026-05-05T18:30:00+09:00")
        return value

    @model_validator(mode="after")
    def _origin(self) -> TripIn:
        if (self.origin_lon is None) != (self.origin_lat is None):
            raise ValueError("originLon and originLat go together")
        return self


@dataclass(frozen=True)
class Trip:
    id: int
    person_id: int
    started_by: str
    started_at: datetime
    origin: tuple[float, float]
    dest: tuple[float, float]
    dest_name: str
    route: LineString | None
    distance_m: float | None
    expected_s: float | None
    due_at: datetime
    status: str

    def public(self, state: State | None = None) -> dict[str, Any]:
        s = state or State()
        return {
            "id": self.id,
            "personId": self.person_id,
            "startedBy": self.started_by,
            "startedAt": self.started_at.isoformat(),
            "origin": {"lon": self.origin[0], "lat": self.origin[1]},
            "destination": {"lon": self.dest[0], "lat": self.dest[1], "name": self.dest_name},
            "route": None
            if self.route is None
            else {"type": "LineString", "coordinates": [list(c) for c in self.route.coords]},
            "distanceM": self.distance_m,
            "expectedS": self.expected_s,
            "dueAt": self.due_at.isoformat(),
            "status": self.status,
            "watching": ["stopped", "late", "signal_lost", "arrived"]
            + (["deviation"] if self.route is not None else []),
            "last": None
            if s.last_at is None
            else {"at": s.last_at.isoformat(), "lon": s.last_lon, "lat": s.last_lat},
            "offRouteM": s.off_route_m,
            "raised": [k for k in PROBLEMS if getattr(s, k, False)],
            "escalation": "operator" if s.escalated else ("guardian" if s.alerted_at else None),
            "incidentId": s.incident_id,
            "acknowledged": s.acked,
        }


@dataclass(frozen=True)
class State:
    last_at: datetime | None = None
    last_lon: float | None = None
    last_lat: float | None = None
    off_route: int = 0  # consecutive fixes beyond the deviation distance
    off_route_m: float | None = None
    deviation: bool = False
    still_at: datetime | None = None  # the first fix of the current stationary cluster
    still_lon: float | None = None
    still_lat: float | None = None
    stopped: bool = False
    late: bool = False
    signal_lost: bool = False
    sos: bool = False
    alerted_at: datetime | None = None  # the guardians were told; escalation counts from here
    acked: bool = False
    escalated: bool = False  # the operators were told (an incident, when situation is there)
    incident_id: int | None = None


@dataclass(frozen=True)
class Alert:
    person_id: int
    trip_id: int | None
    kind: str
    at: datetime
    lon: float | None
    lat: float | None
    escalation: str = "guardian"
    incident_id: int | None = None


def step(
    trip: Trip,
    s: State,
    fix: Position,
    cfg: CareSettings,
    local: Local,
    route_m: LineString | None,
    streets: Streets | None = None,
) -> tuple[State, list[Alert], bool]:
    """One fix through an active trip (pure). Returns the new state, the alerts and whether it arrived."""
    if fix.at < trip.started_at or (s.last_at is not None and fix.at <= s.last_at):
        return s, [], False  # before the trip, late or repeated: history, not state
    if fix.accuracy_m is not None and fix.accuracy_m > MAX_ACCURACY_M:
        return s, [], False
    here = (fix.lon, fix.lat)
    out: list[Alert] = []

    def alert(kind: str) -> Alert:
        return Alert(trip.person_id, trip.id, kind, fix.at, fix.lon, fix.lat)

    s = replace(s, last_at=fix.at, last_lon=fix.lon, last_lat=fix.lat, signal_lost=False)
    if local.dist(here, trip.dest) <= cfg.trip_arrive_m:
        return s, [alert("arrived")], True
    if route_m is not None:
        p = Point(local.xy(*here))
        off = float(route_m.distance(p))
        away = off > cfg.trip_deviation_m
        if streets is not None:  # map-matched (safecity.care.matching)
            away = streets.off_route(p, off, cfg.trip_deviation_m, fix.accuracy_m)
        if away:
            s = replace(s, off_route=s.off_route + 1, off_route_m=round(off, 1))
            if s.off_route >= cfg.trip_deviation_fixes and not s.deviation:
                s = replace(s, deviation=True)
                out.append(alert("deviation"))
        else:
            s = replace(s, off_route=0, off_route_m=round(off, 1), deviation=False)
    if (
        s.still_at is None
        or s.still_lon is None
        or s.still_lat is None
        or local.dist(here, (s.still_lon, s.still_lat)) > cfg.trip_stop_radius_m
    ):
        s = replace(s, still_at=fix.at, still_lon=fix.lon, still_lat=fix.lat, stopped=False)
    elif (fix.at - s.still_at).total_seconds() >= cfg.trip_stop_s and not s.stopped:
        s = replace(s, stopped=True)
        out.append(alert("stopped"))
    return s, out, False


def settle(trip: Trip, s: State, now: datetime, cfg: CareSettings) -> tuple[State, list[Alert], bool]:
    """What the clock decides (pure): late, signal lost, and whether to escalate to the operators."""
    out: list[Alert] = []
    if now >= trip.due_at and not s.late:
        s = replace(s, late=True)
        out.append(Alert(trip.person_id, trip.id, "late", now, s.last_lon, s.last_lat))
    heard = s.last_at or trip.started_at
    if (now - heard).total_seconds() >= cfg.trip_signal_lost_s and not s.signal_lost:
        s = replace(s, signal_lost=True)
        out.append(Alert(trip.person_id, trip.id, "signal_lost", heard, s.last_lon, s.last_lat))
    escalate = (
        s.alerted_at is not None
        and not s.acked
        and not s.escalated
        and (now - s.alerted_at).total_seconds() >= cfg.trip_escalate_after_s
    )
    return s, out, escalate


@dataclass
class _Live:
    trip: Trip
    state: State
    local: Local
    route_m: LineString | None
    streets: Streets | None = None


class Trips:
    """Active trips in memory (loaded once, written through to ``care_trips``)."""

    def __init__(self, store: Store, clock: Clock, bus: Bus, settings: CareSettings) -> None:
        self.store = store
        self.clock = clock
        self.bus = bus
        self.settings = settings
        self.planner: RoutePlanner | None = None
        #: the road network's walkable streets, for map-matched deviation (safecity.care.matching)
        self.streets: StreetSource | None = None
        self.open_incident: IncidentOpener | None = None
        self._lock = threading.RLock()
        self._active: dict[int, _Live] | None = None  # trip id → live trip

    # -- starting and ending ---------------------------------------------------------------------
    def start(self, person_id: int, body: TripIn, origin: tuple[float, float], actor: str) -> Trip:
        now = self.clock.now()
        dest = (body.dest_lon, body.dest_lat)
        planned = self.planner(origin, dest) if self.planner is not None else None
        route, distance, expected = planned if planned is not None else (None, None, None)
        if expected is None:
            # no route: a straight line at a slow walk (1 m/s) gives the due time
            expected = Local(*origin).dist(origin, dest) * 1.4
        due = body.due_at or now + timedelta(
            seconds=expected * self.settings.trip_late_factor + self.settings.trip_late_margin_s
        )
        with self._lock, self.store.write() as conn:
            if any(t.trip.person_id == person_id for t in self._load().values()):
                raise Conflict(
                    f"person {person_id} already has an active trip: end it first",
                    message_ko="이미 진행 중인 귀가가 있습니다: 먼저 종료하십시오",
                )
            tid = int(
                conn.execute(
                    insert(trips)
                    .values(
                        person_id=person_id,
                        started_by=actor,
                        started_at=now,
                        origin_lon=origin[0],
                        origin_lat=origin[1],
                        dest_lon=dest[0],
                        dest_lat=dest[1],
                        dest_name=body.dest_name,
                        route_wkt=None if route is None else route.wkt,
                        distance_m=distance,
                        expected_s=expected,
                        due_at=due,
                        status=ACTIVE,
                        state=_state_json(State()),
                    )
                    .returning(trips.c.id)
                ).scalar_one()
            )
            trip = Trip(
                tid,
                person_id,
                actor,
                now,
                origin,
                dest,
                body.dest_name,
                route,
                distance,
                expected,
                due,
                ACTIVE,
            )
            self._load()[tid] = _live(trip, State(), self.streets)
        return trip

    def end(self, person_id: int, trip_id: int) -> Trip:
        trip, _ = self.get(person_id, trip_id)
        with self._lock, self.store.write() as conn:
            conn.execute(
                update(trips)
                .where(trips.c.id == trip_id)
                .values(status=ENDED if trip.status == ACTIVE else trip.status, ended_at=self.clock.now())
            )
            self._load().pop(trip_id, None)
        return self.get(person_id, trip_id)[0]

    def acknowledge(self, person_id: int, trip_id: int) -> State:
        """A guardian has seen the alert and is acting: no escalation for it (a later alert starts again)."""
        self.get(person_id, trip_id)
        with self._lock:
            live = self._load().get(trip_id)
            if live is None:
                raise Conflict(f"trip {trip_id} is not active", where="trip_id")
            live.state = replace(live.state, acked=True)
            with self.store.write() as conn:
                self._save(conn, live)
            return live.state

    def get(self, person_id: int, trip_id: int) -> tuple[Trip, State]:
        with self.store.engine.connect() as conn:
            row = (
                conn.execute(select(trips).where(trips.c.id == trip_id, trips.c.person_id == person_id))
                .mappings()
                .first()
            )
        if row is None:
            raise NotFound(f"person {person_id} has no trip {trip_id}", where="trip_id")
        return _trip(row), _state(row["state"])

    def of(self, person_id: int, limit: int = 50) -> list[tuple[Trip, State]]:
        q = select(trips).where(trips.c.person_id == person_id).order_by(trips.c.id.desc()).limit(limit)
        with self.store.engine.connect() as conn:
            return [(_trip(r), _state(r["state"])) for r in conn.execute(q).mappings()]

    def escalated(self) -> list[tuple[Trip, State]]:
        """Active trips passed to the operators (an incident was opened), newest first."""
        with self._lock:
            live = [(v.trip, v.state) for v in self._load().values() if v.state.escalated]
        return sorted(live, key=lambda ts: ts[0].id, reverse=True)

    def active_of(self, person_id: int) -> Trip | None:
        with self._lock:
            for live in self._load().values():
                if live.trip.person_id == person_id:
                    return live.trip
        return None

    def forget(self, conn: Connection, person_id: int) -> None:
        """A location consent was withdrawn: the trips (they hold positions and routes) go."""
        conn.execute(delete(trips).where(trips.c.person_id == person_id))
        with self._lock:
            active = self._load()
            for tid in [t for t, live in active.items() if live.trip.person_id == person_id]:
                del active[tid]

    # -- watching --------------------------------------------------------------------------------
    def on_fixes(self, fixes: Sequence[Position]) -> list[Alert]:
        raised: list[Alert] = []
        with self._lock:
            active = self._load()
            if not active:
                return raised
            by_person = {live.trip.person_id: live for live in active.values()}
            touched: dict[int, _Live] = {}
            arrived: set[int] = set()
            for fix in fixes:
                live = by_person.get(fix.person_id)
                if live is None or live.trip.id in arrived:
                    continue
                new, out, done = step(
                    live.trip, live.state, fix, self.settings, live.local, live.route_m, live.streets
                )
                if new != live.state:
                    live.state = new
                    touched[live.trip.id] = live
                raised.extend(out)
                if done:
                    arrived.add(live.trip.id)
            if touched or raised:
                self._commit(touched, raised, arrived, [])
        return raised

    def tick(self, now: datetime | None = None) -> list[Alert]:
        now = now or self.clock.now()
        raised: list[Alert] = []
        with self._lock:
            touched: dict[int, _Live] = {}
            escalate: list[_Live] = []
            for live in self._load().values():
                new, out, up = settle(live.trip, live.state, now, self.settings)
                if new != live.state:
                    live.state = new
                    touched[live.trip.id] = live
                raised.extend(out)
                if up:
                    escalate.append(live)
            if touched or raised or escalate:
                self._commit(touched, raised, set(), escalate)
        return raised

    def sos(self, person_id: int, fix: Position) -> Alert:
        """The person pressed SOS: the guardians and the operators at once (an incident opens)."""
        now = self.clock.now()
        lon, lat = fix.lon, fix.lat
        with self._lock:
            live = next((v for v in self._load().values() if v.trip.person_id == person_id), None)
            incident = self._incident(person_id, live.trip if live else None, "sos", lon, lat, level=3)
            alert = Alert(
                person_id,
                live.trip.id if live else None,
                "sos",
                fix.at if fix else now,
                lon,
                lat,
                "operator",
                incident,
            )
            touched: dict[int, _Live] = {}
            if live is not None:
                live.state = replace(
                    live.state,
                    sos=True,
                    alerted_at=live.state.alerted_at or now,
                    escalated=True,
                    incident_id=live.state.incident_id or incident,
                )
                touched[live.trip.id] = live
            self._commit(touched, [alert], set(), [])
        return alert

    def _incident(
        self, person_id: int, trip: Trip | None, kind: str, lon: float | None, lat: float | None, level: int
    ) -> int | None:
        if self.open_incident is None:
            return None
        if lon is None or lat is None:
            if trip is None:
                return None
            lon, lat = trip.dest  # no fix heard yet: the incident is placed where the walk ends
        trip_id = trip.id if trip else None
        what_ko, what_en = KIND_TEXT[kind]
        # the incident names the person by id only: the board is for operators, who look the person
        # up (a recorded use) when they act
        title_ko = f"안심귀가 {what_ko}: 보호 대상자 #{person_id}"
        title_en = f"Safe return home {what_en}: protected person #{person_id}"
        note = f"care person {person_id}" + (f" trip {trip_id}" if trip_id else "")
        return self.open_incident(title_ko, title_en, lon, lat, level, note)

    def _commit(
        self, touched: dict[int, _Live], raised: list[Alert], arrived: set[int], escalate: list[_Live]
    ) -> None:
        now = self.clock.now()
        out = list(raised)
        for live in escalate:
            s = live.state
            kind = next((k for k in PROBLEMS if getattr(s, k)), "late")
            incident = self._incident(live.trip.person_id, live.trip, kind, s.last_lon, s.last_lat, level=2)
            live.state = replace(s, escalated=True, incident_id=incident)
            touched[live.trip.id] = live
            out.append(
                Alert(
                    live.trip.person_id,
                    live.trip.id,
                    "escalated",
                    now,
                    s.last_lon,
                    s.last_lat,
                    "operator",
                    incident,
                )
            )
        for a in raised:
            told = self._load().get(a.trip_id or 0)
            # a first problem, or a new one after the guardian acknowledged: the escalation clock starts
            if (
                told is not None
                and a.kind in PROBLEMS
                and (told.state.alerted_at is None or told.state.acked)
            ):
                told.state = replace(told.state, alerted_at=now, acked=False)
                touched[told.trip.id] = told
        with self.store.write() as conn:
            for live in touched.values():
                self._save(conn, live, ARRIVED if live.trip.id in arrived else None)
            for a in out:
                conn.execute(
                    insert(alerts).values(
                        person_id=a.person_id,
                        fence_id=None,
                        trip_id=a.trip_id,
                        kind=a.kind,
                        at=a.at,
                        lon=a.lon,
                        lat=a.lat,
                        raised_at=now,
                    )
                )
                self.bus.publish(
                    conn,
                    TripAlert(
                        person_id=a.person_id,
                        trip_id=a.trip_id,
                        kind=a.kind,
                        at=a.at,
                        lon=a.lon,
                        lat=a.lat,
                        escalation=a.escalation,
                        incident_id=a.incident_id,
                    ),
                )
        for tid in arrived:
            self._load().pop(tid, None)

    def _save(self, conn: Connection, live: _Live, status: str | None = None) -> None:
        values: dict[str, Any] = {"state": _state_json(live.state)}
        if status is not None:
            values.update(status=status, ended_at=self.clock.now())
        conn.execute(update(trips).where(trips.c.id == live.trip.id).values(**values))

    def _load(self) -> dict[int, _Live]:
        if self._active is None:
            with self.store.engine.connect() as conn:
                rows = conn.execute(select(trips).where(trips.c.status == ACTIVE)).mappings().all()
            self._active = {int(r["id"]): _live(_trip(r), _state(r["state"]), self.streets) for r in rows}
        return self._active


KIND_TEXT = {
    "deviation": ("경로 이탈", "route deviation"),
    "stopped": ("장시간 정지", "unexpected stop"),
    "late": ("도착 지연", "late arrival"),
    "signal_lost": ("신호 끊김", "signal lost"),
    "sos": ("긴급 호출(SOS)", "SOS"),
}


def _live(trip: Trip, state: State, source: StreetSource | None = None) -> _Live:
    local = Local(*trip.origin)
    route_m = None if trip.route is None else local.line(trip.route)
    streets = None
    if route_m is not None and trip.route is not None:
        shapely.prepare(route_m)
        streets = Streets.for_route(local, trip.route, route_m, source)
    return _Live(trip, state, local, route_m, streets)


def _trip(r: Any) -> Trip:
    return Trip(
        int(r["id"]),
        int(r["person_id"]),
        r["started_by"],
        r["started_at"],
        (r["origin_lon"], r["origin_lat"]),
        (r["dest_lon"], r["dest_lat"]),
        r["dest_name"],
        None if r["route_wkt"] is None else shapely.from_wkt(r["route_wkt"]),
        r["distance_m"],
        r["expected_s"],
        r["due_at"],
        r["status"],
    )


_TIMES = ("last_at", "still_at", "alerted_at")


def _state_json(s: State) -> dict[str, Any]:
    d = asdict(s)
    for k in _TIMES:
        d[k] = d[k].isoformat() if d[k] is not None else None
    return d


def _state(d: dict[str, Any] | None) -> State:
    if not d:
        return State()
    values = dict(d)
    for k in _TIMES:
        values[k] = datetime.fromisoformat(values[k]) if values.get(k) else None
    return State(**{k: v for k, v in values.items() if k in State.__dataclass_fields__})
