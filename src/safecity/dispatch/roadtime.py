# SPDX-License-Identifier: Apache-2.0
"""Live road time for emergency vehicles: time-dependent speeds (hour x day kind x road class, a rain
factor, the slower centre) on the road graph of :mod:`safecity.geo.roads`, avoiding closed and flooded
roads and hazard zones.

Searches use scipy.sparse.csgraph's Dijkstra (C, on a CSR matrix: the well-kept choice for many
searches on one static graph; networkx is the independent reference the tests compare against):

* *to one point* (a call): one search from the call on the reversed graph gives every node's road time
  to the call, so every unit is ranked by one search whatever their number;
* *from many points* (coverage): one multi-source search from every available unit (``min_only``) gives
  each node's time from its nearest unit.

A matrix is built per (day kind, hour, rain, avoided geometries) and cached: the speeds change by the
hour, closures a few times an hour.
"""

from __future__ import annotations

import threading
import tomllib
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from importlib import resources
from zoneinfo import ZoneInfo

import numpy as np
import shapely
from scipy.sparse import csr_matrix  # type: ignore[import-untyped]
from scipy.sparse.csgraph import dijkstra  # type: ignore[import-untyped]
from shapely.geometry.base import BaseGeometry

from safecity.geo.roads.graph import F64, I32, I64, MIN_EDGE_SECONDS, Mode, RoadGraph
from safecity.geo.roads.routing import Avoid, Router

KST = ZoneInfo("Asia/Seoul")
#: Speed on foot-or-slow access from a call's point to the nearest road node (the last metres of a call
#: are driven slowly or walked with the stretcher); UNCONFIRMED judgement.
ACCESS_KMH = 10.0
#: The centre (도심) of the surveys: Jongno-gu and Jung-gu.
CENTRE_DISTRICTS = ("11110", "11140")
CACHE_SIZE = 16
#: Positions whose snapped node is remembered (cleared when full).
SNAP_CACHE_SIZE = 50_000


@dataclass(frozen=True)
class SpeedModel:
    """``data/speeds.toml`` (sources and UNCONFIRMED marks there)."""

    base_kmh: dict[str, float]
    profiles: dict[str, tuple[float, ...]]
    rain_factor: float
    emergency_factor: float
    centre_factor: float

    @staticmethod
    @cache
    def shipped() -> SpeedModel:
        text = resources.files("safecity.dispatch").joinpath("data/speeds.toml").read_text("utf-8")
        raw = tomllib.loads(text)
        profiles = {k: tuple(float(x) for x in v) for k, v in raw["profile"].items()}
        for kind, values in profiles.items():
            if len(values) != 24:
                raise ValueError(f"speeds.toml: profile.{kind} has {len(values)} values, not 24")
        return SpeedModel(
            base_kmh={k: float(v) for k, v in raw["base_kmh"].items()},
            profiles=profiles,
            rain_factor=float(raw["rain_factor"]),
            emergency_factor=float(raw["emergency_factor"]),
            centre_factor=float(raw["centre_factor"]),
        )

    @staticmethod
    def day_kind(when: datetime) -> tuple[str, int]:
        local = when.astimezone(KST)
        kind = "weekend" if local.weekday() >= 5 else "friday" if local.weekday() == 4 else "weekday"
        return kind, local.hour

    def factor(self, kind: str, hour: int, rain: bool) -> float:
        return self.profiles[kind][hour] * (self.rain_factor if rain else 1.0) * self.emergency_factor


@dataclass(frozen=True)
class Band:
    """One searchable network: the speeds of one hour, with the avoided roads removed."""

    csr: csr_matrix  # forward: row u, column v = seconds from u to v
    rev: csr_matrix  # reversed (transpose), for searches towards one point
    blocked: np.ndarray  # bool per segment
    edge_segment: I64  # segment of each stored edge (forward CSR order)
    top_mps: float = np.inf  # the fastest edge's speed (m/s): road time >= straight line / top_mps


@dataclass(frozen=True)
class ToPoint:
    """Road time from every node to one node, and each node's next node on the way (-9999: none)."""

    node: int
    seconds: F64
    next_node: I32

    def path_from(self, start: int) -> list[int]:
        if not np.isfinite(self.seconds[start]):
            return []
        out = [start]
        while out[-1] != self.node:
            nxt = int(self.next_node[out[-1]])
            if nxt < 0 or len(out) > self.seconds.shape[0]:
                return []
            out.append(nxt)
        return out


class RoadTimes:
    """Time-dependent road times on one graph (thread-safe; build a new one for a new graph)."""

    def __init__(
        self,
        graph: RoadGraph,
        model: SpeedModel | None = None,
        *,
        router: Router | None = None,
        centre: BaseGeometry | None = None,
    ) -> None:
        self.graph = graph
        self.model = model or SpeedModel.shipped()
        self.router = router or Router(graph)
        edges = graph.directed(Mode.drive)
        self._src, self._dst, self._seg = edges.src, edges.dst, edges.segment
        self._len = edges.metres
        names = graph.classes
        default = self.model.base_kmh["default"]
        class_kmh = np.array([self.model.base_kmh.get(c, default) for c in names] or [default])
        seg_kmh = class_kmh[graph.seg_class] if graph.segment_count else np.zeros(0)
        if centre is None:
            centre = _centre()
        if centre is not None and graph.segment_count:
            mid_lon = (graph.node_lon[graph.seg_u] + graph.node_lon[graph.seg_v]) / 2
            mid_lat = (graph.node_lat[graph.seg_u] + graph.node_lat[graph.seg_v]) / 2
            inside = shapely.contains_xy(centre, mid_lon, mid_lat)
            seg_kmh = np.where(inside, seg_kmh * self.model.centre_factor, seg_kmh)
        self._edge_kmh = seg_kmh[self._seg]
        self._bands: OrderedDict[tuple[object, ...], Band] = OrderedDict()
        self._lock = threading.RLock()
        # units stand at a few hundred places (their stations, their last fixes): snapping each anew per
        # recommendation cost more than the search itself
        self._snapped: dict[tuple[float, float], tuple[int, float]] = {}

    # ---- networks --------------------------------------------------------------------------------

    def edge_seconds(self, when: datetime, rain: bool = False) -> F64:
        """Seconds of every directed drive edge (``graph.directed(Mode.drive)`` order) at ``when``."""
        kind, hour = self.model.day_kind(when)
        kmh = self._edge_kmh * self.model.factor(kind, hour, rain)
        return np.maximum(self._len / np.maximum(kmh, 0.1) * 3.6, MIN_EDGE_SECONDS)

    def band(self, when: datetime, rain: bool = False, avoid: Avoid | None = None) -> Band:
        avoid = avoid or Avoid()
        kind, hour = self.model.day_kind(when)
        key = (kind, hour, rain, *_avoid_key(avoid))
        with self._lock:
            found = self._bands.get(key)
            if found is not None:
                self._bands.move_to_end(key)
                return found
            blocked = self.router.blocked_segments(avoid)
            keep = ~blocked[self._seg]
            seconds = self.edge_seconds(when, rain)[keep]
            src, dst, seg = self._src[keep], self._dst[keep], self._seg[keep]
            top = float(np.max(self._len[keep] / seconds)) if seconds.size else np.inf
            # scipy sums parallel edges: keep the fastest of each (u, v) pair
            order = np.lexsort((seconds, dst, src))
            src, dst, seconds, seg = src[order], dst[order], seconds[order], seg[order]
            first = np.ones(src.shape[0], dtype=bool)
            first[1:] = (src[1:] != src[:-1]) | (dst[1:] != dst[:-1])
            src, dst, seconds, seg = src[first], dst[first], seconds[first], seg[first]
            n = self.graph.node_count
            csr = csr_matrix((seconds, (src, dst)), shape=(n, n))
            csr.sort_indices()
            band = Band(csr, csr.T.tocsr(), blocked, seg, top)
            self._bands[key] = band
            if len(self._bands) > CACHE_SIZE:
                self._bands.popitem(last=False)
            return band

    # ---- searches --------------------------------------------------------------------------------

    def to_node(self, band: Band, node: int, limit: float = np.inf) -> ToPoint:
        """Road time from every node to ``node`` (one search on the reversed graph)."""
        dist, pred = dijkstra(band.rev, directed=True, indices=node, limit=limit, return_predecessors=True)
        return ToPoint(node, dist, pred.astype(np.int32))

    def from_node(self, band: Band, node: int, limit: float = np.inf) -> F64:
        """Road time from ``node`` to every node (one search on the forward graph)."""
        dist: F64 = dijkstra(band.csr, directed=True, indices=node, limit=limit)
        return dist

    def from_nodes(self, band: Band, nodes: I64, limit: float = np.inf) -> tuple[F64, I32]:
        """Multi-source search: each node's road time from the nearest of ``nodes``, and which of them
        (index into ``nodes``; -1 where none is within ``limit``)."""
        if nodes.size == 0:
            n = self.graph.node_count
            return np.full(n, np.inf), np.full(n, -1, dtype=np.int32)
        uniq, first = np.unique(nodes, return_index=True)
        dist, _, sources = dijkstra(
            band.csr, directed=True, indices=uniq, limit=limit, min_only=True, return_predecessors=True
        )
        index_of = np.full(self.graph.node_count, -1, dtype=np.int64)
        index_of[uniq] = first
        which = np.where(sources >= 0, index_of[np.maximum(sources, 0)], -1).astype(np.int32)
        return dist, which

    def snap(self, lon: F64, lat: F64) -> tuple[I64, F64]:
        """Nearest drivable node of each point and the access time from the point to it (seconds);
        node -1 where the point is farther than the router's snapping distance."""
        nodes, dist_m = self.router.snap_many(lon, lat, Mode.drive)
        return nodes, dist_m / (ACCESS_KMH / 3.6)

    def snap_cached(self, lon: F64, lat: F64) -> tuple[I64, F64]:
        """:meth:`snap`, remembering each position's answer (the graph never changes under a RoadTimes)."""
        known = self._snapped
        found = [known.get(p) for p in zip(lon.tolist(), lat.tolist(), strict=True)]
        todo = [i for i, f in enumerate(found) if f is None]
        if todo:
            nodes, access = self.snap(lon[todo], lat[todo])
            if len(known) + len(todo) > SNAP_CACHE_SIZE:
                known.clear()
            for j, i in enumerate(todo):
                found[i] = known[(float(lon[i]), float(lat[i]))] = (int(nodes[j]), float(access[j]))
        out_nodes = np.fromiter((f[0] for f in found if f is not None), dtype=np.int64, count=len(found))
        out_access = np.fromiter((f[1] for f in found if f is not None), dtype=np.float64, count=len(found))
        return out_nodes, out_access

    def line(self, nodes: list[int]) -> list[list[float]]:
        g = self.graph
        idx = np.asarray(nodes, dtype=np.int64)
        pts: list[list[float]] = np.column_stack([g.node_lon[idx], g.node_lat[idx]]).round(6).tolist()
        return pts

    def path_segments(self, band: Band, nodes: list[int]) -> I64:
        """The segments a node path drives over (for checking it avoids every blocked road)."""
        if len(nodes) < 2:
            return np.zeros(0, dtype=np.int64)
        a, b = np.asarray(nodes[:-1]), np.asarray(nodes[1:])
        out = []
        for u, v in zip(a, b, strict=True):
            lo, hi = band.csr.indptr[u], band.csr.indptr[u + 1]
            pos = lo + int(np.searchsorted(band.csr.indices[lo:hi], v))
            out.append(int(band.edge_segment[pos]))  # CSR positions follow the sorted, unique edges
        return np.asarray(out, dtype=np.int64)


def _avoid_key(avoid: Avoid) -> tuple[object, ...]:
    return (
        tuple(shapely.to_wkb(g) for g in avoid.closures),
        tuple(shapely.to_wkb(g) for g in avoid.hazards),
        avoid.flood_prone,
    )


@cache
def _centre() -> BaseGeometry | None:
    from safecity.geo.seoul import districts

    parts = [d.polygon for d in districts() if d.code in CENTRE_DISTRICTS]
    return shapely.union_all(parts) if parts else None
