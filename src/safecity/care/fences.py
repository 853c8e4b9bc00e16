# SPDX-License-Identifier: Apache-2.0
"""Fences decided on the server from fixes, with what trackers' users ask for and phones get wrong.

* **enter / exit with a delay** (traccar#6019): a change of side is a *candidate* until it has held
  for ``delay_s`` (confirmed by a later fix, or by :meth:`Fences.tick` once the delay has passed with
  no fix contradicting it); the event carries the time of the first fix on the new side. A fix that
  jumps out and back within the delay (GPS noise) raises nothing.
* **dwell**: inside continuously for ``dwell_s`` (time spent inside), once per stay.
* **should be inside / outside on a weekly schedule** (traccar#3897): windows in Asia/Seoul time
  ("home 21:00-07:00 every day", "school Mon-Fri 09:00-15:00"); a *violation* is raised once per
  window while the confirmed side is the wrong one.
* **crossings between sparse fixes**: two fixes both outside whose segment passes through the fence
  raise *crossed* (a child who walked through the school gate between two fixes 5 minutes apart).
* **no false enter** when a fence is drawn around someone already inside: a fence's first fix sets its
  side without an event.
* **late and out-of-order fixes** (OwnTracks users' complaint about phones): a fix older than the last
  one a fence has seen is kept in the history but does not move the fence's state.
* **state survives restarts**: ``care_fence_state`` is written whenever a fence's decision changes
  (side, pending change, dwell/violation raised), in the same transaction as the alert it raises.

Geometry: fences are WGS84 polygons (a circle is stored as its 64-gon). Sides and crossings are tested
in degrees with shapely 2 (planar): at a city's scale and for fences of tens to hundreds of metres the
error is a few centimetres, below any GPS fix's accuracy.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, time, timedelta
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo

import shapely
from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel
from shapely.geometry import LineString, Polygon
from sqlalchemy import Connection, delete, insert, select

from safecity.bus.port import Bus
from safecity.care.events import FenceAlert
from safecity.care.model import Position
from safecity.care.tables import alerts, fence_state, fences
from safecity.core.clock import Clock
from safecity.core.errors import NotFound
from safecity.store import Store

SEOUL = ZoneInfo("Asia/Seoul")
EARTH_M = 6_371_008.8
#: A fix less accurate than this (metres) does not move a fence (a cell-tower fix 1 km off would
#: make a child "leave" home). Fences smaller than the accuracy are not decidable from such fixes.
MAX_ACCURACY_M = 150.0


class Window(BaseModel):
    """A weekly window in Seoul time; ``end`` before ``start`` runs past midnight into the next day."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")
    days: list[int] = Field(min_length=1, description="0 = Monday ... 6 = Sunday (the day it starts)")
    start: time
    end: time

    @model_validator(mode="after")
    def _days(self) -> Window:
        if any(d < 0 or d > 6 for d in self.days):
            raise ValueError("days: 0 (Monday) to 6 (Sunday)")
        return self

    def holds(self, at: datetime) -> bool:
        local = at.astimezone(SEOUL)
        t = local.time()
        if self.start <= self.end:
            return local.weekday() in self.days and self.start <= t < self.end
        # overnight: from start on a listed day until end on the next day
        return (local.weekday() in self.days and t >= self.start) or (
            (local.weekday() - 1) % 7 in self.days and t < self.end
        )


class FenceIn(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")
    name: str = Field(min_length=1, max_length=80)
    center_lon: float | None = Field(None, ge=-180, le=180)
    center_lat: float | None = Field(None, ge=-90, le=90)
    radius_m: float | None = Field(None, gt=5, le=50_000)
    polygon: list[tuple[float, float]] | None = Field(None, description="[[lon, lat], ...] (WGS84)")
    delay_s: float = Field(60.0, ge=0, le=3600, description="How long a new side must hold (traccar#6019)")
    dwell_s: float | None = Field(None, gt=0, description="Raise 'dwell' after this long inside")
    rule: str = Field("watch", pattern="^(watch|inside|outside)$")
    schedule: list[Window] = Field(default_factory=list, description="When 'inside'/'outside' applies")

    @model_validator(mode="after")
    def _shape(self) -> FenceIn:
        circle = self.center_lon is not None and self.center_lat is not None and self.radius_m is not None
        if circle == (self.polygon is not None):
            raise ValueError("give either centerLon, centerLat and radiusM, or polygon")
        if self.polygon is not None and (len(self.polygon) < 3 or not Polygon(self.polygon).is_valid):
            raise ValueError("polygon: at least 3 [lon, lat] points forming a valid ring")
        if self.rule != "watch" and not self.schedule:
            raise ValueError("schedule: an 'inside' or 'outside' rule needs its weekly windows")
        return self

    def geometry(self) -> Polygon:
        if self.polygon is not None:
            return Polygon(self.polygon)
        assert self.center_lon is not None and self.center_lat is not None and self.radius_m is not None
        return circle(self.center_lon, self.center_lat, self.radius_m)


def circle(lon: float, lat: float, radius_m: float, sides: int = 64) -> Polygon:
    """A circle as a WGS84 polygon (local equirectangular projection: exact enough below 50 km)."""
    dlat = math.degrees(radius_m / EARTH_M)
    dlon = dlat / math.cos(math.radians(lat))
    return Polygon(
        [
            (lon + dlon * math.cos(2 * math.pi * k / sides), lat + dlat * math.sin(2 * math.pi * k / sides))
            for k in range(sides)
        ]
    )


@dataclass(frozen=True)
class Fence:
    id: int
    person_id: int
    name: str
    shape: Polygon
    delay_s: float
    dwell_s: float | None
    rule: str
    schedule: tuple[Window, ...]

    def __post_init__(self) -> None:
        shapely.prepare(self.shape)

    @cached_property
    def bounds(self) -> tuple[float, float, float, float]:
        x0, y0, x1, y1 = self.shape.bounds
        return (float(x0), float(y0), float(x1), float(y1))

    def contains(self, lon: float, lat: float) -> bool:
        return bool(shapely.contains_xy(self.shape, lon, lat))

    def applies(self, at: datetime) -> bool:
        return any(w.holds(at) for w in self.schedule)


@dataclass(frozen=True)
class State:
    """A fence's state for its person: the confirmed side, a candidate change, what was raised."""

    inside: bool | None = None  # None: no fix seen yet
    since: datetime | None = None  # when the confirmed side began
    last_at: datetime | None = None  # the newest fix this fence has used
    last_lon: float | None = None
    last_lat: float | None = None
    candidate: bool | None = None  # the side a recent fix is on, when it differs from ``inside``
    candidate_at: datetime | None = None
    dwell_raised: bool = False
    violation_raised: bool = False


_UNKNOWN = State()
#: built once (a statement built per alert cost more in SQLAlchemy than in the database)
_INSERT_ALERT = insert(alerts)


@dataclass(frozen=True)
class Alert:
    person_id: int
    fence_id: int
    fence: str
    kind: str  # enter | exit | dwell | crossed | violation
    at: datetime
    lon: float | None
    lat: float | None


@dataclass
class _Person:
    fences: list[Fence] = field(default_factory=list)
    states: dict[int, State] = field(default_factory=dict)


class Fences:
    """Fence state for every tracked person, in memory, written through to ``care_fence_state``."""

    def __init__(self, store: Store, clock: Clock, bus: Bus) -> None:
        self.store = store
        self.clock = clock
        self.bus = bus
        self._lock = threading.Lock()
        self._people: dict[int, _Person] | None = None
        self._upsert: Any = None

    # -- definitions ---------------------------------------------------------------------------
    def add(self, person_id: int, body: FenceIn) -> Fence:
        shape = body.geometry()
        with self.store.write() as conn:
            fid = int(
                conn.execute(
                    insert(fences)
                    .values(
                        person_id=person_id,
                        name=body.name,
                        wkt=shape.wkt,
                        delay_s=body.delay_s,
                        dwell_s=body.dwell_s,
                        rule=body.rule,
                        schedule=[w.model_dump(mode="json") for w in body.schedule],
                        created_at=self.clock.now(),
                    )
                    .returning(fences.c.id)
                ).scalar_one()
            )
        fence = Fence(
            fid, person_id, body.name, shape, body.delay_s, body.dwell_s, body.rule, tuple(body.schedule)
        )
        with self._lock:
            self._load().setdefault(person_id, _Person()).fences.append(fence)
        return fence

    def of(self, person_id: int) -> list[Fence]:
        with self._lock:
            return list(self._load().get(person_id, _Person()).fences)

    def remove(self, person_id: int, fence_id: int) -> None:
        with self.store.write() as conn:
            gone = conn.execute(
                delete(fences).where(fences.c.id == fence_id, fences.c.person_id == person_id)
            ).rowcount
            conn.execute(delete(fence_state).where(fence_state.c.fence_id == fence_id))
        if not gone:
            raise NotFound(f"fence {fence_id} of person {person_id} does not exist", where="fence_id")
        with self._lock:
            p = self._load().get(person_id)
            if p is not None:
                p.fences = [f for f in p.fences if f.id != fence_id]
                p.states.pop(fence_id, None)

    def state(self, fence_id: int) -> State | None:
        with self._lock:
            for p in self._load().values():
                if fence_id in p.states:
                    return p.states[fence_id]
        return None

    def forget(self, conn: Connection, person_id: int) -> None:
        """A location consent was withdrawn: the states and alerts go (the fences, the guardian's
        definitions, stay and start again from 'unknown')."""
        conn.execute(delete(fence_state).where(fence_state.c.person_id == person_id))
        conn.execute(delete(alerts).where(alerts.c.person_id == person_id))
        with self._lock:
            p = self._load().get(person_id)
            if p is not None:
                p.states.clear()

    def _load(self) -> dict[int, _Person]:
        """Fences and their states from the store, once (after a restart the state is where it was)."""
        if self._people is not None:
            return self._people
        people: dict[int, _Person] = {}
        with self.store.engine.connect() as conn:
            for r in conn.execute(select(fences)).mappings():
                f = Fence(
                    r["id"],
                    r["person_id"],
                    r["name"],
                    shapely.from_wkt(r["wkt"]),
                    r["delay_s"],
                    r["dwell_s"],
                    r["rule"],
                    tuple(Window.model_validate(w) for w in r["schedule"]),
                )
                people.setdefault(f.person_id, _Person()).fences.append(f)
            for r in conn.execute(select(fence_state)).mappings():
                p = people.get(r["person_id"])
                if p is not None:
                    p.states[r["fence_id"]] = _state(r)
        self._people = people
        return people

    # -- deciding ------------------------------------------------------------------------------
    def on_fixes(self, fixes: Sequence[Position]) -> list[Alert]:
        """Move every fence of the fixes' people (fixes of one person, in time order)."""
        raised: list[Alert] = []
        changed: list[tuple[int, int, State]] = []
        with self._lock:
            people = self._load()
            pairs = [
                (fix, p, fence)
                for fix in fixes
                if (p := people.get(fix.person_id)) is not None
                for fence in p.fences
            ]
            if not pairs:
                return raised
            # every (fix, fence) pair of the batch in one vectorised call on prepared polygons
            inside = shapely.contains_xy(
                [fence.shape for _, _, fence in pairs],
                [fix.lon for fix, _, _ in pairs],
                [fix.lat for fix, _, _ in pairs],
            ).tolist()
            for (fix, p, fence), here in zip(pairs, inside, strict=True):
                old = p.states.get(fence.id, _UNKNOWN)
                new, alerts_ = step(fence, old, fix, here)
                if new is not old:
                    p.states[fence.id] = new
                    if _decided(new) != _decided(old):
                        changed.append((fix.person_id, fence.id, new))
                raised.extend(alerts_)
        self._persist(changed, raised)
        return raised

    def tick(self, now: datetime | None = None) -> list[Alert]:
        """Confirm candidates whose delay has passed, raise dwell and schedule violations on the clock
        (no fix needed: a child who stopped reporting inside school still 'entered')."""
        now = now or self.clock.now()
        raised: list[Alert] = []
        changed: list[tuple[int, int, State]] = []
        with self._lock:
            for pid, p in self._load().items():
                for fence in p.fences:
                    old = p.states.get(fence.id)
                    if old is None:
                        continue
                    new, alerts_ = settle(fence, old, now)
                    if new != old:
                        p.states[fence.id] = new
                        changed.append((pid, fence.id, new))
                    raised.extend(alerts_)
        self._persist(changed, raised)
        return raised

    def _persist(self, changed: list[tuple[int, int, State]], raised: list[Alert]) -> None:
        if not changed and not raised:
            return
        now = self.clock.now()
        with self.store.write() as conn:
            if changed:
                conn.execute(
                    self._upsert_state(),
                    [{"fence_id": fid, "person_id": pid, "state": _state_json(s)} for pid, fid, s in changed],
                )
            if raised:
                conn.execute(
                    _INSERT_ALERT,
                    [
                        {
                            "person_id": a.person_id,
                            "fence_id": a.fence_id,
                            "trip_id": None,
                            "kind": a.kind,
                            "at": a.at,
                            "lon": a.lon,
                            "lat": a.lat,
                            "raised_at": now,
                        }
                        for a in raised
                    ],
                )
            for a in raised:
                self.bus.publish(
                    conn,
                    FenceAlert(
                        person_id=a.person_id,
                        fence_id=a.fence_id,
                        fence=a.fence,
                        kind=a.kind,
                        at=a.at,
                        lon=a.lon,
                        lat=a.lat,
                    ),
                )

    def _upsert_state(self) -> Any:
        """``care_fence_state`` rows written whether or not they exist (built once per store)."""
        if self._upsert is None:
            from sqlalchemy.dialects import postgresql, sqlite

            dialect = postgresql if self.store.dialect == "postgresql" else sqlite
            stmt = dialect.insert(fence_state)
            self._upsert = stmt.on_conflict_do_update(
                index_elements=["fence_id"],
                set_={"person_id": stmt.excluded.person_id, "state": stmt.excluded.state},
            )
        return self._upsert

    def alerts_of(self, person_id: int, limit: int = 200) -> list[dict[str, Any]]:
        q = select(alerts, fences.c.name).join(fences, fences.c.id == alerts.c.fence_id, isouter=True)
        q = q.where(alerts.c.person_id == person_id).order_by(alerts.c.id.desc()).limit(limit)
        with self.store.engine.connect() as conn:
            return [
                {
                    "id": r["id"],
                    "fenceId": r["fence_id"],
                    "tripId": r["trip_id"],
                    "fence": r["name"],
                    "kind": r["kind"],
                    "at": r["at"].isoformat(),
                    "lon": r["lon"],
                    "lat": r["lat"],
                }
                for r in conn.execute(q).mappings()
            ]


def step(fence: Fence, s: State, fix: Position, here: bool | None = None) -> tuple[State, list[Alert]]:
    """One fix through one fence (pure: the tests drive it directly too). ``here``: whether the fix is
    inside, when the caller has already tested it (:meth:`Fences.on_fixes` tests a batch at once)."""
    if s.last_at is not None and fix.at <= s.last_at:
        return s, []  # late or repeated: history, not state
    if fix.accuracy_m is not None and fix.accuracy_m > MAX_ACCURACY_M:
        return s, []
    if here is None:
        here = fence.contains(fix.lon, fix.lat)
    if _quiet(fence, s, here, fix):
        return replace(s, last_at=fix.at, last_lon=fix.lon, last_lat=fix.lat), []
    out: list[Alert] = []

    def alert(kind: str, at: datetime, lon: float | None, lat: float | None) -> Alert:
        return Alert(fix.person_id, fence.id, fence.name, kind, at, lon, lat)

    moved = replace(s, last_at=fix.at, last_lon=fix.lon, last_lat=fix.lat)
    if s.inside is None:  # the first fix: the side it is on, no event (drawn around someone inside)
        return replace(moved, inside=here, since=fix.at, candidate=None, candidate_at=None), []
    # a pass through between two fixes outside
    passed = not here and not s.inside and s.candidate is None
    if (
        passed
        and s.last_lon is not None
        and s.last_lat is not None
        and _crosses(fence, s.last_lon, s.last_lat, fix)
    ):
        out.append(alert("crossed", fix.at, fix.lon, fix.lat))
    if here == s.inside:
        moved = replace(moved, candidate=None, candidate_at=None)  # noise that came back: nothing
    elif s.candidate is None:
        moved = replace(moved, candidate=here, candidate_at=fix.at)
    settled, more = settle(fence, moved, fix.at, where=(fix.lon, fix.lat))
    return settled, out + more


def _quiet(fence: Fence, s: State, here: bool, fix: Position) -> bool:
    """The common case, a fix on the confirmed side of a plain fence with nothing pending: nothing to
    decide but a pass through between two fixes outside."""
    if here != s.inside or s.candidate is not None or fence.dwell_s is not None or fence.rule != "watch":
        return False
    return (
        here or s.last_lon is None or s.last_lat is None or not _crosses(fence, s.last_lon, s.last_lat, fix)
    )


def _crosses(fence: Fence, lon: float, lat: float, fix: Position) -> bool:
    x0, y0, x1, y1 = fence.bounds
    if max(lon, fix.lon) < x0 or min(lon, fix.lon) > x1 or max(lat, fix.lat) < y0 or min(lat, fix.lat) > y1:
        return False  # the segment's box misses the fence's: no need to build the segment
    return bool(LineString([(lon, lat), (fix.lon, fix.lat)]).intersects(fence.shape))


def settle(
    fence: Fence, s: State, now: datetime, where: tuple[float, float] | None = None
) -> tuple[State, list[Alert]]:
    """Confirm a candidate whose delay has passed; dwell; schedule violations."""
    out: list[Alert] = []
    lon, lat = where if where is not None else (s.last_lon, s.last_lat)
    if (
        s.candidate is not None
        and s.candidate_at is not None
        and now - s.candidate_at >= timedelta(seconds=fence.delay_s)
    ):
        kind = "enter" if s.candidate else "exit"
        out.append(Alert(0, fence.id, fence.name, kind, s.candidate_at, lon, lat))
        s = replace(
            s, inside=s.candidate, since=s.candidate_at, candidate=None, candidate_at=None, dwell_raised=False
        )
    dwelling = fence.dwell_s is not None and s.inside and not s.dwell_raised and s.since is not None
    if dwelling and now - s.since >= timedelta(seconds=fence.dwell_s):  # type: ignore[operator,arg-type]
        out.append(Alert(0, fence.id, fence.name, "dwell", now, lon, lat))
        s = replace(s, dwell_raised=True)
    if fence.rule in ("inside", "outside") and s.inside is not None:
        wrong = fence.applies(now) and s.inside != (fence.rule == "inside")
        if wrong and not s.violation_raised:
            out.append(Alert(0, fence.id, fence.name, "violation", now, lon, lat))
            s = replace(s, violation_raised=True)
        elif not wrong and s.violation_raised:
            s = replace(s, violation_raised=False)
    return s, [replace(a, person_id=fence.person_id) for a in out]


def _decided(s: State) -> tuple[object, ...]:
    """What a restart must not lose: the side, a pending change, what was raised. The last fix's time
    and place are kept in memory and written with these (a write per fix would halve the ingest rate);
    after a crash a fence may take a fix older than the last one it saw but newer than the last change."""
    return (s.inside, s.since, s.candidate, s.candidate_at, s.dwell_raised, s.violation_raised)


def _state_json(s: State) -> dict[str, Any]:
    return {
        "inside": s.inside,
        "since": s.since.isoformat() if s.since else None,
        "lastAt": s.last_at.isoformat() if s.last_at else None,
        "lastLon": s.last_lon,
        "lastLat": s.last_lat,
        "candidate": s.candidate,
        "candidateAt": s.candidate_at.isoformat() if s.candidate_at else None,
        "dwellRaised": s.dwell_raised,
        "violationRaised": s.violation_raised,
    }


def _state(r: Any) -> State:
    d = r["state"]

    def t(v: str | None) -> datetime | None:
        return datetime.fromisoformat(v) if v else None

    return State(
        inside=d["inside"],
        since=t(d["since"]),
        last_at=t(d["lastAt"]),
        last_lon=d["lastLon"],
        last_lat=d["lastLat"],
        candidate=d["candidate"],
        candidate_at=t(d["candidateAt"]),
        dwell_raised=d["dwellRaised"],
        violation_raised=d["violationRaised"],
    )


__all__ = ["Alert", "Fence", "FenceIn", "Fences", "State", "Window", "circle", "settle", "step"]
