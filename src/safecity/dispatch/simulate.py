# SPDX-License-Identifier: Apache-2.0
"""A discrete-event simulation (simpy) of a Seoul-like day of 119 calls, to compare dispatch policies
on the same calls (same seed: same times, places, types and service times for every policy).

Policies:

* ``closest``: the idle unit at its station nearest to the call as the crow flies; a unit is free again
  only when back at its home station (the usual practice without live positions);
* ``recommend``: our recommender: the unit with the least live road time from where it is now,
  including units driving back to their station (already in the vehicle: no turnout time);
* ``moveup``: ``recommend``, and after every ambulance dispatch the single move of an idle ambulance
  that restores the most expected coverage (DMEXCLP; :func:`best_single_move`, the same optimum as the
  MILP of :mod:`safecity.dispatch.moveup` with one move, which the tests check), and a freed ambulance
  returns to the station where it adds the most expected coverage instead of its home (Jagtenberg 2017).

Response time = call handling + turnout (units at a station) + road time (+ waiting when every unit is
busy), from the call to the first unit on scene. Utilisation = busy time (from dispatch to free) over
the day, for ambulances.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import simpy
from scipy.sparse import csr_matrix, diags  # type: ignore[import-untyped]

from safecity.dispatch.city import SimCity, demand_config
from safecity.dispatch.moveup import F64
from safecity.dispatch.roadtime import Band, ToPoint

POLICIES = ("closest", "recommend", "moveup")
#: The simulated day starts at midnight KST of a Friday (the surveys' slowest day).
DAY = datetime(2026, 12, 3, 15, 0, tzinfo=UTC)
TARGET_S = 420.0
TRAVEL_TARGET_S = 300.0  # coverage: 5 minutes of road time (7 minutes less handling and turnout)
M_PER_DEG = 111_000.0


@dataclass(frozen=True)
class SimCall:
    t: float
    kind: str  # ems | fire | rescue
    point: int  # demand point index
    handling: float
    on_scene: float
    transport: bool
    hospital: float


@dataclass
class SimUnit:
    id: int
    kind: str  # ambulance | pumper | rescue
    home: int  # station index
    base: int  # station it returns to (moveup changes it)
    idle: bool = True  # at its base, free
    free: bool = True  # may take a call (idle, or driving back/relocating under recommend/moveup)
    busy_since: float = 0.0
    busy_total: float = 0.0
    gen: int = 0  # bumped on every new task: a stale return/relocation does nothing
    path: list[int] = field(default_factory=list)  # node path being driven back (or relocating)
    path_t: list[float] = field(default_factory=list)  # time at each node of the path
    node: int = -1  # where it stands when idle


@dataclass
class Result:
    policy: str
    seed: int
    calls: int
    response_s: list[float]
    kinds: list[str]
    ambulance_busy_s: float
    ambulances: int
    moves: int
    waited: int

    def summary(self) -> dict[str, Any]:
        r = np.asarray(self.response_s)
        kinds = np.asarray(self.kinds)
        out: dict[str, Any] = {
            "policy": self.policy,
            "seed": self.seed,
            "city": "generated Seoul-like city (safecity.dispatch.city)",
            "calls": self.calls,
            "within_7min_share": float((r <= TARGET_S).mean()),
            "over_7min": int((r > TARGET_S).sum()),
            "mean_response_min": float(r.mean() / 60),
            "p90_response_min": float(np.percentile(r, 90) / 60),
            "utilisation": self.ambulance_busy_s / (self.ambulances * 86_400.0),
            "moves": self.moves,
            "queued_calls": self.waited,
        }
        for k in ("ems", "fire", "rescue"):
            m = kinds == k
            if m.any():
                out[f"{k}_within_7min_share"] = float((r[m] <= TARGET_S).mean())
                out[f"{k}_calls"] = int(m.sum())
        return out


def make_calls(city: SimCity, seed: int) -> list[SimCall]:
    """The day's calls for ``seed``: Poisson counts per hour by the hour profile, places by residents."""
    cfg = demand_config()
    rng = np.random.default_rng(seed)
    w = city.demand.weight / city.demand.weight.sum()
    out: list[SimCall] = []
    for kind, per_day in (
        ("ems", cfg.ems_calls_per_day),
        ("fire", cfg.fires_per_day),
        ("rescue", cfg.rescues_per_day),
    ):
        for hour, share in enumerate(cfg.hour_share):
            for _ in range(rng.poisson(per_day * share)):
                scene = {
                    "ems": cfg.on_scene_min,
                    "fire": cfg.fire_on_scene_min,
                    "rescue": cfg.rescue_on_scene_min,
                }[kind]
                out.append(
                    SimCall(
                        t=hour * 3600 + rng.uniform(0, 3600),
                        kind=kind,
                        point=int(rng.choice(w.shape[0], p=w)),
                        handling=float(rng.gamma(9.0, cfg.handling_s / 9.0)),
                        on_scene=float(rng.gamma(4.0, scene * 60 / 4.0)),
                        transport=kind == "ems" and bool(rng.uniform() < cfg.transport_share),
                        hospital=float(rng.gamma(4.0, cfg.hospital_min * 60 / 4.0)),
                    )
                )
    out.sort(key=lambda c: c.t)
    return out


class Simulation:
    def __init__(self, city: SimCity, policy: str, seed: int, *, rain: bool = False) -> None:
        if policy not in POLICIES:
            raise ValueError(f"policy: use one of {', '.join(POLICIES)}")
        self.city = city
        self.policy = policy
        self.seed = seed
        self.rain = rain
        self.cfg = demand_config()
        self.env = simpy.Environment()
        self.roads = city.roads
        self._bands: dict[int, Band] = {}
        self._to: dict[tuple[int, int], ToPoint] = {}
        self._covers: dict[int, np.ndarray] = {}
        st = city.stations
        self.st_node = np.array([s.node for s in st])
        self.st_lon = np.array([s.lon for s in st])
        self.st_lat = np.array([s.lat for s in st])
        self.units: list[SimUnit] = []
        for j, n in enumerate(city.ambulances_at):
            self.units += [SimUnit(len(self.units) + i, "ambulance", j, j) for i in range(int(n))]
        self.units += [SimUnit(len(self.units) + j, "pumper", j, j) for j in range(len(st))]
        first_of: dict[str, int] = {}
        for j, s in enumerate(st):
            first_of.setdefault(s.district, j)
        self.units += [SimUnit(len(self.units) + i, "rescue", j, j) for i, j in enumerate(first_of.values())]
        for u in self.units:
            u.node = int(self.st_node[u.home])
        self.queue: list[tuple[SimCall, int, str]] = []  # (call, units still needed, unit kind)
        self.response: dict[int, float] = {}
        self.moves = 0
        self.waited = 0
        self._qid: dict[int, int] = {}  # queued call -> its index

    # ---- road times (cached per hour) -------------------------------------------------------------

    def band(self, t: float) -> Band:
        hour = int(t // 3600) % 24
        b = self._bands.get(hour)
        if b is None:
            b = self._bands[hour] = self.roads.band(DAY + timedelta(hours=hour), self.rain)
        return b

    def to(self, node: int, t: float) -> ToPoint:
        key = (int(t // 3600) % 24, node)
        found = self._to.get(key)
        if found is None:
            found = self._to[key] = self.roads.to_node(self.band(t), node)
        return found

    def position(self, u: SimUnit) -> int:
        """The node a unit is at now (the last node passed when driving)."""
        if not u.path:
            return u.node
        k = int(np.searchsorted(u.path_t, self.env.now, side="right")) - 1
        return u.path[max(0, min(k, len(u.path) - 1))]

    # ---- the day -----------------------------------------------------------------------------------

    def run(self) -> Result:
        calls = make_calls(self.city, self.seed)
        for i, c in enumerate(calls):
            self.env.process(self._call(i, c))
        self.env.run()
        amb = [u for u in self.units if u.kind == "ambulance"]
        return Result(
            self.policy,
            self.seed,
            len(calls),
            [self.response.get(i, np.inf) for i in range(len(calls))],
            [c.kind for c in calls],
            float(sum(u.busy_total for u in amb)),
            len(amb),
            self.moves,
            self.waited,
        )

    def _call(self, i: int, c: SimCall) -> Any:
        yield self.env.timeout(c.t + c.handling)
        needs = {"ems": [("ambulance", 1)], "fire": [("pumper", 2)], "rescue": [("rescue", 1)]}[c.kind]
        for kind, count in needs:
            sent = self._send(i, c, kind, count)
            if sent < count:
                self.waited += 1
                self.queue.append((c, count - sent, kind))
                self._qid[id(c)] = i

    def _send(self, i: int, c: SimCall, kind: str, count: int) -> int:
        node = int(self.city.demand.node[c.point])
        sent = 0
        for _ in range(count):
            u = self._choose(kind, c, node)
            if u is None:
                break
            self._dispatch(i, c, u, node)
            sent += 1
        return sent

    def _choose(self, kind: str, c: SimCall, node: int) -> SimUnit | None:
        if self.policy == "closest":
            idle = [u for u in self.units if u.kind == kind and u.idle]
            if not idle:
                return None
            lon, lat = self.city.demand.lon[c.point], self.city.demand.lat[c.point]
            return min(
                idle,
                key=lambda u: (self.st_lon[u.base] - lon) ** 2 + ((self.st_lat[u.base] - lat) * 1.26) ** 2,
            )
        free = [u for u in self.units if u.kind == kind and u.free]
        if not free:
            return None
        to_call = self.to(node, self.env.now)
        return min(
            free, key=lambda u: to_call.seconds[self.position(u)] + (0 if not u.idle else self.cfg.turnout_s)
        )

    def _dispatch(self, i: int, c: SimCall, u: SimUnit, node: int) -> None:
        start = self.position(u)
        turnout = self.cfg.turnout_s if u.idle else 0.0
        travel = float(self.to(node, self.env.now).seconds[start]) + float(self.city.demand.access_s[c.point])
        u.idle = u.free = False
        u.gen += 1
        u.path, u.path_t = [], []
        u.busy_since = self.env.now
        arrive = self.env.now + turnout + travel
        response = arrive - c.t
        if i not in self.response or response < self.response[i]:
            self.response[i] = response
        self.env.process(self._work(u, c, node, turnout + travel))
        if self.policy == "moveup" and u.kind == "ambulance":
            self._move_up()

    def _work(self, u: SimUnit, c: SimCall, node: int, to_scene: float) -> Any:
        yield self.env.timeout(to_scene + c.on_scene)
        at = node
        if c.transport:
            h = self._nearest_hospital(node)
            yield self.env.timeout(float(self.to(int(self.city.hospitals[h]), self.env.now).seconds[node]))
            yield self.env.timeout(c.hospital)
            at = int(self.city.hospitals[h])
        u.busy_total += self.env.now - u.busy_since
        u.node = at
        if self._serve_queue(u):
            return
        if self.policy == "moveup" and u.kind == "ambulance":
            u.base = self._best_base(u, at)
        self._drive_back(u, at)

    def _nearest_hospital(self, node: int) -> int:
        times = [self.to(int(h), self.env.now).seconds[node] for h in self.city.hospitals]
        return int(np.argmin(times))

    def _serve_queue(self, u: SimUnit) -> bool:
        """A unit freed while calls wait takes the oldest one of its kind (recommend/moveup: at once,
        from where it is; closest: only once back at its station, see _arrive)."""
        if self.policy == "closest":
            return False
        return self._take_queued(u)

    def _take_queued(self, u: SimUnit) -> bool:
        for k, (c, n, kind) in enumerate(self.queue):
            if kind == u.kind:
                i = self._qid[id(c)]
                u.free = True
                u.idle = False
                self._dispatch(i, c, u, int(self.city.demand.node[c.point]))
                if n == 1:
                    self.queue.pop(k)
                else:
                    self.queue[k] = (c, n - 1, kind)
                return True
        return False

    def _drive_back(self, u: SimUnit, at: int) -> None:
        base_node = int(self.st_node[u.base])
        back = self.to(base_node, self.env.now)
        path = back.path_from(at) or [at]
        t0 = self.env.now
        u.path = path
        u.path_t = [t0 + (back.seconds[at] - back.seconds[n]) for n in path]
        u.free = self.policy != "closest"
        u.idle = False
        u.gen += 1
        self.env.process(
            self._arrive(u, u.gen, float(back.seconds[at]) if np.isfinite(back.seconds[at]) else 0.0)
        )

    def _arrive(self, u: SimUnit, gen: int, after: float) -> Any:
        yield self.env.timeout(after)
        if u.gen != gen:
            return  # sent elsewhere on the way
        u.path, u.path_t = [], []
        u.node = int(self.st_node[u.base])
        u.idle = u.free = True
        if self.policy == "closest":
            self._take_queued(u)

    # ---- move-up (DMEXCLP) -----------------------------------------------------------------------

    def covers(self) -> np.ndarray:
        """covers[i, j]: station j reaches demand point i within the travel target at this hour."""
        hour = int(self.env.now // 3600) % 24
        found = self._covers.get(hour)
        if found is None:
            d = self.city.demand
            cols = []
            for n in self.st_node:
                t = self.to(int(n), self.env.now).seconds  # from every node to the station...
                cols.append(t[np.maximum(d.node, 0)] + d.access_s <= TRAVEL_TARGET_S)
            found = self._covers[hour] = np.column_stack(cols)  # (road times are near-symmetric here)
        return found

    def _idle_counts(self) -> np.ndarray:
        counts = np.zeros(len(self.city.stations), dtype=np.int64)
        for u in self.units:
            if u.kind == "ambulance" and (u.idle or (u.free and u.path)):
                counts[u.base] += 1
        return counts

    def _busy(self) -> float:
        amb = [u for u in self.units if u.kind == "ambulance"]
        return sum(1 for u in amb if not u.free) / len(amb)

    def _best_base(self, u: SimUnit, at: int) -> int:
        covers = self.covers()
        counts = self._idle_counts()
        q = max(self._busy(), 0.05)
        k = covers.astype(np.int64) @ counts
        gain = (self.city.demand.weight * (1 - q) * q**k) @ covers  # marginal gain of one more unit at j
        back = np.array([self.to(int(n), self.env.now).seconds[at] for n in self.st_node])
        gain = np.where(back <= 900.0, gain, -np.inf)  # within 15 minutes of where it is
        best = int(np.argmax(gain))
        return best if gain[best] > gain[u.home] * 1.05 else u.home

    def _move_up(self) -> None:
        covers = self.covers()
        counts = self._idle_counts()
        move = best_single_move(covers, self.city.demand.weight, counts, max(self._busy(), 0.05))
        if move is None:
            return
        frm, to = move
        cand = [u for u in self.units if u.kind == "ambulance" and u.idle and u.base == frm]
        if not cand:
            return
        u = cand[0]
        u.base = to
        self.moves += 1
        self._drive_back(u, u.node)


def best_single_move(
    covers: np.ndarray, demand: F64, counts: np.ndarray, q: float, levels: int = 3
) -> tuple[int, int] | None:
    """The one move of an idle unit (site a to site b) that adds the most DMEXCLP expected coverage, or
    None when no move adds any: what :func:`safecity.dispatch.moveup.move_up` finds with
    ``max_moves=1``, by enumeration (sites x sites, vectorised with sparse products: the simulation
    calls it at every dispatch)."""
    c = csr_matrix(covers, dtype=np.float64)
    k = covers.astype(np.int64) @ counts

    def gain_k(kk: np.ndarray) -> np.ndarray:  # what the (kk+1)-th covering unit adds
        return np.where((kk >= 0) & (kk < levels), (1 - q) * q ** np.clip(kk, 0, levels), 0.0)

    add = c.T @ (demand * gain_k(k))  # adding one unit at b
    lose = c.T @ (demand * gain_k(k - 1))  # removing one unit from a (its k-th coverage goes)
    # moving a -> b where both cover a point leaves that point's count unchanged: add back the difference
    both = (c.T @ (diags(demand * (gain_k(k - 1) - gain_k(k))) @ c)).toarray()
    delta = -lose[:, None] + add[None, :] + both
    delta[counts <= 0, :] = -np.inf
    np.fill_diagonal(delta, -np.inf)
    a, b = np.unravel_index(int(np.argmax(delta)), delta.shape)
    return (int(a), int(b)) if delta[a, b] > 1e-9 else None


def simulate(city: SimCity, policy: str, seed: int, *, rain: bool = False) -> dict[str, Any]:
    return Simulation(city, policy, seed, rain=rain).run().summary()
