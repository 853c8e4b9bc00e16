# SPDX-License-Identifier: Apache-2.0
"""Area evacuation plan: assign every resident of an area to a shelter, respecting capacity.

The model is the classic min-cost transportation problem, solved as a linear program with HiGHS:

    minimise   Σ_zs t_zs · x_zs + M · Σ_z u_z
    subject to Σ_s x_zs + u_z = d_z          for every zone z   (everyone is placed or counted unplaced)
               Σ_z x_zs       ≤ c_s          for every shelter s (never above the places it has free)
               x, u ≥ 0

``d_z`` are the residents of zone z, ``c_s`` the free places of shelter s (capacity − occupancy), ``t_zs``
the travel time in seconds and ``u_z`` the residents who cannot be placed, at a cost ``M`` higher than any
travel, so the plan answers even when there are not enough places and says who is left. The constraint
matrix is a network matrix (totally unimodular) and the right-hand sides are integers, so the simplex
method's basic optimal solution is integral: nobody is split. To stay sparse, each zone gets variables
first for its ``k`` nearest shelters; column generation then adds any left-out pair whose reduced cost
is negative and re-solves from the last basis, until none is — the result is optimal over all pairs.

Expected evacuation time of a zone (defined here): the travel time to the farthest shelter its residents
are sent to — when the last of them arrives, walking without congestion. The population-weighted mean
is reported beside it. Default travel time is straight-line distance in EPSG:5186 over 1.2 m/s, a
walking speed used for evacuation planning of the general public (slower than the ~1.3–1.4 m/s of
free-walking adults, to allow for the elderly and for crowds); any :data:`TravelTimes` callable — e.g.
road-network times — can replace it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import highspy
import numpy as np
from numpy.typing import NDArray

from safecity.core.errors import BadRequest
from safecity.evacuation.geometry import lonlat_to_metric

#: Walking speed for evacuation (m/s), see the module docstring.
WALK_SPEED_MS = 1.2
#: Shelters considered per zone in the first solve.
DEFAULT_K = 8

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class Zone:
    """A group of residents at one point (a dong's centroid, a grid cell's centre), WGS84."""

    id: str
    lon: float
    lat: float
    people: int
    name: str | None = None


@dataclass(frozen=True)
class Site:
    """A shelter as the plan sees it: where it is and how many free places it has."""

    id: int
    lon: float
    lat: float
    places: int
    name: str | None = None


#: Travel times in seconds, shape (zones, sites); ``inf`` where a site cannot be reached from a zone.
TravelTimes = Callable[[Sequence[Zone], Sequence[Site]], FloatArray]


def straight_line_times(
    zones: Sequence[Zone], sites: Sequence[Site], speed_ms: float = WALK_SPEED_MS
) -> FloatArray:
    """Straight-line walking times (s): EPSG:5186 distance over ``speed_ms``."""
    if not zones or not sites:
        return np.zeros((len(zones), len(sites)))
    zp = lonlat_to_metric(np.array([z.lon for z in zones]), np.array([z.lat for z in zones]))
    sp = lonlat_to_metric(np.array([s.lon for s in sites]), np.array([s.lat for s in sites]))
    dx = zp[:, 0:1] - sp[None, :, 0]
    dy = zp[:, 1:2] - sp[None, :, 1]
    return np.asarray(np.hypot(dx, dy) / speed_ms, dtype=np.float64)


@dataclass(frozen=True)
class Leg:
    site_id: int
    people: int
    time_s: float


@dataclass(frozen=True)
class ZonePlan:
    zone_id: str
    people: int
    legs: tuple[Leg, ...]
    unassigned: int
    time_max_s: float | None  # the expected evacuation time (see module docstring); None if nobody placed
    time_mean_s: float | None


@dataclass(frozen=True)
class Overflow:
    """A shelter that would be overfilled if every zone went to its nearest shelter."""

    site_id: int
    places: int
    demand: int

    @property
    def excess(self) -> int:
        return self.demand - self.places


@dataclass(frozen=True)
class Plan:
    zones: tuple[ZonePlan, ...]
    loads: dict[int, int]  # site id -> people sent there
    total_people: int
    assigned: int
    unassigned: int
    cost_person_s: float  # Σ people × travel time of the assigned
    overflow_if_nearest: tuple[Overflow, ...]
    k: int  # nearest shelters per zone in the first solve (and added per zone per pricing round)
    solve_seconds: float
    extra: dict[str, int] = field(default_factory=dict)  # solver statistics


def _validate(zones: Sequence[Zone], sites: Sequence[Site]) -> None:
    for i, z in enumerate(zones):
        if z.people < 0:
            raise BadRequest(f"zones[{i}].people: must be 0 or more", where=f"zones[{i}].people")
    for i, s in enumerate(sites):
        if s.places < 0:
            raise BadRequest(f"sites[{i}].places: must be 0 or more", where=f"sites[{i}].places")


def _times(
    zones: Sequence[Zone], sites: Sequence[Site], travel: TravelTimes | FloatArray | None
) -> FloatArray:
    if travel is None:
        t = straight_line_times(zones, sites)
    elif callable(travel):
        t = np.asarray(travel(zones, sites), dtype=np.float64)
    else:
        t = np.asarray(travel, dtype=np.float64)
    if t.shape != (len(zones), len(sites)):
        raise BadRequest(
            f"travel times: shape {t.shape} is not (zones, sites) = ({len(zones)}, {len(sites)})"
        )
    if np.isnan(t).any() or (t < 0).any():
        raise BadRequest("travel times: must be ≥ 0 seconds (inf for unreachable), never NaN")
    return t


def nearest_overflow(zones: Sequence[Zone], sites: Sequence[Site], times: FloatArray) -> tuple[Overflow, ...]:
    """Shelters overfilled if everyone went to their nearest reachable shelter (the "if nothing is done" case)."""
    if not sites:
        return ()
    demand = np.zeros(len(sites), dtype=np.int64)
    for zi, z in enumerate(zones):
        row = times[zi]
        if z.people and np.isfinite(row).any():
            demand[int(np.argmin(row))] += z.people
    return tuple(
        Overflow(s.id, s.places, int(demand[si])) for si, s in enumerate(sites) if demand[si] > s.places
    )


def greedy_pairs(
    demand: NDArray[np.int64], places: NDArray[np.int64], times: FloatArray
) -> NDArray[np.int64]:
    """The naive baseline: zones in the given order each fill their nearest shelters that still have
    places. Returns the (zones, sites) matrix of people sent."""
    left = places.copy()
    x = np.zeros(times.shape, dtype=np.int64)
    order = np.argsort(times, axis=1, kind="stable")
    for zi in range(times.shape[0]):
        need = int(demand[zi])
        for si in order[zi]:
            if need == 0 or not np.isfinite(times[zi, si]):
                break
            take = min(need, int(left[si]))
            if take:
                x[zi, si] = take
                left[si] -= take
                need -= take
    return x


def greedy(
    zones: Sequence[Zone], sites: Sequence[Site], times: FloatArray
) -> tuple[NDArray[np.int64], float]:
    """:func:`greedy_pairs` for zones and sites; returns the matrix of people sent and its cost (person-s)."""
    demand = np.array([z.people for z in zones], dtype=np.int64)
    places = np.array([s.places for s in sites], dtype=np.int64)
    x = greedy_pairs(demand, places, times) if sites else np.zeros((len(zones), 0), dtype=np.int64)
    cost = float((x * np.where(np.isfinite(times), times, 0.0)).sum())
    return x, cost


def _pair_columns(
    zi: NDArray[np.int64], si: NDArray[np.int64], nz: int
) -> tuple[NDArray[np.int32], NDArray[np.int32]]:
    """CSC starts and row indices of pair columns: a 1 in the zone's demand row and the site's capacity row."""
    index = np.empty(2 * len(zi), dtype=np.int32)
    index[0::2] = zi
    index[1::2] = nz + si
    return np.arange(0, 2 * len(zi), 2, dtype=np.int32), index


def _solve(
    demand: NDArray[np.int64], places: NDArray[np.int64], times: FloatArray, k: int, penalty: float
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64], NDArray[np.int64], dict[str, int]]:
    """Solve the LP by column generation. Returns (zone idx, site idx, people) of the used pairs, the
    unassigned count per zone and solver statistics.

    It starts from each zone's ``k`` nearest usable sites, then prices every left-out pair with the duals
    (reduced cost t_zs − y_z − y_s) and adds the most negative ``k`` per zone, until none is negative —
    which proves the answer optimal over *all* pairs, not only the nearest.
    """
    nz, ns = times.shape
    usable = np.isfinite(times) & (demand[:, None] > 0) & (places[None, :] > 0)
    priced = np.where(usable, times, np.inf)
    kk = min(k, ns)
    # The k nearest sites of each zone (unordered); argpartition is O(sites) per zone.
    cand = np.argpartition(priced, kk - 1, axis=1)[:, :kk] if kk < ns else np.tile(np.arange(ns), (nz, 1))
    in_model = np.zeros((nz, ns), dtype=bool)
    in_model[np.repeat(np.arange(nz), kk), cand.reshape(-1)] = True
    # Seed with the pairs the greedy baseline uses: they hold a complete placement where places suffice,
    # which saves pricing rounds when dense zones must spill past their k nearest shelters.
    in_model |= greedy_pairs(demand, places, priced) > 0
    in_model &= usable
    zi, si = (a.astype(np.int64) for a in np.nonzero(in_model))

    # Columns: the nz slack ("unassigned") columns first, then the pairs, so new pairs append.
    starts, index = _pair_columns(zi, si, nz)
    ncol = nz + len(zi)
    lp = highspy.HighsLp()
    lp.num_col_ = ncol
    lp.num_row_ = nz + ns
    lp.col_cost_ = np.concatenate([np.full(nz, penalty), times[zi, si]])
    lp.col_lower_ = np.zeros(ncol)
    lp.col_upper_ = np.full(ncol, highspy.kHighsInf)
    lp.row_lower_ = np.concatenate([demand.astype(np.float64), np.full(ns, -highspy.kHighsInf)])
    lp.row_upper_ = np.concatenate([demand.astype(np.float64), places.astype(np.float64)])
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.num_col_ = ncol
    lp.a_matrix_.num_row_ = nz + ns
    lp.a_matrix_.start_ = np.concatenate(
        [np.arange(nz + 1, dtype=np.int32), nz + starts[1:], [nz + len(index)]]
    )
    lp.a_matrix_.index_ = np.concatenate([np.arange(nz, dtype=np.int32), index])
    lp.a_matrix_.value_ = np.ones(nz + len(index))
    h = highspy.Highs()  # type: ignore[no-untyped-call]  # highspy leaves __init__ unannotated
    h.setOptionValue("output_flag", False)
    # Simplex, not interior point: its optimum is a vertex, hence integral (see the module docstring),
    # and it restarts from the last basis after columns are added.
    h.setOptionValue("solver", "simplex")
    h.passModel(lp)
    rounds = 0
    while True:
        h.run()
        status = h.getModelStatus()
        if status != highspy.HighsModelStatus.kOptimal:
            raise RuntimeError(f"HiGHS did not find the optimum: {h.modelStatusToString(status)}")
        rounds += 1
        dual = np.asarray(h.getSolution().row_dual, dtype=np.float64)
        reduced = priced - dual[:nz, None] - dual[None, nz:]
        reduced[in_model] = np.inf
        # Relative tolerance: costs are seconds up to ~1e4, the penalty ~1e6.
        reduced[reduced >= -1e-7 * penalty] = np.inf
        rows = np.flatnonzero(np.isfinite(reduced).any(axis=1))
        if rows.size == 0:
            break
        sub = reduced[rows]
        best = (
            np.argpartition(sub, kk - 1, axis=1)[:, :kk]
            if kk < ns
            else np.tile(np.arange(ns), (len(rows), 1))
        )
        nzi = np.repeat(rows, best.shape[1])
        nsi = best.reshape(-1)
        ok = np.isfinite(reduced[nzi, nsi])
        nzi, nsi = nzi[ok], nsi[ok]
        in_model[nzi, nsi] = True
        nstarts, nindex = _pair_columns(nzi, nsi, nz)
        h.addCols(
            len(nzi),
            times[nzi, nsi],
            np.zeros(len(nzi)),
            np.full(len(nzi), highspy.kHighsInf),
            len(nindex),
            nstarts,
            nindex,
            np.ones(len(nindex)),
        )
        zi = np.concatenate([zi, nzi])
        si = np.concatenate([si, nsi])
    values = np.asarray(h.getSolution().col_value, dtype=np.float64)
    # Integral in exact arithmetic; floor guards against 1e-9 noise and can only lower loads.
    x = np.floor(values[nz:] + 1e-6).astype(np.int64)
    placed = np.bincount(zi, weights=x, minlength=nz).astype(np.int64)
    unassigned = demand - placed
    used = x > 0
    stats = {"pricing_rounds": rounds, "columns": len(zi)}
    return zi[used], si[used], x[used], unassigned, stats


def assign(
    zones: Sequence[Zone],
    sites: Sequence[Site],
    travel: TravelTimes | FloatArray | None = None,
    *,
    k: int = DEFAULT_K,
) -> Plan:
    """Assign every zone's residents to ``sites`` at minimum total travel time, never above a site's places.

    ``travel`` is a :data:`TravelTimes` callable, a precomputed (zones, sites) matrix in seconds, or None
    for straight-line walking. Raises BadRequest for negative counts or a malformed time matrix.
    """
    _validate(zones, sites)
    started = time.perf_counter()
    times = _times(zones, sites, travel)
    demand = np.array([z.people for z in zones], dtype=np.int64)
    places = np.array([s.places for s in sites], dtype=np.int64)
    finite = times[np.isfinite(times)]
    # Leaving someone unplaced must cost more than any journey, so the LP only does it when forced.
    penalty = float(max(1e6, 100.0 * (float(finite.max()) if finite.size else 0.0)))
    stats: dict[str, int] = {}
    if len(sites) and len(zones):
        zi, si, x, unassigned, stats = _solve(demand, places, times, max(1, k), penalty)
    else:
        zi = si = x = np.zeros(0, dtype=np.int64)
        unassigned = demand.copy()
    elapsed = time.perf_counter() - started
    legs: list[list[Leg]] = [[] for _ in zones]
    loads = dict.fromkeys((s.id for s in sites), 0)
    for a, b, n in zip(zi.tolist(), si.tolist(), x.tolist(), strict=True):
        legs[a].append(Leg(sites[b].id, n, float(times[a, b])))
        loads[sites[b].id] += n
    plans = []
    for z, zl, un in zip(zones, legs, unassigned.tolist(), strict=True):
        zl.sort(key=lambda leg: leg.time_s)
        placed = sum(leg.people for leg in zl)
        plans.append(
            ZonePlan(
                zone_id=z.id,
                people=z.people,
                legs=tuple(zl),
                unassigned=int(un),
                time_max_s=max((leg.time_s for leg in zl), default=None),
                # min(): the weighted mean can round a hair above the max when all legs are equal
                time_mean_s=min(sum(leg.people * leg.time_s for leg in zl) / placed, zl[-1].time_s)
                if placed
                else None,
            )
        )
    assigned = int(x.sum())
    return Plan(
        zones=tuple(plans),
        loads=loads,
        total_people=int(demand.sum()),
        assigned=assigned,
        unassigned=int(demand.sum()) - assigned,
        cost_person_s=float((x * times[zi, si]).sum()) if len(x) else 0.0,
        overflow_if_nearest=nearest_overflow(zones, sites, times),
        k=max(1, k),
        solve_seconds=elapsed,
        extra=dict(stats),
    )


def plan_to_json(plan: Plan, names: dict[int, tuple[str, str | None]] | None = None) -> dict[str, Any]:
    """The plan as a JSON document; ``names`` maps site ids to (name_ko, name_en)."""
    names = names or {}

    def site(sid: int) -> dict[str, Any]:
        ko, en = names.get(sid, (None, None))
        return {"shelter_id": sid, "name_ko": ko, "name_en": en}

    return {
        "total_people": plan.total_people,
        "assigned": plan.assigned,
        "unassigned": plan.unassigned,
        "cost_person_s": round(plan.cost_person_s, 1),
        "expected_time_definition": (
            "time_max_s: travel time to the farthest shelter a zone's residents are sent to "
            "(the last arrival, no congestion); time_mean_s: population-weighted mean"
        ),
        "zones": [
            {
                "zone": z.zone_id,
                "people": z.people,
                "unassigned": z.unassigned,
                "time_max_s": None if z.time_max_s is None else round(z.time_max_s, 1),
                "time_mean_s": None if z.time_mean_s is None else round(z.time_mean_s, 1),
                "assigned": [
                    {**site(leg.site_id), "people": leg.people, "time_s": round(leg.time_s, 1)}
                    for leg in z.legs
                ],
            }
            for z in plan.zones
        ],
        "loads": [{**site(sid), "people": n} for sid, n in plan.loads.items() if n],
        "overflow_if_nearest": [
            {**site(o.site_id), "places": o.places, "demand": o.demand, "excess": o.excess}
            for o in plan.overflow_if_nearest
        ],
        "solver": {"name": "HiGHS", "k": plan.k, "seconds": round(plan.solve_seconds, 3), **plan.extra},
    }
