# SPDX-License-Identifier: Apache-2.0
"""Coverage: which places the available units reach within 5 and 7 minutes, kept up to date after
every status change without searching again.

Each unit's reach (its road times to every node within the longest threshold) is searched once per
(position, hour band, closures) and cached as a sparse list; the city map after a status change is the
element-wise minimum over the available units' lists, a few milliseconds even on a 100,000-node
network. Demand points (dongs weighted by population) read their node's time from that map.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely

from safecity.dispatch.roadtime import Band, RoadTimes
from safecity.geo.roads.graph import F64, I64

THRESHOLDS_S = (300.0, 420.0)  # 5 and 7 minutes of travel


@dataclass(frozen=True)
class Reach:
    nodes: I64
    seconds: F64


@dataclass(frozen=True)
class DemandPoints:
    """Where calls come from: one point per area (a dong), its weight (residents) and road node."""

    code: tuple[str, ...]
    district: tuple[str, ...]
    lon: F64
    lat: F64
    weight: F64
    node: I64  # -1: off the network
    access_s: F64


def demand_points(roads: RoadTimes, areas: list[tuple[str, str, Any, float]]) -> DemandPoints:
    """``areas``: (code, district, polygon, weight). The point is the polygon's representative point."""
    pts = [a[2].representative_point() for a in areas]
    lon = np.array([p.x for p in pts], dtype=np.float64)
    lat = np.array([p.y for p in pts], dtype=np.float64)
    node, access = roads.snap(lon, lat)
    return DemandPoints(
        tuple(a[0] for a in areas),
        tuple(a[1] for a in areas),
        lon,
        lat,
        np.array([a[3] for a in areas], dtype=np.float64),
        node,
        access,
    )


class CoverageMap:
    """The best road time from any available unit to every node (and demand point)."""

    def __init__(self, roads: RoadTimes, band: Band, limit_s: float = THRESHOLDS_S[-1]) -> None:
        self.roads = roads
        self.band = band
        self.limit_s = limit_s
        self._reach: dict[int, Reach] = {}

    def reach(self, node: int) -> Reach:
        found = self._reach.get(node)
        if found is None:
            dist = self.roads.from_nodes(self.band, np.array([node], dtype=np.int64), self.limit_s)[0]
            hit = np.flatnonzero(np.isfinite(dist))
            found = self._reach[node] = Reach(hit.astype(np.int64), dist[hit])
        return found

    def best(self, unit_nodes: I64) -> F64:
        """Every node's road time from the nearest of ``unit_nodes`` (inf beyond the limit)."""
        out = np.full(self.roads.graph.node_count, np.inf)
        for n in np.unique(unit_nodes[unit_nodes >= 0]):
            r = self.reach(int(n))
            # a reach lists each node once, so a gather-min-scatter is exact (and far faster than minimum.at)
            out[r.nodes] = np.minimum(out[r.nodes], r.seconds)
        return out

    def summary(self, unit_nodes: I64, demand: DemandPoints) -> dict[str, Any]:
        """Weighted shares of demand within each threshold, and each demand point's best time."""
        best = self.best(unit_nodes)
        t = np.where(demand.node >= 0, best[np.maximum(demand.node, 0)] + demand.access_s, np.inf)
        total = float(demand.weight.sum()) or 1.0
        shares = {
            f"within{int(s // 60)}min": float(demand.weight[t <= s].sum() / total) for s in THRESHOLDS_S
        }
        return {"shares": shares, "seconds": t}


def reach_polygons(roads: RoadTimes, reach: Reach, thresholds: tuple[float, ...] = THRESHOLDS_S) -> list[Any]:
    """The area a unit reaches within each threshold, as a concave hull of the reached nodes (for the
    map; GEOS's concave hull, ratio 0.3: follows the street grid without holes)."""
    out: list[Any] = []
    g = roads.graph
    for s in thresholds:
        idx = reach.nodes[reach.seconds <= s]
        if idx.size < 3:
            out.append(None)
            continue
        pts = shapely.multipoints(np.column_stack([g.node_lon[idx], g.node_lat[idx]]))
        out.append(shapely.concave_hull(pts, ratio=0.3))
    return out
