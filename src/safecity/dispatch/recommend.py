# SPDX-License-Identifier: Apache-2.0
"""Which units to send to a call: the call type's run card filled with the units that reach the call
soonest by live road time (not distance), each pick explained: its road time, and why a unit that is
nearer as the crow flies was not chosen (slower by road, busy, another type, cut off by a closure)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from safecity.dispatch.model import DISPATCHABLE, CallType, Unit, UnitType, can_serve
from safecity.dispatch.places import haversine_m
from safecity.dispatch.roadtime import ACCESS_KMH, Band, RoadTimes, ToPoint


@dataclass(frozen=True)
class Pick:
    unit: Unit
    asked: UnitType  # the run-card line it fills
    seconds: float  # road time to the call, access included
    straight_m: float
    route: list[list[float]]  # [lon, lat] from the unit to the call: the preemption corridor
    passed_over: list[dict[str, Any]] = field(default_factory=list)  # nearer units not chosen, and why

    def public(self) -> dict[str, Any]:
        mins = self.seconds / 60
        why_en = f"{self.unit.callsign}: {mins:.1f} min by road ({self.straight_m / 1000:.1f} km away)"
        why_ko = f"{self.unit.callsign}: 도로 {mins:.1f}분 (직선 {self.straight_m / 1000:.1f} km)"
        return {
            "unit": self.unit.callsign,
            "type": self.unit.type.value,
            "fills": self.asked.value,
            "travelS": round(self.seconds, 1),
            "straightM": round(self.straight_m),
            "station": self.unit.station,
            "status": self.unit.status.value,
            "route": self.route,
            "whyEn": why_en,
            "whyKo": why_ko,
            "passedOver": self.passed_over,
        }


@dataclass(frozen=True)
class Recommendation:
    call_id: int
    picks: list[Pick]
    missing: list[dict[str, Any]]  # run-card lines no dispatchable unit could fill
    rain: dict[str, Any] | None = None  # the rain the road times took (sensors.RainNow.public())

    def public(self) -> dict[str, Any]:
        return {
            "call": self.call_id,
            "units": [p.public() for p in self.picks],
            "missing": self.missing,
            "rain": self.rain,
        }


def recommend(
    call_id: int,
    lon: float,
    lat: float,
    kind: CallType,
    units: list[Unit],
    roads: RoadTimes,
    band: Band,
    *,
    limit_s: float = 1800.0,
    grow: bool = True,
) -> Recommendation:
    """Fill ``kind``'s run card from ``units`` by road time to (lon, lat) on ``band``'s network.

    Raises OutsideNetwork (a 400 naming ``location``) when the call is too far from every road."""
    nodes, access = roads.snap(np.array([lon]), np.array([lat]))
    if nodes[0] < 0:
        from safecity.geo.roads.routing import OutsideNetwork

        raise OutsideNetwork(
            "location: the call is farther from the road network than a unit can be routed",
            where="location",
            message_ko="location: 신고 위치가 도로망에서 너무 멉니다",
        )
    fleet = _Fleet.of(units, roads)
    straight = haversine_m(fleet.lon, fleet.lat, lon, lat)
    call_access = float(access[0])
    # Search a growing radius: a card filled with the asked types within a small limit is the same answer
    # the full limit gives (every unit beyond the limit is slower), at a fraction of the search. The first
    # radius is the card's straight-line lower bound times a usual detour; each next one doubles it.
    limits = [limit_s]
    if grow:
        first = max(_card_floor(kind, fleet, straight, call_access, band.top_mps) * DETOUR, MIN_LIMIT_S)
        while first < limit_s and len(limits) <= MAX_SEARCHES:
            limits.insert(-1, first)
            first *= 2
    for i, limit in enumerate(limits):
        to_call = roads.to_node(band, int(nodes[0]), limit=limit)
        seconds = np.full(len(units), np.inf)
        ok = fleet.node >= 0
        seconds[ok] = to_call.seconds[fleet.node[ok]] + fleet.access[ok] + call_access
        picks, missing, exact = _fill(kind, units, fleet, seconds, straight, to_call, roads, limit)
        # any unit beyond the limit needs more than limit + the call's access: slower than every pick
        if (exact and all(p.seconds <= limit + call_access for p in picks)) or i == len(limits) - 1:
            break
    return Recommendation(call_id, picks, missing)


@dataclass(frozen=True)
class _Fleet:
    """The units as arrays: where each is on the network, its type and whether it may be sent."""

    lon: np.ndarray
    lat: np.ndarray
    node: np.ndarray  # nearest drivable node (-1: off the network)
    access: np.ndarray  # seconds from the unit's position to its node
    type: np.ndarray  # index into TYPES
    free: np.ndarray  # bool: dispatchable (available or returning)

    @staticmethod
    def of(units: list[Unit], roads: RoadTimes) -> _Fleet:
        lon = np.array([u.lon for u in units], dtype=np.float64)
        lat = np.array([u.lat for u in units], dtype=np.float64)
        node, access = roads.snap_cached(lon, lat)
        kind = np.array([TYPE_INDEX[u.type] for u in units], dtype=np.int64)
        free = np.array([u.status in DISPATCHABLE for u in units], dtype=bool)
        return _Fleet(lon, lat, node, access, kind, free)


#: Unit types in a fixed order, and for each asked type the types that can stand in for it.
TYPES = tuple(UnitType)
TYPE_INDEX = {t: i for i, t in enumerate(TYPES)}
SERVES = np.array([[can_serve(u, asked) for u in TYPES] for asked in TYPES], dtype=bool)  # [asked, unit]


def _card_floor(
    kind: CallType, fleet: _Fleet, straight: np.ndarray, call_access: float, top_mps: float
) -> float:
    """A lower bound on the road time (call access excluded) of the slowest pick the card needs: each
    unit's straight-line distance driven at the network's top speed; inf when some line lacks units of
    its own type (stand-ins are then needed, which only the full search answers)."""
    floor = 0.0
    # a road is never shorter than the straight line between its ends; SLACK covers the difference
    # between the graph's lengths and the haversine distance
    reach_m = straight - (fleet.access + call_access) * (ACCESS_KMH / 3.6)
    lower = np.maximum(reach_m, 0.0) * SLACK / top_mps + fleet.access
    for line in kind.run_card:
        fits = fleet.free & (fleet.type == TYPE_INDEX[line.unit])
        if int(fits.sum()) < line.count:
            return np.inf
        floor = max(floor, float(np.partition(lower[fits], line.count - 1)[line.count - 1]))
    return floor


#: The first search radius over the card's lower bound: on the generated Seoul grid the slowest pick's
#: road time is 1.06-1.64 x the bound (p95 1.51; bench/dispatch.py, 200 calls); a real network with rivers
#: and one-way streets detours more, and then the next, doubled radius answers.
DETOUR = 1.6
#: The smallest radius searched (seconds): a unit at the call still needs its crew out of the door.
MIN_LIMIT_S = 120.0
#: At most this many searches before the full limit.
MAX_SEARCHES = 3

#: Road lengths are measured in a projected CRS and straight lines by haversine: they differ by well
#: under 1 % in Korea; 3 % keeps the bound a bound.
SLACK = 0.97


def _fill(
    kind: CallType,
    units: list[Unit],
    fleet: _Fleet,
    seconds: np.ndarray,
    straight: np.ndarray,
    to_call: ToPoint,
    roads: RoadTimes,
    limit: float,
) -> tuple[list[Pick], list[dict[str, Any]], bool]:
    """The run card filled from ``seconds``; ``exact``: every line got a unit of its own type."""
    open_ = fleet.free & np.isfinite(seconds)  # dispatchable, reachable and not chosen yet
    chosen: set[int] = set()
    picks: list[Pick] = []
    missing: list[dict[str, Any]] = []
    exact = True
    for line in kind.run_card:
        asked = TYPE_INDEX[line.unit]
        for _ in range(line.count):
            # the exact type first; a unit that can do everything the asked type does stands in
            best = _best(seconds, open_ & (fleet.type == asked))
            if best is None:
                exact = False
                best = _best(seconds, open_ & SERVES[asked][fleet.type])
            if best is None:
                missing.append({"unit": line.unit.value, "count": 1})
                continue
            open_[best] = False
            chosen.add(best)
            path = to_call.path_from(int(fleet.node[best]))
            picks.append(
                Pick(
                    unit=units[best],
                    asked=line.unit,
                    seconds=float(seconds[best]),
                    straight_m=float(straight[best]),
                    route=roads.line(path),
                    passed_over=_passed_over(units, seconds, straight, best, line.unit, chosen, limit),
                )
            )
    return picks, missing, exact


def _best(seconds: np.ndarray, fits: np.ndarray) -> int | None:
    """The fastest unit among ``fits`` (the first in the list on a tie); None when none fits."""
    if not fits.any():
        return None
    return int(np.argmin(np.where(fits, seconds, np.inf)))


def _passed_over(
    units: list[Unit],
    seconds: np.ndarray,
    straight: np.ndarray,
    best: int,
    asked: UnitType,
    chosen: set[int],
    limit: float,
) -> list[dict[str, Any]]:
    """Units nearer than the pick as the crow flies, and why each was not sent (at most five)."""
    out: list[dict[str, Any]] = []
    nearer = np.flatnonzero(straight < straight[best])
    for i in nearer[np.argsort(straight[nearer], kind="stable")]:
        i = int(i)
        u = units[i]
        if i == best:
            continue
        if i in chosen:
            en, ko = "already in this dispatch", "이번 출동에 이미 포함"
        elif not can_serve(u.type, asked):
            en, ko = (
                f"type {u.type.value} cannot do a {asked.value}'s work",
                f"{u.type.value} 차량은 {asked.value} 임무 불가",
            )
        elif u.status not in DISPATCHABLE:
            en, ko = f"not available ({u.status.value})", f"출동 불가 ({u.status.value})"
        elif not np.isfinite(seconds[i]):
            en = f"more than {limit / 60:.0f} min by open roads"
            ko = f"통행 가능한 도로로 {limit / 60:.0f}분 넘게 걸림"
        else:
            slower = (seconds[i] - seconds[best]) / 60
            en = f"{slower:.1f} min slower by road ({seconds[i] / 60:.1f} min)"
            ko = f"도로로 {slower:.1f}분 더 걸림 ({seconds[i] / 60:.1f}분)"
        out.append({"unit": u.callsign, "straightM": round(float(straight[i])), "whyEn": en, "whyKo": ko})
        if len(out) == 5:
            break
    return out
