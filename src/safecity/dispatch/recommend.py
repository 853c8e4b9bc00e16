# SPDX-License-Identifier: Apache-2.0
"""Which units to send to a call: the call type's run card filled with the units that reach the call
soonest by live road time (not distance), each pick explained: its road time, and why a unit that is
nearer as the crow flies was not chosen (slower by road, busy, another type, cut off by a closure)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from safecity.dispatch.model import DISPATCHABLE, CallType, Unit, UnitType, can_serve
from safecity.dispatch.places import metres
from safecity.dispatch.roadtime import Band, RoadTimes, ToPoint


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
    """Fill ``kind``'s run card from ``units`` by road time to (lon, lat) on ``band``'s network."""
    nodes, access = roads.snap(np.array([lon]), np.array([lat]))
    if nodes[0] < 0:
        from safecity.geo.roads.routing import OutsideNetwork

        raise OutsideNetwork(
            "location: the call is farther from the road network than a unit can be routed",
            where="location",
            message_ko="location: 신고 위치가 도로망에서 너무 멉니다",
        )
    ulon = np.array([u.lon for u in units], dtype=np.float64)
    ulat = np.array([u.lat for u in units], dtype=np.float64)
    unodes, uaccess = roads.snap(ulon, ulat) if units else (np.zeros(0, dtype=np.int64), np.zeros(0))
    straight = np.array([metres(u.lon, u.lat, lon, lat) for u in units])
    # Search a growing radius: a card filled with the asked types within a small limit is the same answer
    # the full limit gives (every unit beyond the limit is slower), at a fraction of the search.
    limits = [x for x in (300.0, 600.0, 1200.0) if grow and x < limit_s] + [limit_s]
    for i, limit in enumerate(limits):
        to_call = roads.to_node(band, int(nodes[0]), limit=limit)
        seconds = np.full(len(units), np.inf)
        ok = unodes >= 0
        seconds[ok] = to_call.seconds[unodes[ok]] + uaccess[ok] + float(access[0])
        picks, missing, exact = _fill(kind, units, seconds, straight, unodes, to_call, roads, limit)
        # any unit beyond the limit needs more than limit + the call's access: slower than every pick
        if (exact and all(p.seconds <= limit + float(access[0]) for p in picks)) or i == len(limits) - 1:
            break
    return Recommendation(call_id, picks, missing)


def _fill(
    kind: CallType,
    units: list[Unit],
    seconds: np.ndarray,
    straight: np.ndarray,
    unodes: np.ndarray,
    to_call: ToPoint,
    roads: RoadTimes,
    limit: float,
) -> tuple[list[Pick], list[dict[str, Any]], bool]:
    """The run card filled from ``seconds``; ``exact``: every line got a unit of its own type."""
    chosen: set[int] = set()
    picks: list[Pick] = []
    missing: list[dict[str, Any]] = []
    exact = True
    for line in kind.run_card:
        for _ in range(line.count):
            # the exact type first; a unit that can do everything the asked type does stands in
            best = _best(units, seconds, chosen, lambda u, t=line.unit: u.type is t)
            if best is None:
                exact = False
                best = _best(units, seconds, chosen, lambda u, t=line.unit: can_serve(u.type, t))
            if best is None:
                missing.append({"unit": line.unit.value, "count": 1})
                continue
            chosen.add(best)
            path = to_call.path_from(int(unodes[best]))
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


def _best(units: list[Unit], seconds: np.ndarray, chosen: set[int], fits: Any) -> int | None:
    best, best_s = None, np.inf
    for i, u in enumerate(units):
        if i in chosen or u.status not in DISPATCHABLE or not fits(u):
            continue
        if seconds[i] < best_s:
            best, best_s = i, seconds[i]
    return best


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
    for i in np.argsort(straight):
        i = int(i)
        if straight[i] >= straight[best]:
            break
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
