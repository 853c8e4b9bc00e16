# SPDX-License-Identifier: Apache-2.0
"""Shortest paths by travel time on a :class:`RoadGraph`, avoiding closed roads and hazard polygons.

One :class:`Router` per loaded graph. Per mode it keeps a CSR matrix (scipy.sparse) of the directed
edges weighted by travel time in seconds, and a k-d tree over the mode's node positions in a local
azimuthal-equidistant projection (metres) centred on the network, used to snap points to the network.

Avoiding: a segment is blocked when its geometry intersects any closure or hazard geometry (shapely
STRtree over the segments, queried once per distinct set of geometries and cached), or, when asked, when
it is flood-prone (bridge, tunnel, underpass). A hazard zone that contains the origin does not block:
the person is inside it and has to get out.

"Nearest target", few targets: one Dijkstra search (scipy.sparse.csgraph.dijkstra) from the origin,
bounded by a travel-time ``limit`` that grows until a target is reached. A target reached within the limit
is the true nearest one: Dijkstra's distances are exact for every node settled below the limit, and any
target not reached is farther than the limit.

"Nearest target", many targets (shelters): one multi-source Dijkstra from all targets at once on the
reversed graph (``min_only``) gives, for every node, the travel time to its nearest target, that target
and the next node on the way. It is cached per (mode, avoided geometries, target nodes): it changes when a
closure, hazard zone or the set of usable shelters changes, and in between every route is a walk along
the cached "next node" array. An origin inside a hazard zone gets a fresh search instead (its zone is
exempt, so the avoided set differs).
"""

from __future__ import annotations

import hashlib
import itertools
import math
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pyproj
import shapely
from scipy.sparse import csr_matrix  # type: ignore[import-untyped]
from scipy.sparse.csgraph import dijkstra  # type: ignore[import-untyped]
from scipy.spatial import cKDTree  # type: ignore[import-untyped]
from shapely.geometry import LineString, Point
from shapely.geometry.base import BaseGeometry

from safecity.core.errors import SafecityError
from safecity.geo.roads.graph import F64, FLOOD_PRONE, I32, I64, DirectedEdges, Mode, RoadGraph

#: How far a point may be from the nearest usable road node, metres, and still be routed. 500 m is a
#: few city blocks: farther than that, the point is outside the area the imported network covers.
MAX_SNAP_M = 500.0

#: From this many distinct target nodes on, "nearest target" uses a cached multi-source search (below).
FIELD_MIN_TARGETS = 16

#: Distinct sets of avoided geometries kept ready (blocked masks and CSR matrices). Closures and hazard
#: zones change a few times an hour; a handful of entries covers the current and the previous state.
CACHE_SIZE = 8


class RoadNetworkMissing(SafecityError):
    status = 503
    code = "road_network_missing"


class OutsideNetwork(SafecityError):
    status = 422
    code = "outside_network"


class NoRoute(SafecityError):
    status = 404
    code = "no_route"


@dataclass(frozen=True)
class Avoid:
    """What a route must not touch. Geometries are WGS84 (lon/lat)."""

    closures: tuple[BaseGeometry, ...] = ()
    hazards: tuple[BaseGeometry, ...] = ()
    flood_prone: bool = False


@dataclass(frozen=True)
class Route:
    """A route on the network. ``target`` is the index of the reached target in the list given."""

    target: int
    distance_m: float
    duration_s: float
    nodes: I64  # node indices, origin first
    segments: I64  # segment ids, in order
    ways: tuple[int, ...]  # OSM way ids of the segments, consecutive repeats removed
    line: LineString  # WGS84, through every node of the path
    snap_m: float  # from the given origin to the node the route starts at


@dataclass(frozen=True)
class _Net:
    """One searchable matrix and its edges in CSR order (position i of ``edges`` is entry i of ``csr``)."""

    csr: csr_matrix
    edges: DirectedEdges


@dataclass
class _ModeNet:
    base: _Net
    all_edges: DirectedEdges  # before parallel edges were reduced, so blocking can fall back on them
    kd: cKDTree
    kd_nodes: I64  # node index of each k-d tree point
    typical_mps: float
    blocked: OrderedDict[tuple[object, ...], _Net] = field(default_factory=OrderedDict)
    fields: OrderedDict[tuple[object, ...], _Field] = field(default_factory=OrderedDict)


@dataclass(frozen=True)
class _Field:
    """Travel time from every node to its nearest target, the target node, and the next node on the way."""

    seconds: F64
    next_node: I32  # -9999 at targets and where no target is reachable
    target_node: I32


def _csr(n: int, edges: DirectedEdges) -> _Net:
    """CSR matrix of ``edges``, keeping the fastest of parallel edges (scipy would sum them)."""
    order = np.lexsort((edges.seconds, edges.dst, edges.src))
    src, dst = edges.src[order], edges.dst[order]
    keep = np.ones(order.shape[0], dtype=bool)
    keep[1:] = (src[1:] != src[:-1]) | (dst[1:] != dst[:-1])
    order = order[keep]
    kept = DirectedEdges(
        src=edges.src[order],
        dst=edges.dst[order],
        seconds=edges.seconds[order],
        metres=edges.metres[order],
        segment=edges.segment[order],
    )
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(kept.src, minlength=n), out=indptr[1:])
    m = csr_matrix((kept.seconds, kept.dst.astype(np.int32), indptr), shape=(n, n))
    return _Net(m, kept)


class Router:
    """Routes on one road graph. Thread-safe for reads; build a new Router for a new graph."""

    def __init__(
        self, graph: RoadGraph, *, max_snap_m: float = MAX_SNAP_M, field_min_targets: int = FIELD_MIN_TARGETS
    ) -> None:
        self.graph = graph
        self.max_snap_m = max_snap_m
        self.field_min_targets = field_min_targets
        lon0 = float(np.mean(graph.node_lon))
        lat0 = float(np.mean(graph.node_lat))
        self._proj = pyproj.Transformer.from_crs(
            "EPSG:4326", f"+proj=aeqd +lat_0={lat0} +lon_0={lon0} +datum=WGS84 +units=m", always_xy=True
        )
        x, y = self._proj.transform(graph.node_lon, graph.node_lat)
        self.node_xy: F64 = np.column_stack([x, y])
        coords = np.stack(
            [
                np.column_stack([graph.node_lon[graph.seg_u], graph.node_lat[graph.seg_u]]),
                np.column_stack([graph.node_lon[graph.seg_v], graph.node_lat[graph.seg_v]]),
            ],
            axis=1,
        )
        self._segment_lines: npt.NDArray[np.object_] = np.asarray(shapely.linestrings(coords), dtype=object)
        self._tree = shapely.STRtree(self._segment_lines)
        self._masks: OrderedDict[tuple[object, ...], np.ndarray] = OrderedDict()
        self._lock = threading.RLock()  # the caches are shared by the server's worker threads
        self._modes = {mode: self._build(mode) for mode in Mode}

    def _build(self, mode: Mode) -> _ModeNet:
        n = self.graph.node_count
        every = self.graph.directed(mode)
        net = _csr(n, every)
        edges = net.edges
        used = np.unique(np.concatenate([edges.src, edges.dst])).astype(np.int64)
        speeds = edges.metres / edges.seconds
        typical = float(np.median(speeds)) if speeds.size else 1.0
        pts = self.node_xy[used] if used.size else np.zeros((1, 2))
        return _ModeNet(net, every, cKDTree(pts), used, max(typical, 0.1))

    # --- inputs -------------------------------------------------------------------------------------

    def edges(self, mode: Mode) -> DirectedEdges:
        """The directed edges the router searches in ``mode`` (parallel edges reduced to the fastest)."""
        return self._modes[mode].base.edges

    def project(self, lon: F64 | float, lat: F64 | float) -> tuple[F64, F64]:
        x, y = self._proj.transform(lon, lat)
        return np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)

    def snap(self, lon: float, lat: float, mode: Mode) -> tuple[int, float]:
        """The nearest node usable in ``mode`` and its distance in metres; OutsideNetwork when too far."""
        nodes, dist = self.snap_many(np.array([lon]), np.array([lat]), mode)
        if nodes[0] < 0:
            raise OutsideNetwork(
                f"({lon:.6f}, {lat:.6f}) is outside the road network: the nearest {mode.value} road is "
                f"{dist[0]:.0f} m away (at most {self.max_snap_m:.0f} m)",
                where="from",
                message_ko=f"({lon:.6f}, {lat:.6f})은(는) 도로망 범위 밖입니다",
            )
        return int(nodes[0]), float(dist[0])

    def snap_many(self, lon: F64, lat: F64, mode: Mode) -> tuple[I64, F64]:
        """Nearest usable node of each point (-1 where farther than ``max_snap_m``) and the distances."""
        net = self._modes[mode]
        x, y = self.project(lon, lat)
        dist, idx = net.kd.query(np.column_stack([x, y]))
        nodes = np.where(dist <= self.max_snap_m, net.kd_nodes[idx], -1).astype(np.int64)
        return nodes, np.asarray(dist, dtype=np.float64)

    def blocked_segments(self, avoid: Avoid) -> np.ndarray:
        """Boolean mask over segments: True where a segment touches an avoided geometry (cached)."""
        with self._lock:
            return self._blocked_segments(avoid)

    def _blocked_segments(self, avoid: Avoid) -> np.ndarray:
        key = _key(avoid)
        mask = self._masks.get(key)
        if mask is not None:
            self._masks.move_to_end(key)
            return mask
        mask = np.zeros(self.graph.segment_count, dtype=bool)
        geoms = [g for g in (*avoid.closures, *avoid.hazards) if g is not None and not g.is_empty]
        if geoms:
            _, hit = self._tree.query(np.array(geoms, dtype=object), predicate="intersects")
            mask[hit] = True
        if avoid.flood_prone:
            mask |= (self.graph.seg_flags & FLOOD_PRONE) != 0
        self._masks[key] = mask
        if len(self._masks) > CACHE_SIZE:
            self._masks.popitem(last=False)
        return mask

    def _net(self, mode: Mode, avoid: Avoid) -> _Net:
        net = self._modes[mode]
        if not avoid.closures and not avoid.hazards and not avoid.flood_prone:
            return net.base
        with self._lock:
            key = _key(avoid)
            found = net.blocked.get(key)
            if found is not None:
                net.blocked.move_to_end(key)
                return found
            every = net.all_edges
            keep = ~self._blocked_segments(avoid)[every.segment]
            open_edges = DirectedEdges(
                every.src[keep], every.dst[keep], every.seconds[keep], every.metres[keep], every.segment[keep]
            )
            found = net.blocked[key] = _csr(self.graph.node_count, open_edges)
            if len(net.blocked) > CACHE_SIZE:
                net.blocked.popitem(last=False)
            return found

    # --- searches -----------------------------------------------------------------------------------

    def route(
        self,
        origin: tuple[float, float],
        destination: tuple[float, float],
        mode: Mode,
        avoid: Avoid = Avoid(),
    ) -> Route:
        """Fastest route between two WGS84 points (lon, lat)."""
        return self.nearest(origin, [destination], mode, avoid)

    def nearest(
        self,
        origin: tuple[float, float],
        targets: Sequence[tuple[float, float]],
        mode: Mode,
        avoid: Avoid = Avoid(),
    ) -> Route:
        """Fastest route from ``origin`` to whichever of ``targets`` (lon, lat) is reached first.

        Raises OutsideNetwork when the origin is more than ``max_snap_m`` from the network, and NoRoute
        when no target is on the network or every path to them is blocked.
        """
        if not targets:
            raise NoRoute("no destination to route to", message_ko="갈 수 있는 목적지가 없습니다")
        start, snap_m = self.snap(origin[0], origin[1], mode)
        t_lon = np.array([t[0] for t in targets], dtype=np.float64)
        t_lat = np.array([t[1] for t in targets], dtype=np.float64)
        t_nodes, _ = self.snap_many(t_lon, t_lat, mode)
        on_net = np.flatnonzero(t_nodes >= 0)
        if on_net.size == 0:
            raise NoRoute(
                "none of the destinations is within reach of the road network",
                message_ko="도로망에서 닿을 수 있는 목적지가 없습니다",
            )
        here = Point(origin)
        avoid = Avoid(
            avoid.closures, tuple(h for h in avoid.hazards if not h.covers(here)), avoid.flood_prone
        )
        searched = self._net(mode, avoid)
        net = self._modes[mode]
        nodes = t_nodes[on_net]
        unique = np.unique(nodes)
        if unique.size >= self.field_min_targets:
            f = self._field(mode, avoid, searched, unique)
            if not math.isfinite(float(f.seconds[start])):
                raise NoRoute(
                    "no route: every way to the destination is closed or crosses a hazard zone",
                    message_ko="경로 없음: 목적지로 가는 모든 길이 통제되었거나 위험 구역을 지납니다",
                )
            path = [start]
            while path[-1] != f.target_node[start]:
                path.append(int(f.next_node[path[-1]]))
            target = int(on_net[int(np.flatnonzero(nodes == path[-1])[0])])
            return self._route(searched, path, target, float(f.seconds[start]), snap_m)
        sx, sy = self.node_xy[start]
        crow = float(np.min(np.hypot(self.node_xy[nodes, 0] - sx, self.node_xy[nodes, 1] - sy)))
        # First guess: twice the straight-line time at the mode's typical speed, then x4 until found.
        limit = max(2.0 * crow / net.typical_mps, 60.0)
        for _ in range(5):
            found = self._search(searched.csr, start, nodes, limit)
            if found is not None:
                break
            limit *= 4.0
        else:
            found = self._search(searched.csr, start, nodes, math.inf)
        if found is None:
            raise NoRoute(
                "no route: every way to the destination is closed or crosses a hazard zone",
                message_ko="경로 없음: 목적지로 가는 모든 길이 통제되었거나 위험 구역을 지납니다",
            )
        best, dist, pred = found
        end = int(nodes[best])
        path = [end]
        while path[-1] != start:
            path.append(int(pred[path[-1]]))
        path.reverse()
        return self._route(searched, path, int(on_net[best]), float(dist[end]), snap_m)

    def _field(self, mode: Mode, avoid: Avoid, searched: _Net, targets: I64) -> _Field:
        net = self._modes[mode]
        key = (_key(avoid), hashlib.blake2b(targets.tobytes(), digest_size=16).digest())
        with self._lock:
            found = net.fields.get(key)
            if found is not None:
                net.fields.move_to_end(key)
                return found
        reverse = searched.csr.transpose().tocsr()
        seconds, next_node, target_node = dijkstra(
            reverse, directed=True, indices=targets, return_predecessors=True, min_only=True
        )
        found = _Field(seconds, next_node.astype(np.int32), target_node.astype(np.int32))
        with self._lock:
            net.fields[key] = found
            if len(net.fields) > CACHE_SIZE:
                net.fields.popitem(last=False)
        return found

    def typical_speed(self, mode: Mode) -> float:
        """The median speed (m/s) of the edges usable in ``mode``."""
        return self._modes[mode].typical_mps

    def travel_times(
        self,
        origins: Sequence[tuple[float, float]],
        targets: Sequence[tuple[float, float]],
        mode: Mode,
        avoid: Avoid = Avoid(),
        *,
        limit: float = np.inf,
        batch: int = 32,
    ) -> F64:
        """Fastest travel times (s) from every origin to every target (lon, lat), shape (origins, targets).

        One multi-source Dijkstra over the smaller side: from the origins on the graph, or from the
        targets on the reversed graph; in batches of ``batch`` sources to bound memory. The walk between a
        point and its snapped node is added at the mode's typical speed. ``inf`` where a pair is not
        connected, its network time exceeds ``limit`` seconds (which bounds each search: on a city graph
        a 3-hour walking limit makes the searches ~4× faster) or a point is more than ``max_snap_m`` from
        the network.
        """
        out = np.full((len(origins), len(targets)), np.inf)
        if not origins or not targets:
            return out
        o_nodes, o_snap = self.snap_many(
            np.array([p[0] for p in origins], dtype=np.float64),
            np.array([p[1] for p in origins], dtype=np.float64),
            mode,
        )
        t_nodes, t_snap = self.snap_many(
            np.array([p[0] for p in targets], dtype=np.float64),
            np.array([p[1] for p in targets], dtype=np.float64),
            mode,
        )
        speed = self.typical_speed(mode)
        with self._lock:
            matrix = self._net(mode, avoid).csr
        forward = len(np.unique(o_nodes[o_nodes >= 0])) <= len(np.unique(t_nodes[t_nodes >= 0]))
        src_nodes, dst_nodes = (o_nodes, t_nodes) if forward else (t_nodes, o_nodes)
        if not forward:
            matrix = matrix.transpose().tocsr()
        sources = np.unique(src_nodes[src_nodes >= 0])
        dst_ok = dst_nodes >= 0
        node_times = np.full((len(src_nodes), len(dst_nodes)), np.inf)
        for start in range(0, len(sources), max(1, batch)):
            chunk = sources[start : start + max(1, batch)]
            dist = dijkstra(matrix, directed=True, indices=chunk, limit=limit)
            cols = np.where(dst_ok, dst_nodes, 0)
            block = np.where(dst_ok[None, :], dist[:, cols], np.inf)
            for row, node in enumerate(chunk.tolist()):
                node_times[src_nodes == node] = block[row]
        net = node_times if forward else node_times.T
        out = net + (o_snap / speed)[:, None] + (t_snap / speed)[None, :]
        return np.asarray(np.where(np.isfinite(net), out, np.inf), dtype=np.float64)

    @staticmethod
    def _search(matrix: csr_matrix, start: int, nodes: I64, limit: float) -> tuple[int, F64, I32] | None:
        dist, pred = dijkstra(matrix, directed=True, indices=start, return_predecessors=True, limit=limit)
        reached = dist[nodes]
        best = int(np.argmin(reached))
        if not math.isfinite(float(reached[best])):
            return None
        return best, dist, pred

    def _route(self, net: _Net, path: list[int], target: int, seconds: float, snap_m: float) -> Route:
        nodes = np.asarray(path, dtype=np.int64)
        edges = net.edges
        indptr = net.csr.indptr
        positions = np.empty(max(len(path) - 1, 0), dtype=np.int64)
        for i, (a, b) in enumerate(itertools.pairwise(path)):
            lo, hi = int(indptr[a]), int(indptr[a + 1])
            positions[i] = lo + int(np.searchsorted(edges.dst[lo:hi], b))
        segments = edges.segment[positions]
        way_ids = self.graph.seg_way[segments]
        ways = tuple(int(w) for i, w in enumerate(way_ids) if i == 0 or w != way_ids[i - 1])
        lon, lat = self.graph.node_lon[nodes], self.graph.node_lat[nodes]
        coords = np.column_stack([lon, lat])
        if coords.shape[0] == 1:  # origin and destination snap to the same node
            coords = np.vstack([coords, coords])
        return Route(
            target=target,
            distance_m=float(edges.metres[positions].sum()),
            duration_s=seconds,
            nodes=nodes,
            segments=segments,
            ways=ways,
            line=LineString(coords),
            snap_m=snap_m,
        )


def _digest(geoms: tuple[BaseGeometry, ...]) -> bytes:
    """A digest of a set of geometries, independent of their order."""
    if not geoms:
        return b""
    wkb = shapely.to_wkb(np.array(geoms, dtype=object)).tolist()
    return hashlib.blake2b(b"|".join(sorted(wkb)), digest_size=16).digest()


def _key(avoid: Avoid) -> tuple[object, ...]:
    return (_digest(avoid.closures), _digest(avoid.hazards), avoid.flood_prone)
