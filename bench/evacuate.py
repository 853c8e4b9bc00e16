# SPDX-License-Identifier: Apache-2.0
"""Evacuation routing on a city-scale road graph: point -> nearest suitable open shelter.

No Seoul-wide OSM extract is available offline (see ../shared/data/roads/PROVENANCE.md), so the graph is
generated, deterministically (seed): a perturbed grid of ~70,000 nodes over Seoul's extent (126.76-127.18 E,
37.43-37.70 N, ~37 x 30 km) with a hierarchy of roads (urban expressway every 24th line at 70 km/h,
arterial every 6th at 50 km/h, residential 30 km/h), 20 % of residential streets one-way, some diagonal
lanes, a few hundred road closures (short lines across random streets, avoided through the same STRtree
masking as live closures) and 300 shelters at random positions.

For each of >= 200 random origins it times one evacuation route with :class:`safecity.geo.roads.routing.Router`
(snap origin and shelters, then the cached reversed multi-source search from all shelters, path and
geometry; the one-off cost of that search is printed as "field build" — it is paid again whenever closures,
hazard zones or the set of usable shelters change), the same route with the router's uncached forward
search (one bounded Dijkstra per query), and the same query with networkx
(``multi_source_dijkstra`` from all shelter nodes on the reversed graph, stopping at the origin: networkx's
fastest way to the nearest of many targets) on the same graph and weights, and checks both give the same
travel time. Prints p50/p99 per mode and the ratio. Targets (issue 3): p99 <= 20 ms, ratio >= 20x.
A second, generous networkx figure is printed too: ``single_source_dijkstra`` from the origin with the
cutoff set to the answer's travel time (which a real networkx search could not know in advance), i.e. the
least work any forward networkx search must do.

    .venv/bin/python bench/evacuate.py [--side 265] [--origins 300] [--shelters 300] [--seed 7]
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import time

import networkx as nx
import numpy as np
import pyproj
from shapely.geometry import LineString

from safecity.geo.roads.graph import DRIVE_BWD, DRIVE_FWD, WALK, Mode, RoadGraph
from safecity.geo.roads.routing import Avoid, Router

BBOX = (126.76, 37.43, 127.18, 37.70)


def seoul_like_graph(side: int, seed: int) -> RoadGraph:
    rng = np.random.default_rng(seed)
    w, s, e, n = BBOX
    lon_step = (e - w) / (side - 1)
    lat_step = (n - s) / (side - 1)
    ii, jj = np.meshgrid(np.arange(side), np.arange(side), indexing="ij")
    lon = w + jj * lon_step + rng.uniform(-0.3, 0.3, ii.shape) * lon_step
    lat = s + ii * lat_step + rng.uniform(-0.3, 0.3, ii.shape) * lat_step
    node = (ii * side + jj).ravel()
    idx = node.reshape(side, side)

    us, vs, kinds = [], [], []
    # Horizontal streets along row i, vertical along column j; the line index decides the class.
    for horizontal in (True, False):
        a = idx[:, :-1] if horizontal else idx[:-1, :]
        b = idx[:, 1:] if horizontal else idx[1:, :]
        line = (ii[:, :-1] if horizontal else jj[:-1, :]).ravel()
        us.append(a.ravel())
        vs.append(b.ravel())
        kinds.append(np.where(line % 24 == 0, 2, np.where(line % 6 == 0, 1, 0)))
    # Diagonal lanes in 8 % of the cells.
    diag = rng.random((side - 1, side - 1)) < 0.08
    us.append(idx[:-1, :-1][diag])
    vs.append(idx[1:, 1:][diag])
    kinds.append(np.zeros(int(diag.sum()), dtype=np.int64))
    u = np.concatenate(us).astype(np.int32)
    v = np.concatenate(vs).astype(np.int32)
    kind = np.concatenate(kinds).astype(np.uint8)

    drive_kmh = np.array([30.0, 50.0, 70.0])[kind]
    flags = np.full(u.shape, DRIVE_FWD | DRIVE_BWD | WALK, dtype=np.uint8)
    expressway = kind == 2
    flags[expressway] &= ~np.uint8(WALK)
    oneway = (kind == 0) & (rng.random(u.shape) < 0.2)
    backwards = oneway & (rng.random(u.shape) < 0.5)
    flags[oneway & ~backwards] &= ~np.uint8(DRIVE_BWD)
    flags[backwards] &= ~np.uint8(DRIVE_FWD)
    lon_f, lat_f = lon.ravel(), lat.ravel()
    _, _, length = pyproj.Geod(ellps="WGS84").inv(lon_f[u], lat_f[u], lon_f[v], lat_f[v])
    return RoadGraph(
        node_lon=lon_f.astype(np.float64),
        node_lat=lat_f.astype(np.float64),
        node_osm=np.arange(side * side, dtype=np.int64),
        seg_u=u,
        seg_v=v,
        seg_length_m=np.asarray(length, dtype=np.float64),
        seg_way=np.zeros(u.shape, dtype=np.int64),
        seg_class=kind,
        seg_flags=flags,
        seg_drive_kmh=drive_kmh,
        seg_walk_kmh=np.where(expressway, 0.0, 4.5),
        classes=("residential", "primary", "trunk"),
        source=f"generated seed={seed}",
    )


def closures(g: RoadGraph, count: int, rng: random.Random) -> tuple[LineString, ...]:
    """Short lines across the middle of random streets."""
    out = []
    for s in rng.sample(range(g.segment_count), count):
        x0, y0 = g.node_lon[g.seg_u[s]], g.node_lat[g.seg_u[s]]
        x1, y1 = g.node_lon[g.seg_v[s]], g.node_lat[g.seg_v[s]]
        mx, my = (x0 + x1) / 2, (y0 + y1) / 2
        dx, dy = (x1 - x0) * 0.1, (y1 - y0) * 0.1
        out.append(LineString([(mx - dy, my + dx), (mx + dy, my - dx)]))
    return tuple(out)


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--side", type=int, default=265, help="grid side: side^2 nodes (265 -> 70,225)")
    ap.add_argument("--origins", type=int, default=300)
    ap.add_argument("--shelters", type=int, default=300)
    ap.add_argument("--closures", type=int, default=300)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()

    t0 = time.perf_counter()
    g = seoul_like_graph(args.side, args.seed)
    rng = random.Random(args.seed)
    avoid = Avoid(closures=closures(g, args.closures, rng))
    router = Router(g)
    print(
        f"graph: {g.node_count:,} nodes, {g.segment_count:,} segments, "
        f"{len(router.edges(Mode.drive).src):,} drive + {len(router.edges(Mode.walk).src):,} walk directed edges, "
        f"{int(np.count_nonzero((g.seg_flags & 3) != 3)):,} one-way, {args.closures} closures "
        f"(built in {time.perf_counter() - t0:.1f} s)"
    )
    w, s, e, n = BBOX
    shelters = [(rng.uniform(w, e), rng.uniform(s, n)) for _ in range(args.shelters)]
    origins = [
        (rng.uniform(w + 0.01, e - 0.01), rng.uniform(s + 0.01, n - 0.01)) for _ in range(args.origins)
    ]

    for mode in (Mode.walk, Mode.drive):
        start = time.perf_counter()
        router.nearest(origins[0], shelters, mode, avoid)  # closure mask, matrix and shelter field
        build = (time.perf_counter() - start) * 1000
        ours: list[float] = []
        results = []
        for o in origins:
            start = time.perf_counter()
            route = router.nearest(o, shelters, mode, avoid)
            ours.append((time.perf_counter() - start) * 1000)
            results.append(route)
        router.field_min_targets = 10**9  # the same queries with a fresh bounded search each
        forward: list[float] = []
        for o, cached in zip(origins, results, strict=True):
            start = time.perf_counter()
            route = router.nearest(o, shelters, mode, avoid)
            forward.append((time.perf_counter() - start) * 1000)
            assert math.isclose(route.duration_s, cached.duration_s, rel_tol=1e-9)
        router.field_min_targets = 16

        # networkx on the very same edges and weights (closures removed, parallel edges reduced).
        searched = router._net(mode, avoid).edges
        rev = nx.DiGraph()
        rev.add_weighted_edges_from(
            zip(searched.dst.tolist(), searched.src.tolist(), searched.seconds.tolist(), strict=True)
        )
        shelter_nodes, _ = router.snap_many(
            np.array([p[0] for p in shelters]), np.array([p[1] for p in shelters]), mode
        )
        sources = {int(x) for x in shelter_nodes if x >= 0 and x in rev}
        fwd = rev.reverse(copy=False)
        theirs: list[float] = []
        oracle: list[float] = []
        mismatches = 0
        for route in results:
            origin_node = int(route.nodes[0])
            start = time.perf_counter()
            length, _path = nx.multi_source_dijkstra(rev, sources, target=origin_node)
            theirs.append((time.perf_counter() - start) * 1000)
            if not math.isclose(length, route.duration_s, rel_tol=1e-9):
                mismatches += 1
            start = time.perf_counter()
            nx.single_source_dijkstra(fwd, origin_node, cutoff=route.duration_s)
            oracle.append((time.perf_counter() - start) * 1000)
        p50, p99 = pct(ours, 50), pct(ours, 99)
        n50, n99 = pct(theirs, 50), pct(theirs, 99)
        print(
            f"{mode.value:5s} route to nearest of {len(shelters)} shelters, {len(origins)} origins: "
            f"p50 {p50:.2f} ms, p99 {p99:.2f} ms (target <= 20 ms) | networkx p50 {n50:.2f} ms, p99 {n99:.2f} ms | "
            f"ratio p99 {n99 / p99:.1f}x, p50 {n50 / p50:.1f}x (goal >= 20x) | "
            f"mean route {statistics.fmean(r.distance_m for r in results):.0f} m, "
            f"{statistics.fmean(r.duration_s for r in results) / 60:.1f} min | "
            f"travel times differing from networkx: {mismatches}"
        )
        print(
            f"      field build (once per change) {build:.1f} ms | uncached forward search: p50 "
            f"{pct(forward, 50):.2f} ms, p99 {pct(forward, 99):.2f} ms, ratio to networkx p99 "
            f"{n99 / pct(forward, 99):.1f}x"
        )
        print(
            f"      networkx single_source with the answer as cutoff: p50 {pct(oracle, 50):.2f} ms, "
            f"p99 {pct(oracle, 99):.2f} ms | ratio p99 {pct(oracle, 99) / p99:.1f}x, p50 {pct(oracle, 50) / p50:.1f}x"
        )


if __name__ == "__main__":
    main()
