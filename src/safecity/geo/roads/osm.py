# SPDX-License-Identifier: Apache-2.0
"""Build a :class:`RoadGraph` from OpenStreetMap data (OSM XML or PBF) with pyosmium.

Every ``highway=*`` way that can carry traffic is kept; each pair of consecutive way nodes becomes one
segment, so routes follow the mapped geometry. Rules (OSM wiki "Key:highway", "Key:oneway", "Key:access"):

* Driving: classes in :data:`DRIVE_KMH`; ``access``/``motor_vehicle``/``motorcar`` = no|private closes a
  way to cars. ``oneway=yes|true|1`` is forward, ``-1|reverse`` backward; motorways, motorway links and
  roundabouts (``junction=roundabout|circular``) are one-way unless tagged ``oneway=no``;
  ``oneway=reversible|alternating`` is not routable (its direction changes by time of day).
* Walking ignores ``oneway``; motorways (and ``foot=no``) are not walkable; footways, steps, paths and
  pedestrian streets are walk-only.
* Speed: a parsable ``maxspeed`` (km/h, or ``mph``) wins over the class default.
* ``bridge`` and ``tunnel`` (any value but ``no``) are flagged: they close in floods. ``underpass``:
  ``underpass=yes``, or a negative ``layer`` on a way that is not a tunnel (a road sunk below grade).
"""

from __future__ import annotations

import itertools
import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import osmium
import pyproj

from safecity.core.errors import BadRequest
from safecity.geo.roads.graph import (
    BRIDGE,
    DRIVE_BWD,
    DRIVE_FWD,
    TUNNEL,
    UNDERPASS,
    WALK,
    RoadGraph,
)

#: Default driving speed per class, km/h. Korea's "safe speed 5030" rule (Road Traffic Act enforcement
#: decree, in force 2021-04-17) sets 50 km/h on urban arterials and 30 km/h on residential streets;
#: urban expressways (강변북로, 올림픽대로) are signed 70-80 km/h; service roads and living streets are
#: driven at walking-plus pace.
DRIVE_KMH: dict[str, float] = {
    "motorway": 80.0,
    "motorway_link": 50.0,
    "trunk": 70.0,
    "trunk_link": 40.0,
    "primary": 50.0,
    "primary_link": 40.0,
    "secondary": 50.0,
    "secondary_link": 40.0,
    "tertiary": 40.0,
    "tertiary_link": 30.0,
    "unclassified": 30.0,
    "residential": 30.0,
    "road": 30.0,
    "living_street": 10.0,
    "service": 20.0,
}

#: Walking speed, km/h: 4.5 km/h is a common planning figure for a mixed crowd (adults walk ~5 km/h;
#: the elderly and children slower). Steps are climbed at about half that.
WALK_KMH = 4.5
STEPS_KMH = 2.0

#: Classes that are never walkable (no pedestrians on expressways).
NOT_WALKABLE = frozenset({"motorway", "motorway_link"})

#: highway=* values that are not (or not yet) roads.
NOT_ROADS = frozenset(
    {
        "proposed",
        "construction",
        "abandoned",
        "disused",
        "razed",
        "platform",
        "raceway",
        "bus_guideway",
        "escape",
        "elevator",
        "emergency_bay",
        "rest_area",
        "services",
        "no",
    }
)

_YES = frozenset({"yes", "true", "1"})
_NO_ACCESS = frozenset({"no", "private"})
_SPEED = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(km/h|kmh|kph|mph)?\s*$")


@dataclass(frozen=True)
class WayRules:
    drive_fwd: bool
    drive_bwd: bool
    walk: bool
    drive_kmh: float
    walk_kmh: float
    flags: int


def parse_maxspeed(value: str | None) -> float | None:
    """``maxspeed`` in km/h, or None when absent or not a number (``KR:urban``, ``signals``, ...)."""
    if not value:
        return None
    m = _SPEED.match(value.split(";")[0])
    if not m:
        return None
    speed = float(m.group(1))
    if m.group(2) == "mph":
        speed *= 1.609344
    # "999…9" (hundreds of digits) is inf, which would make every edge of the way free to travel
    return speed if 0 < speed < math.inf else None


def way_rules(tags: dict[str, str]) -> WayRules | None:
    """How a way with these tags may be used, or None when it carries no traffic of either mode."""
    highway = tags.get("highway")
    if highway is None or highway in NOT_ROADS:
        return None
    access = tags.get("access")
    motor_closed = any(tags.get(k) in _NO_ACCESS for k in ("access", "motor_vehicle", "motorcar"))
    if tags.get("motor_vehicle") in _YES or tags.get("motorcar") in _YES:
        motor_closed = False
    drivable = highway in DRIVE_KMH and not motor_closed and tags.get("area") != "yes"
    foot = tags.get("foot")
    walk = highway not in NOT_WALKABLE and foot not in _NO_ACCESS and tags.get("area") != "yes"
    if access in _NO_ACCESS and foot not in (*_YES, "designated", "permissive"):
        walk = False

    oneway = tags.get("oneway", "")
    implied = highway in ("motorway", "motorway_link") or tags.get("junction") in ("roundabout", "circular")
    fwd = bwd = drivable
    if oneway in _YES or (implied and oneway not in ("no", "false", "0")):
        bwd = False
    elif oneway in ("-1", "reverse"):
        fwd = False
    elif oneway in ("reversible", "alternating"):
        fwd = bwd = False

    drive_kmh = 0.0
    if fwd or bwd:
        drive_kmh = parse_maxspeed(tags.get("maxspeed")) or DRIVE_KMH[highway]
    walk_kmh = (STEPS_KMH if highway == "steps" else WALK_KMH) if walk else 0.0

    flags = 0
    if tags.get("bridge", "no") != "no":
        flags |= BRIDGE
    tunnel = tags.get("tunnel", "no") != "no"
    if tunnel:
        flags |= TUNNEL
    try:
        layer = int(tags.get("layer", "0"))
    except ValueError:
        layer = 0
    if tags.get("underpass") in _YES or (layer < 0 and not tunnel):
        flags |= UNDERPASS
    if not (fwd or bwd or walk):
        return None
    if fwd:
        flags |= DRIVE_FWD
    if bwd:
        flags |= DRIVE_BWD
    if walk:
        flags |= WALK
    return WayRules(fwd, bwd, walk, drive_kmh, walk_kmh, flags)


@dataclass(frozen=True)
class OsmImport:
    graph: RoadGraph
    #: Ways that refer to nodes missing from the file (a bbox cut that is not reference-complete); they
    #: were kept up to the gap. Listed so the import can tell the user which ways were cut.
    incomplete_ways: tuple[int, ...]


def read_osm(path: Path, *, strict: bool = False) -> OsmImport:
    """Read an OSM XML (``.osm``, ``.osm.bz2``...) or PBF (``.pbf``) file into a road graph.

    Lengths are geodesic metres on the WGS84 ellipsoid. A way referring to a node that is not in the file
    is cut at the gap and listed in ``incomplete_ways``; with ``strict`` it raises BadRequest naming the
    file, the way and the node instead. Raises BadRequest for unreadable files or files without roads.
    """
    if not path.is_file():
        raise BadRequest(f"{path}: no such file", where=str(path))
    node_index: dict[int, int] = {}
    lons: list[float] = []
    lats: list[float] = []
    osm_ids: list[int] = []
    seg_u: list[int] = []
    seg_v: list[int] = []
    seg_way: list[int] = []
    seg_class: list[int] = []
    seg_flags: list[int] = []
    seg_drive: list[float] = []
    seg_walk: list[float] = []
    classes: dict[str, int] = {}
    incomplete: list[int] = []

    try:
        # opening is inside the try: an unknown file suffix is refused by libosmium with RuntimeError
        processor = osmium.FileProcessor(str(path), osmium.osm.NODE | osmium.osm.WAY).with_locations()
        for obj in processor:
            if not isinstance(obj, osmium.osm.Way) or "highway" not in obj.tags:
                continue
            tags = {t.k: t.v for t in obj.tags}
            rules = way_rules(tags)
            if rules is None:
                continue
            refs: list[int | None] = []
            for n in obj.nodes:
                if not n.location.valid():
                    if not strict:
                        if not incomplete or incomplete[-1] != obj.id:
                            incomplete.append(obj.id)
                        refs.append(None)
                        continue
                    raise BadRequest(
                        f"{path}: way {obj.id} refers to node {n.ref}, which is not in the file; "
                        "export the area again with complete ways (osmium extract -s complete_ways)",
                        where=f"way/{obj.id}",
                    )
                idx = node_index.get(n.ref)
                if idx is None:
                    idx = node_index[n.ref] = len(lons)
                    lons.append(n.location.lon)
                    lats.append(n.location.lat)
                    osm_ids.append(n.ref)
                refs.append(idx)
            cls = classes.setdefault(tags["highway"], len(classes))
            for a, b in itertools.pairwise(refs):
                if a is None or b is None or a == b:
                    continue
                seg_u.append(a)
                seg_v.append(b)
                seg_way.append(obj.id)
                seg_class.append(cls)
                seg_flags.append(rules.flags)
                seg_drive.append(rules.drive_kmh)
                seg_walk.append(rules.walk_kmh)
    # libosmium's parse errors; a coordinate it cannot read (lon='500') is InvalidLocationError, which
    # is not a RuntimeError (found by fuzzing)
    except (RuntimeError, osmium.InvalidLocationError) as e:
        raise BadRequest(f"{path}: not a readable OSM XML or PBF file ({e})", where=str(path)) from e
    if not seg_u:
        raise BadRequest(f"{path}: no highway=* ways found; is this the right extract?", where=str(path))

    lon = np.asarray(lons, dtype=np.float64)
    lat = np.asarray(lats, dtype=np.float64)
    u = np.asarray(seg_u, dtype=np.int32)
    v = np.asarray(seg_v, dtype=np.int32)
    _, _, length = pyproj.Geod(ellps="WGS84").inv(lon[u], lat[u], lon[v], lat[v])
    graph = RoadGraph(
        node_lon=lon,
        node_lat=lat,
        node_osm=np.asarray(osm_ids, dtype=np.int64),
        seg_u=u,
        seg_v=v,
        seg_length_m=np.asarray(length, dtype=np.float64),
        seg_way=np.asarray(seg_way, dtype=np.int64),
        seg_class=np.asarray(seg_class, dtype=np.uint8),
        seg_flags=np.asarray(seg_flags, dtype=np.uint8),
        seg_drive_kmh=np.asarray(seg_drive, dtype=np.float64),
        seg_walk_kmh=np.asarray(seg_walk, dtype=np.float64),
        classes=tuple(sorted(classes, key=classes.__getitem__)),
        source=path.name,
    )
    return OsmImport(graph, tuple(incomplete))
