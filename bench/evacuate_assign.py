# SPDX-License-Identifier: Apache-2.0
"""Area evacuation plan: 100,000 residents in 2,000 zones assigned to 300 shelters with capacities.

Prints the HiGHS min-cost transportation LP's time (target, issue 3: ≤ 5 s) and its total travel cost
beside the naive baseline in the same run: zones in order, each filling its nearest shelters that still
have places. Zones and shelters are placed at random over central Seoul (seeded), capacities 200–500
(total 105,000 ± places, i.e. ~5 % slack, so capacity binds).

    .venv/bin/python bench/evacuate_assign.py [--residents 100000] [--zones 2000] [--shelters 300] [--k 8]
        [--network-side 320]

With ``--network-side N`` it also times the plan on road-network walking times (what ``POST
/evacuation/plan`` uses when a network is imported): a generated Seoul-like graph of N×N nodes (bench/
evacuate.py; 320 gives ~100,000 nodes and ~210,000 segments), one multi-source search per batch of zones
or shelters, then the same LP.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from safecity.evacuation.plan import Site, Zone, assign, greedy, straight_line_times


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--residents", type=int, default=100_000)
    ap.add_argument("--zones", type=int, default=2_000)
    ap.add_argument("--shelters", type=int, default=300)
    ap.add_argument("--k", type=int, default=8)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--network-side", type=int, default=0, help="also time network travel (0: skip)")
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    # Population is clustered (denser near a few centres), shelters uniform: nearest shelters overflow.
    centres = rng.uniform([126.90, 37.50], [127.10, 37.62], size=(8, 2))
    pick = rng.integers(0, len(centres), args.zones)
    pts = centres[pick] + rng.normal(0, 0.015, size=(args.zones, 2))
    people = rng.multinomial(args.residents, np.full(args.zones, 1 / args.zones))
    zones = [
        Zone(f"z{i}", float(x), float(y), int(n))
        for i, ((x, y), n) in enumerate(zip(pts, people, strict=True))
    ]
    caps = rng.integers(200, 501, args.shelters)
    spts = rng.uniform([126.90, 37.50], [127.10, 37.62], size=(args.shelters, 2))
    sites = [
        Site(i + 1, float(x), float(y), int(c)) for i, ((x, y), c) in enumerate(zip(spts, caps, strict=True))
    ]

    assign(zones[:10], sites[:10])  # load HiGHS and pyproj once, outside the timing
    start = time.perf_counter()
    plan = assign(zones, sites, k=args.k)
    lp_s = time.perf_counter() - start

    start = time.perf_counter()
    times = straight_line_times(zones, sites)
    x, greedy_cost = greedy(zones, sites, times)
    greedy_s = time.perf_counter() - start
    greedy_unplaced = args.residents - int(x.sum())

    loads = np.zeros(len(sites), dtype=np.int64)
    for i, s in enumerate(sites):
        loads[i] = plan.loads[s.id]
    assert (loads <= caps).all(), "a shelter got more people than its capacity"
    print(
        f"residents {plan.total_people:,} in {len(zones):,} zones -> {len(sites)} shelters, places {int(caps.sum()):,}"
    )
    print(f"HiGHS LP (incl. travel times): {lp_s:.3f} s   target <= 5 s   k={plan.k}")
    print(f"  assigned {plan.assigned:,}  unassigned {plan.unassigned:,}")
    print(
        f"  total travel {plan.cost_person_s / 3600:,.0f} person-hours, mean {plan.cost_person_s / max(plan.assigned, 1) / 60:.1f} min"
    )
    print(f"greedy nearest-with-capacity: {greedy_s:.3f} s, unassigned {greedy_unplaced:,}")
    print(
        f"  total travel {greedy_cost / 3600:,.0f} person-hours, mean {greedy_cost / max(int(x.sum()), 1) / 60:.1f} min"
    )
    print(f"LP cost / greedy cost = {plan.cost_person_s / greedy_cost:.3f}  (lower is better)")
    worst_lp = max((z.time_max_s or 0) for z in plan.zones) / 60
    worst_greedy = float(np.where(x > 0, times, 0).max()) / 60
    print(f"longest walk: LP {worst_lp:.1f} min, greedy {worst_greedy:.1f} min")
    print(f"shelters overflowing if everyone went to the nearest: {len(plan.overflow_if_nearest)}")
    if args.network_side:
        network(args.network_side, args.seed, zones, sites, args.k)


def network(side: int, seed: int, zones: list[Zone], sites: list[Site], k: int) -> None:
    from evacuate import seoul_like_graph  # bench/evacuate.py, on sys.path when run as a script

    from safecity.evacuation.area_plan import network_times
    from safecity.geo.roads.routing import Router

    router = Router(seoul_like_graph(side, seed))
    g = router.graph
    print(f"network: {g.node_count:,} nodes, {g.segment_count:,} segments")
    start = time.perf_counter()
    times = network_times(router, zones, sites)  # walks over DEFAULT_MAX_WALK_S (3 h) are unreachable
    times_s = time.perf_counter() - start
    plan = assign(zones, sites, times, k=k)
    total_s = time.perf_counter() - start
    print(
        f"network travel times {times_s:.3f} s + LP = {total_s:.3f} s   target <= 5 s   "
        f"unreachable pairs {int(np.isinf(times).sum()):,}, unassigned {plan.unassigned:,}"
    )


if __name__ == "__main__":
    main()
