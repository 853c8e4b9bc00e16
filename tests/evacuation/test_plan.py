# SPDX-License-Identifier: Apache-2.0
"""The area evacuation plan (HiGHS transportation LP) on the real shelter points of central Seoul."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import linprog  # type: ignore[import-untyped]

from safecity.core.errors import BadRequest
from safecity.evacuation.plan import Plan, Site, Zone, assign, greedy, straight_line_times
from tests.evacuation.shelter_data import load_records


def real_sites(n: int = 500, full_every: int = 0) -> list[Site]:
    """Sites at the real shelter points; every ``full_every``-th one is at capacity (0 places)."""
    out = []
    for i, r in enumerate(load_records(limit=n)):
        places = 0 if full_every and i % full_every == 0 else r["capacity"]
        out.append(Site(i + 1, r["geom"].x, r["geom"].y, places, r["name_ko"]))
    return out


def zones_around(sites: list[Site], n: int, total: int, seed: int = 7) -> list[Zone]:
    rng = np.random.default_rng(seed)
    lon = [s.lon for s in sites]
    lat = [s.lat for s in sites]
    people = rng.multinomial(total, np.full(n, 1 / n))
    return [
        Zone(f"z{i}", rng.uniform(min(lon), max(lon)), rng.uniform(min(lat), max(lat)), int(people[i]))
        for i in range(n)
    ]


def check_plan(plan: Plan, zones: list[Zone], sites: list[Site]) -> None:
    """The invariants every plan keeps."""
    places = {s.id: s.places for s in sites}
    for sid, load in plan.loads.items():
        assert load <= places[sid], f"shelter {sid} gets {load} > {places[sid]} places"
        if places[sid] == 0:
            assert load == 0
    assert plan.assigned + plan.unassigned == plan.total_people == sum(z.people for z in zones)
    for zp, z in zip(plan.zones, zones, strict=True):
        assert sum(leg.people for leg in zp.legs) + zp.unassigned == z.people
        assert all(leg.people > 0 for leg in zp.legs)
    assert sum(plan.loads.values()) == plan.assigned


def test_plan_respects_capacity_and_beats_greedy() -> None:
    sites = real_sites(full_every=5)
    zones = zones_around(sites, 400, 40_000)
    plan = assign(zones, sites)
    check_plan(plan, zones, sites)
    assert plan.unassigned == 0
    _, greedy_cost = greedy(zones, sites, straight_line_times(zones, sites))
    assert plan.cost_person_s <= greedy_cost + 1e-6
    # the "if nothing is done" comparison: some nearest shelters overflow, and full ones certainly do
    assert plan.overflow_if_nearest
    assert all(o.demand > o.places for o in plan.overflow_if_nearest)
    for zp in plan.zones:
        if zp.legs:
            assert zp.time_max_s == max(leg.time_s for leg in zp.legs)
            assert zp.time_mean_s is not None and zp.time_mean_s <= zp.time_max_s


def test_capacity_holds_exactly_when_places_are_short() -> None:
    sites = real_sites(n=50)
    total_places = sum(s.places for s in sites)
    zones = zones_around(sites, 80, total_places + 1234)
    plan = assign(zones, sites, k=3)
    check_plan(plan, zones, sites)
    assert plan.unassigned == 1234  # every place is used, the rest are reported unplaced
    assert all(plan.loads[s.id] == s.places for s in sites)


def test_k_grows_when_nearest_shelters_are_full() -> None:
    # all residents in one spot whose 2 nearest shelters are tiny: the LP must look further
    sites = [Site(1, 127.0, 37.5, 5), Site(2, 127.001, 37.5, 5), Site(3, 127.05, 37.5, 1000)]
    zones = [Zone("a", 127.0, 37.5001, 300)]
    plan = assign(zones, sites, k=2)
    check_plan(plan, zones, sites)
    assert plan.unassigned == 0 and plan.loads == {1: 5, 2: 5, 3: 290}


def test_lp_is_optimal_against_scipy() -> None:
    sites = real_sites(n=12)
    zones = zones_around(sites, 15, 1500, seed=3)
    t = straight_line_times(zones, sites)
    plan = assign(zones, sites, t, k=len(sites))
    nz, ns = t.shape
    a_eq = np.zeros((nz, nz * ns))
    a_ub = np.zeros((ns, nz * ns))
    for z in range(nz):
        a_eq[z, z * ns : (z + 1) * ns] = 1
        for s in range(ns):
            a_ub[s, z * ns + s] = 1
    ref = linprog(
        t.reshape(-1),
        A_ub=a_ub,
        b_ub=[s.places for s in sites],
        A_eq=a_eq,
        b_eq=[z.people for z in zones],
        method="highs-ds",
    )
    assert ref.status == 0
    assert plan.cost_person_s == pytest.approx(ref.fun, rel=1e-9)


def test_travel_time_callable_and_unreachable_pairs() -> None:
    sites = [Site(1, 127.0, 37.5, 100), Site(2, 127.01, 37.5, 100)]
    zones = [Zone("a", 127.0, 37.5, 50), Zone("b", 127.01, 37.5, 50)]

    def network(zs: object, ss: object) -> np.ndarray:
        # zone a cannot reach site 1 (a closed bridge, say)
        return np.array([[np.inf, 600.0], [400.0, 60.0]])

    plan = assign(zones, sites, network)
    check_plan(plan, zones, sites)
    assert plan.zones[0].legs[0].site_id == 2
    assert plan.cost_person_s == pytest.approx(50 * 600 + 50 * 60)


def test_bad_input_is_named() -> None:
    with pytest.raises(BadRequest, match=r"zones\[0\]\.people"):
        assign([Zone("a", 127.0, 37.5, -1)], [Site(1, 127.0, 37.5, 1)])
    with pytest.raises(BadRequest, match="shape"):
        assign([Zone("a", 127.0, 37.5, 1)], [Site(1, 127.0, 37.5, 1)], np.zeros((2, 2)))


#: Exact: integer data, and the LP's vertex optimum is integral.
TEXTBOOK_COST_TOLERANCE = 1e-9


def test_textbook_transportation_problem() -> None:
    """The P & T Company problem (Hillier & Lieberman, Introduction to Operations Research, ch. 9
    "The Transportation and Assignment Problems"): 3 canneries (supply 75, 125, 100) ship to
    4 warehouses (demand 80, 65, 70, 85); the book's optimum costs $152,535 with shipments
    x12=20, x14=55, x21=80, x22=45, x33=70, x34=30. Canneries play shelters, warehouses zones."""
    cost = np.array([[464, 513, 654, 867], [352, 416, 690, 791], [995, 682, 388, 685]], dtype=np.float64)
    zones = [Zone(f"w{j + 1}", 127.0, 37.5, d) for j, d in enumerate([80, 65, 70, 85])]
    sites = [Site(i + 1, 127.0, 37.5, s) for i, s in enumerate([75, 125, 100])]
    plan = assign(zones, sites, cost.T.copy(), k=1)
    check_plan(plan, zones, sites)
    assert plan.cost_person_s == pytest.approx(152_535, rel=TEXTBOOK_COST_TOLERANCE)
    shipped = {(leg.site_id, int(z.zone_id[1:])): leg.people for z in plan.zones for leg in z.legs}
    assert shipped == {(1, 2): 20, (1, 4): 55, (2, 1): 80, (2, 2): 45, (3, 3): 70, (3, 4): 30}
