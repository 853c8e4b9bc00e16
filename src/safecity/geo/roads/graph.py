# SPDX-License-Identifier: Apache-2.0
"""The road network as compact numpy arrays, saved as one ``.npz`` under ``data_dir/roads``.

The network is a list of *segments*: one per pair of consecutive OSM nodes of a ``highway=*`` way, so a
route that follows segments follows the mapped road geometry exactly. Each segment carries its length
(metres, geodesic on WGS84), its speeds per mode and flags (direction of travel for driving, walkable,
bridge, tunnel, underpass). :meth:`RoadGraph.directed` turns them into the directed, weighted edges of
one mode (travel time in seconds), which :mod:`safecity.geo.roads.routing` packs into a CSR matrix.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from safecity.core.errors import ConfigError

FORMAT_VERSION = 1

# Segment flag bits.
DRIVE_FWD = 1  # drivable from u to v
DRIVE_BWD = 2  # drivable from v to u
WALK = 4  # walkable (both ways: walking ignores oneway)
BRIDGE = 8
TUNNEL = 16
UNDERPASS = 32

#: Flags of segments that close in a flood (bridges over a rising river, tunnels and underpasses that fill).
FLOOD_PRONE = BRIDGE | TUNNEL | UNDERPASS

#: Shortest travel time given to a segment, in seconds. Two OSM nodes can share a position (length 0);
#: a zero weight would be dropped by scipy's sparse graph as "no edge", so every edge costs at least this.
MIN_EDGE_SECONDS = 1e-3

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
I32 = npt.NDArray[np.int32]
U8 = npt.NDArray[np.uint8]


class Mode(StrEnum):
    walk = "walk"
    drive = "drive"


@dataclass(frozen=True)
class DirectedEdges:
    """The directed edges of one mode: ``src -> dst`` costs ``seconds``; ``segment`` is the segment id."""

    src: I32
    dst: I32
    seconds: F64
    metres: F64
    segment: I64


@dataclass(frozen=True, eq=False)
class RoadGraph:
    """Nodes (WGS84 lon/lat, OSM ids) and segments of a road network. Arrays are never modified."""

    node_lon: F64
    node_lat: F64
    node_osm: I64
    seg_u: I32
    seg_v: I32
    seg_length_m: F64
    seg_way: I64  # OSM way id (0 for generated networks)
    seg_class: U8  # index into ``classes``
    seg_flags: U8
    seg_drive_kmh: F64  # 0 where not drivable
    seg_walk_kmh: F64  # 0 where not walkable
    classes: tuple[str, ...]  # highway=* values
    source: str = ""

    @property
    def node_count(self) -> int:
        return int(self.node_lon.shape[0])

    @property
    def segment_count(self) -> int:
        return int(self.seg_u.shape[0])

    def directed(self, mode: Mode) -> DirectedEdges:
        """The directed edges usable in ``mode``, weighted by travel time in seconds."""
        flags = self.seg_flags
        if mode is Mode.walk:
            both = (flags & WALK) != 0
            fwd = bwd = both
            kmh = self.seg_walk_kmh
        else:
            fwd = (flags & DRIVE_FWD) != 0
            bwd = (flags & DRIVE_BWD) != 0
            kmh = self.seg_drive_kmh
        seconds = np.maximum(self.seg_length_m / np.where(kmh > 0, kmh, 1.0) * 3.6, MIN_EDGE_SECONDS)
        f = np.flatnonzero(fwd)
        b = np.flatnonzero(bwd)
        return DirectedEdges(
            src=np.concatenate([self.seg_u[f], self.seg_v[b]]).astype(np.int32),
            dst=np.concatenate([self.seg_v[f], self.seg_u[b]]).astype(np.int32),
            seconds=np.concatenate([seconds[f], seconds[b]]),
            metres=np.concatenate([self.seg_length_m[f], self.seg_length_m[b]]),
            segment=np.concatenate([f, b]).astype(np.int64),
        )

    def counts(self) -> dict[str, int]:
        """Figures for the import report: nodes, directed edges per mode, one-way segments, bridges, tunnels."""
        flags = self.seg_flags
        fwd = (flags & DRIVE_FWD) != 0
        bwd = (flags & DRIVE_BWD) != 0
        return {
            "nodes": self.node_count,
            "segments": self.segment_count,
            "walk_edges": int(2 * np.count_nonzero(flags & WALK)),
            "drive_edges": int(np.count_nonzero(fwd) + np.count_nonzero(bwd)),
            "oneway_segments": int(np.count_nonzero(fwd ^ bwd)),
            "bridge_segments": int(np.count_nonzero(flags & BRIDGE)),
            "tunnel_segments": int(np.count_nonzero(flags & TUNNEL)),
            "underpass_segments": int(np.count_nonzero(flags & UNDERPASS)),
            "ways": int(np.unique(self.seg_way).shape[0]),
        }

    def save(self, path: Path) -> None:
        """Write the graph to ``path`` (``.npz``), atomically (a server may be reading the old one)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp.npz")
        np.savez_compressed(
            tmp,
            version=np.array(FORMAT_VERSION),
            node_lon=self.node_lon,
            node_lat=self.node_lat,
            node_osm=self.node_osm,
            seg_u=self.seg_u,
            seg_v=self.seg_v,
            seg_length_m=self.seg_length_m,
            seg_way=self.seg_way,
            seg_class=self.seg_class,
            seg_flags=self.seg_flags,
            seg_drive_kmh=self.seg_drive_kmh,
            seg_walk_kmh=self.seg_walk_kmh,
            classes=np.array(self.classes, dtype=str),
            source=np.array(self.source),
        )
        tmp.replace(path)


def graph_path(data_dir: Path) -> Path:
    """Where ``safecity import roads`` writes the network and the server reads it."""
    return data_dir / "roads" / "roads.npz"


def load_graph(path: Path) -> RoadGraph:
    """Read a graph written by :meth:`RoadGraph.save`. Raises ConfigError naming the file when unreadable."""
    try:
        with np.load(path, allow_pickle=False) as z:
            data: dict[str, Any] = {k: z[k] for k in z.files}
    except (OSError, ValueError) as e:
        raise ConfigError(
            f"{path}: not a road network file ({e}); run `safecity import roads FILE` again"
        ) from e
    if int(data.get("version", -1)) != FORMAT_VERSION:
        raise ConfigError(f"{path}: road network format is not version {FORMAT_VERSION}; import it again")
    return RoadGraph(
        node_lon=data["node_lon"].astype(np.float64),
        node_lat=data["node_lat"].astype(np.float64),
        node_osm=data["node_osm"].astype(np.int64),
        seg_u=data["seg_u"].astype(np.int32),
        seg_v=data["seg_v"].astype(np.int32),
        seg_length_m=data["seg_length_m"].astype(np.float64),
        seg_way=data["seg_way"].astype(np.int64),
        seg_class=data["seg_class"].astype(np.uint8),
        seg_flags=data["seg_flags"].astype(np.uint8),
        seg_drive_kmh=data["seg_drive_kmh"].astype(np.float64),
        seg_walk_kmh=data["seg_walk_kmh"].astype(np.float64),
        classes=tuple(str(c) for c in data["classes"]),
        source=str(data["source"]),
    )
