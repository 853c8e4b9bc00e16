# SPDX-License-Identifier: Apache-2.0
"""The demo city: Seoul's real districts and dongs, with generated population, rivers, roads and terrain.

:func:`build_city` builds a :class:`DemoCity` from the facts table (:mod:`safecity.demo.facts`) and the
real boundaries shipped in :mod:`safecity.geo.seoul`, offline and deterministically:

* **real**: the 25 districts (자치구) and 425 administrative dongs (행정동, April 2021, MOIS codes) and the
  city's outline, their union;
* **the Han**: its course in the city runs along the real border between the districts north and south
  of it and, where the Han is the city's border (강서구, 강동구), along that border (Seoul's borders run
  mid-river), simplified at :data:`HAN_SIMPLIFY_M`; its water is a band of the facts' nominal width.
  The tributaries follow the facts' approximate courses;
* **generated**: the dongs' population (each district's 2021 Q2 total from the facts spread over its
  dongs by land area, less on mountain slopes: :data:`DONG_POPULATION_SOURCE`), a 500 m population grid, a ring-and-grid road
  network and a terrain model.

All public geometries are WGS84 lon/lat. Geometry is computed in a local equirectangular frame in metres
centred on the city (distortion below 0.1 % over Seoul's 40 km), then mapped back to degrees.
"""

from __future__ import annotations

import hashlib
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from scipy.ndimage import gaussian_filter  # type: ignore[import-untyped]
from shapely.geometry import LineString, Point, Polygon
from shapely.geometry.base import BaseGeometry
from shapely.ops import substring

from safecity.core.errors import ConfigError
from safecity.demo.facts import (
    BORDER_TOLERANCE_M,
    M_PER_DEG,
    SOURCE,
    CityFacts,
    DistrictFact,
    MountainFact,
    PlaceFact,
    RiverFact,
    load_facts,
)
from safecity.geo import seoul

#: How the dongs' population is made (their ``population_source``): not the real count by dong, whose
#: source carries no licence to ship it.
DONG_POPULATION_SOURCE = (
    "generated: the district's 2021 Q2 resident total spread over its dongs by land area, "
    "less on mountain slopes"
)
#: Side of a population grid cell, metres.
POPULATION_CELL_M = 500.0
#: Spacing of the generated street grid, metres.
ROAD_SPACING_M = 1000.0
#: Distance of the riverside expressways (강변북로, 올림픽대로) from the Han's water edge, metres.
RIVERSIDE_OFFSET_M = 80.0
#: Terrain model pixel size, degrees (~90 m east-west, ~110 m north-south in Seoul).
TERRAIN_PIXEL_DEG = 0.001
#: Douglas-Peucker tolerance of the Han's course taken from the district borders, metres: the borders
#: follow every bend of the survey; the river's centre line needs the shape, not the 10 m detail.
HAN_SIMPLIFY_M = 100.0


# --- the generated city ----------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoDistrict:
    """A real district (자치구): MOIS code, names, 2021 Q2 resident total (facts), office, real polygon."""

    code: str
    name_ko: str
    name_en: str
    population: int
    office: Point
    polygon: Polygon


@dataclass(frozen=True)
class DemoDong:
    """A real administrative dong (행정동, 10-digit MOIS code) with a generated population
    (:data:`DONG_POPULATION_SOURCE`)."""

    code: str
    name_ko: str
    name_en: str
    district_code: str
    population: int
    polygon: Polygon


@dataclass(frozen=True)
class PopulationCell:
    """The residents of one dong inside one grid cell (a cell shared by two dongs appears twice)."""

    district_code: str
    dong_code: str
    row: int  # from the south edge of the grid
    col: int  # from the west edge of the grid
    lon: float  # a point of the cell's part in the dong
    lat: float
    population: int


@dataclass(frozen=True)
class RoadLine:
    """One noded road segment (it meets other roads only at its ends)."""

    name: str
    highway: str  # OSM highway class
    bridge: bool
    geometry: LineString


@dataclass(frozen=True)
class TerrainModel:
    """Elevation in metres, rows north → south, on a WGS84 (EPSG:4326) grid.

    ``transform`` is the GDAL affine (a, b, c, d, e, f): lon = c + a·col, lat = f + e·row at pixel corners.
    """

    elevation: np.ndarray[Any, np.dtype[np.float32]]
    transform: tuple[float, float, float, float, float, float]
    crs: str = "EPSG:4326"

    def elevation_at(self, lon: float, lat: float) -> float:
        """Elevation (m) of the pixel holding the point; a point off the grid takes the nearest edge pixel."""
        a, _b, c, _d, e, f = self.transform
        rows, cols = self.elevation.shape
        col = min(cols - 1, max(0, int((lon - c) / a)))
        row = min(rows - 1, max(0, int((lat - f) / e)))
        return float(self.elevation[row, col])


@dataclass(frozen=True)
class DemoCity:
    seed: int
    facts: CityFacts
    outline: Polygon  # the union of the real districts
    districts: tuple[DemoDistrict, ...]  # in the facts' order
    dongs: tuple[DemoDong, ...]  # by code
    han: LineString  # the Han's centre line (west → east), beyond the city too
    water: BaseGeometry  # the Han and the tributaries, clipped to the outline
    population_cell_m: float
    population: tuple[PopulationCell, ...]
    roads: tuple[RoadLine, ...]
    terrain: TerrainModel
    #: each river's own water (same order as ``facts.rivers``), for the map: ``water`` is their union
    river_water: tuple[BaseGeometry, ...] = ()

    def district(self, code: str) -> DemoDistrict:
        for d in self.districts:
            if d.code == code:
                return d
        raise KeyError(code)

    def dong(self, code: str) -> DemoDong:
        for d in self.dongs:
            if d.code == code:
                return d
        raise KeyError(code)

    def dongs_of(self, district_code: str) -> tuple[DemoDong, ...]:
        return tuple(d for d in self.dongs if d.district_code == district_code)

    def digest(self) -> str:
        """SHA-256 over every generated value: equal digests mean identical cities."""
        h = hashlib.sha256()
        h.update(str(self.seed).encode())
        h.update(shapely.to_wkb(self.outline))
        h.update(shapely.to_wkb(self.water))
        for w in self.river_water:
            h.update(shapely.to_wkb(w))
        h.update(shapely.to_wkb(self.han))
        for d in self.districts:
            h.update(f"{d.code}|{d.name_ko}|{d.name_en}|{d.population}".encode())
            h.update(shapely.to_wkb(d.polygon))
        for g in self.dongs:
            h.update(f"{g.code}|{g.name_ko}|{g.name_en}|{g.district_code}|{g.population}".encode())
            h.update(shapely.to_wkb(g.polygon))
        for c in self.population:
            h.update(
                f"{c.district_code}|{c.dong_code}|{c.row}|{c.col}|{c.lon!r}|{c.lat!r}|{c.population}".encode()
            )
        for road in self.roads:
            h.update(f"{road.name}|{road.highway}|{road.bridge}".encode())
            h.update(shapely.to_wkb(road.geometry))
        h.update(self.terrain.elevation.tobytes())
        h.update(repr(self.terrain.transform).encode())
        return h.hexdigest()


class _Frame:
    """Local equirectangular frame in metres around (lon0, lat0)."""

    def __init__(self, lon0: float, lat0: float) -> None:
        self.lon0, self.lat0 = lon0, lat0
        self.kx = M_PER_DEG * math.cos(math.radians(lat0))
        self.ky = M_PER_DEG

    def to_m(self, geom: BaseGeometry) -> Any:
        return shapely.transform(
            geom,
            lambda c: np.column_stack([(c[:, 0] - self.lon0) * self.kx, (c[:, 1] - self.lat0) * self.ky]),
        )

    def to_deg(self, geom: BaseGeometry) -> Any:
        return shapely.transform(
            geom, lambda c: np.column_stack([c[:, 0] / self.kx + self.lon0, c[:, 1] / self.ky + self.lat0])
        )

    def xy(self, lon: np.ndarray[Any, Any], lat: np.ndarray[Any, Any]) -> tuple[np.ndarray[Any, Any], ...]:
        return (lon - self.lon0) * self.kx, (lat - self.lat0) * self.ky


def build_city(seed: int = 2022, facts: CityFacts | None = None) -> DemoCity:
    """Build the demo city. The same seed (and facts) gives an identical city (see :meth:`DemoCity.digest`).

    The seed only varies the population's spread over the grid and the terrain's micro-relief; the
    boundaries are the shipped real ones, and the water and roads follow from them and the facts.
    Raises :class:`ConfigError` when the facts' Han does not separate the districts into two banks
    that share one border.
    """
    facts = facts or load_facts()
    rng = np.random.default_rng(seed)
    c = facts.outline.centroid
    frame = _Frame(round(c.x, 4), round(c.y, 4))
    outline_m: Polygon = frame.to_m(facts.outline)
    real = {b.code: b.polygon for b in seoul.districts()}
    districts = tuple(
        DemoDistrict(d.code, d.name_ko, d.name_en, d.population, Point(d.office), _polygon(real[d.code]))
        for d in facts.districts
    )
    han = facts.han
    course: LineString = frame.to_deg(frame.to_m(han_course(facts, districts)).simplify(HAN_SIMPLIFY_M))
    han_m: LineString = frame.to_m(course)
    rivers_m = [
        frame.to_m(r.line if i else course).buffer(r.width_m / 2, cap_style="flat").intersection(outline_m)
        for i, r in enumerate(facts.rivers)
    ]
    han_water_m, tributaries_m = rivers_m[0], rivers_m[1:]
    water_m = shapely.union_all(rivers_m)

    mountains_m = [(frame.to_m(Point(m.summit)), m) for m in facts.mountains]
    dongs, population = _population(facts, frame, outline_m, water_m, mountains_m, rng)
    roads = _roads(facts, frame, outline_m, course, han.width_m, water_m)
    terrain = _terrain(facts, frame, han_m, han_water_m, tributaries_m, mountains_m, rng)
    return DemoCity(
        seed=seed,
        facts=facts,
        outline=facts.outline,
        districts=districts,
        dongs=dongs,
        han=course,
        water=frame.to_deg(water_m),
        population_cell_m=POPULATION_CELL_M,
        population=population,
        roads=roads,
        terrain=terrain,
        river_water=tuple(frame.to_deg(w) for w in rivers_m),
    )


def _polygon(geom: BaseGeometry) -> Polygon:
    if not isinstance(geom, Polygon):  # the shipped boundaries are single polygons (their test says so)
        raise ConfigError(f"a shipped boundary is a {geom.geom_type}, the demo city needs polygons")
    return geom


def _left_of(line: LineString, p: Point) -> bool:
    """True when ``p`` lies left of ``line`` (north of a west → east river) at its nearest point."""
    s = line.project(p)
    a = line.interpolate(max(s - 1e-4, 0.0))
    b = line.interpolate(min(s + 1e-4, line.length))
    return bool((b.x - a.x) * (p.y - a.y) - (b.y - a.y) * (p.x - a.x) > 0)


def han_course(facts: CityFacts, districts: Sequence[DemoDistrict]) -> LineString:
    """The Han's centre line, west → east, in degrees: the facts' course up to the city, the city border
    from there to where the districts north and south of the river meet (강서구 faces 고양시 across the
    river), their shared border, the city border again (강동구 faces 구리시), then the facts' course.

    Seoul's borders run mid-river, so this puts the river where it is. A district is north when its
    office lies left of the facts' course (which runs west → east).
    """
    line = facts.han.line
    north = [d.polygon for d in districts if _left_of(line, d.office)]
    south = [d.polygon for d in districts if not _left_of(line, d.office)]
    if not north or not south:
        raise ConfigError("city_facts.toml: rivers[0] (the Han) must have districts on both banks")
    shared = shapely.line_merge(
        shapely.intersection(shapely.union_all(north).boundary, shapely.union_all(south).boundary)
    )
    if not isinstance(shared, LineString):
        raise ConfigError(
            "city_facts.toml: rivers[0]: the districts north and south of the Han do not meet along one "
            f"border ({shared.geom_type}); check which side each district office lies on"
        )
    if shared.coords[0][0] > shared.coords[-1][0]:
        shared = shared.reverse()
    ring = LineString(facts.outline.exterior.coords)
    first, last = Point(line.coords[0]), Point(line.coords[-1])
    west = _arc(ring, ring.project(first), ring.project(Point(shared.coords[0])))
    east = _arc(ring, ring.project(Point(shared.coords[-1])), ring.project(last))
    coords = [line.coords[0], *west, *list(shared.coords)[1:], *east[1:], line.coords[-1]]
    # drop repeats where the pieces join
    out = [p for i, p in enumerate(coords) if i == 0 or p != coords[i - 1]]
    return LineString(out)


def _arc(ring: LineString, a: float, b: float) -> list[tuple[float, float]]:
    """The coordinates of the closed ``ring`` from distance ``a`` to ``b`` along it, the shorter way."""
    length = ring.length
    if (b - a) % length > length / 2:
        return _arc(ring, b, a)[::-1]
    # from a to b, or across the ring's start
    parts = [substring(ring, a, b)] if a <= b else [substring(ring, a, length), substring(ring, 0.0, b)]
    coords: list[tuple[float, float]] = []
    for part in parts:
        for x, y in shapely.get_coordinates(part):
            if not coords or coords[-1] != (x, y):
                coords.append((float(x), float(y)))
    return coords


def _allocate(total: int, weights: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """Integers proportional to ``weights`` summing exactly to ``total`` (largest remainder)."""
    share = weights / weights.sum() * total
    out = np.floor(share).astype(np.int64)
    rest = total - int(out.sum())
    order = np.lexsort((np.arange(len(share)), -(share - out)))
    out[order[:rest]] += 1
    result: np.ndarray[Any, Any] = out
    return result


def _population(
    facts: CityFacts,
    frame: _Frame,
    outline_m: Polygon,
    water_m: BaseGeometry,
    mountains_m: Sequence[tuple[Point, MountainFact]],
    rng: np.random.Generator,
) -> tuple[tuple[DemoDong, ...], tuple[PopulationCell, ...]]:
    """The real dongs with a generated population, and the 500 m population grid.

    Each piece of a dong in a grid cell is weighted by its land area (no one lives on the water), thinned
    on mountain slopes (진관동 holds 북한산's flank, not a city of 200,000). Each district's 2021 Q2 total
    goes to its dongs in proportion to their summed weights, then each dong's residents to its pieces by
    weight with a seeded log-normal jitter for texture. A dong's cells sum to its population, a
    district's dongs to its total.
    """
    real = seoul.dongs()
    lands = shapely.difference(np.array([frame.to_m(d.polygon) for d in real], dtype=object), water_m)
    minx, miny, maxx, maxy = outline_m.bounds
    size = POPULATION_CELL_M
    cols = math.ceil((maxx - minx) / size)
    rows = math.ceil((maxy - miny) / size)
    grid_c, grid_r = np.meshgrid(np.arange(cols), np.arange(rows))
    cc, rr = grid_c.ravel(), grid_r.ravel()
    boxes = shapely.box(minx + cc * size, miny + rr * size, minx + (cc + 1) * size, miny + (rr + 1) * size)
    tree = shapely.STRtree(boxes)
    jitter = rng.lognormal(0.0, 0.35, size=len(boxes))
    # every (dong, cell) piece in one vectorised query and intersection
    dong_i, box_i = tree.query(lands, predicate="intersects")
    order = np.lexsort((box_i, dong_i))
    dong_i, box_i = dong_i[order], box_i[order]
    pieces = shapely.intersection(boxes[box_i], lands[dong_i])
    area = shapely.area(pieces)
    keep = area > 1.0
    dong_i, box_i, pieces, area = dong_i[keep], box_i[keep], pieces[keep], area[keep]
    points = shapely.point_on_surface(pieces)
    x, y = shapely.get_x(points), shapely.get_y(points)
    thin = np.ones_like(area)
    for summit, m in mountains_m:
        r2 = (x - summit.x) ** 2 + (y - summit.y) ** 2
        thin *= 1.0 - 0.95 * np.exp(-r2 / (2 * (m.radius_m * 0.6) ** 2))
    habitable = area * thin
    lonlat = np.round(shapely.get_coordinates(frame.to_deg(shapely.points(x, y))), 6)
    starts = np.searchsorted(dong_i, np.arange(len(real) + 1))
    per_dong = np.add.reduceat(habitable, starts[:-1]) if len(habitable) else np.zeros(len(real))
    per_dong[starts[:-1] == starts[1:]] = 0.0  # reduceat repeats the next value for an empty range
    people = np.zeros(len(real), dtype=np.int64)
    for fact in facts.districts:
        mine = np.array([d.district_code == fact.code for d in real])
        if per_dong[mine].sum() <= 0:
            raise ConfigError(f"district {fact.code} {fact.name_ko} has no dong with land")
        people[mine] = _allocate(fact.population, per_dong[mine])
    dongs = tuple(
        DemoDong(d.code, d.name_ko, d.name_en, d.district_code, int(n), _polygon(d.polygon))
        for d, n in zip(real, people, strict=True)
    )
    weight = habitable * jitter[box_i]
    cells: list[PopulationCell] = []
    for k, d in enumerate(dongs):
        a, b = int(starts[k]), int(starts[k + 1])
        if d.population == 0 or a == b:
            continue
        share = _allocate(d.population, weight[a:b])
        for j in range(a, b):
            i = box_i[j]
            cells.append(
                PopulationCell(
                    d.district_code,
                    d.code,
                    int(rr[i]),
                    int(cc[i]),
                    float(lonlat[j, 0]),
                    float(lonlat[j, 1]),
                    int(share[j - a]),
                )
            )
    return dongs, tuple(cells)


def _roads(
    facts: CityFacts,
    frame: _Frame,
    outline_m: Polygon,
    han: LineString,
    han_width_m: float,
    water_m: BaseGeometry,
) -> tuple[RoadLine, ...]:
    """A street grid every :data:`ROAD_SPACING_M` on land, the two riverside expressways and Han bridges
    (the gauge and facility bridges plus generated ones so that crossings are at most ~2.5 km apart),
    noded so that roads meet at their crossings. Tributaries are crossed on (flagged) bridges. ``han``
    is the Han's centre line in degrees."""
    han_m: LineString = frame.to_m(han)
    han_water = han_m.buffer(han_width_m / 2, cap_style="flat")
    land = outline_m.difference(han_water)
    minx, miny, maxx, maxy = outline_m.bounds
    sources: list[tuple[BaseGeometry, str, str, int]] = []  # geometry, name, highway, priority
    s = ROAD_SPACING_M
    for k, x in enumerate(np.arange(math.ceil(minx / s) * s, maxx, s)):
        line = LineString([(x, miny), (x, maxy)]).intersection(land)
        sources.append((line, f"남북 {k + 1}로 (demo)", "secondary", 0))
    for k, y in enumerate(np.arange(math.ceil(miny / s) * s, maxy, s)):
        line = LineString([(minx, y), (maxx, y)]).intersection(land)
        sources.append((line, f"동서 {k + 1}로 (demo)", "secondary", 0))
    ring = han_m.buffer(han_width_m / 2 + RIVERSIDE_OFFSET_M, cap_style="flat").exterior.intersection(
        outline_m
    )
    for part in shapely.get_parts(ring):
        mid = part.interpolate(0.5, normalized=True)
        near = han_m.interpolate(han_m.project(mid))
        name = "강변북로 (demo)" if mid.y > near.y else "올림픽대로 (demo)"
        sources.append((part, name, "trunk", 1))
    # Bridges: the named ones first, then one wherever the gap to the next exceeds 2.5 km along the river.
    named = [(p.name_ko, frame.to_m(Point(p.position))) for p in (*facts.gauges, *facts.facilities)]
    stations: dict[float, str] = {}
    for name, pt in named:
        if pt.distance(han_m) < han_width_m and all(n != name for n in stations.values()):
            stations[round(han_m.project(pt), 1)] = name
    start, end = (han_m.project(frame.to_m(p)) for p in _outline_crossings(facts.outline, han))
    marks = sorted([start, *stations, end])
    generated = 0
    for a, b in itertools.pairwise(marks):
        n = int((b - a) // 2500)
        for j in range(1, n + 1):
            generated += 1
            stations[round(a + (b - a) * j / (n + 1), 1)] = f"한강 {generated}교 (demo)"
    half = han_width_m / 2 + RIVERSIDE_OFFSET_M + 400.0
    for station in sorted(stations):
        p = han_m.interpolate(station)
        q = han_m.interpolate(min(station + 50.0, han_m.length))
        o = han_m.interpolate(max(station - 50.0, 0.0))
        dx, dy = q.x - o.x, q.y - o.y
        norm = math.hypot(dx, dy)
        nx, ny = -dy / norm, dx / norm
        line = LineString([(p.x - nx * half, p.y - ny * half), (p.x + nx * half, p.y + ny * half)])
        sources.append((line.intersection(outline_m), stations[station], "primary", 2))

    lines = [g for g, *_ in sources]
    noded = shapely.get_parts(shapely.union_all(lines))  # the union of lines splits them where they cross
    tree = shapely.STRtree(lines)
    shapely.prepare(water_m)
    roads: list[tuple[tuple[float, float], RoadLine]] = []
    for seg in noded:
        if seg.geom_type != "LineString" or seg.length < 0.05:  # below OSM's 1e-7 degree precision
            continue
        mid = seg.interpolate(0.5, normalized=True)
        hits = [int(h) for h in tree.query(mid, predicate="dwithin", distance=0.01)]
        if not hits:
            continue
        _g, name, highway, _prio = max((sources[h] for h in hits), key=lambda src: (src[3], src[1]))
        bridge = bool(shapely.contains(water_m, mid))
        geom = frame.to_deg(seg)
        start_pt = geom.coords[0]
        roads.append(((start_pt[0], start_pt[1]), RoadLine(name, highway, bridge, geom)))
    roads.sort(key=lambda kv: (kv[0], kv[1].name))
    return tuple(r for _, r in roads)


def _outline_crossings(outline: Polygon, line: LineString) -> tuple[Point, Point]:
    """Where the river enters and leaves the city (first and last point of its part inside)."""
    inside = line.intersection(outline)
    coords = shapely.get_coordinates(inside)
    return Point(coords[0]), Point(coords[-1])


def _terrain(
    facts: CityFacts,
    frame: _Frame,
    han_m: LineString,
    han_water_m: BaseGeometry,
    tributaries_m: Sequence[BaseGeometry],
    mountains_m: Sequence[tuple[Point, MountainFact]],
    rng: np.random.Generator,
) -> TerrainModel:
    """A valley model: ~8 m at the Han's banks rising to ~40 m away from it, Gaussian hills at the cited
    summits reaching their cited heights, the Han at 3 m and tributaries cut 3 m below their banks."""
    pad = 0.02
    minlon, minlat, maxlon, maxlat = facts.outline.bounds
    west = math.floor((minlon - pad) / TERRAIN_PIXEL_DEG) * TERRAIN_PIXEL_DEG
    north = math.ceil((maxlat + pad) / TERRAIN_PIXEL_DEG) * TERRAIN_PIXEL_DEG
    width = math.ceil((maxlon + pad - west) / TERRAIN_PIXEL_DEG)
    height = math.ceil((north - (minlat - pad)) / TERRAIN_PIXEL_DEG)
    lon = west + (np.arange(width) + 0.5) * TERRAIN_PIXEL_DEG
    lat = north - (np.arange(height) + 0.5) * TERRAIN_PIXEL_DEG
    glon, glat = np.meshgrid(lon, lat)
    x, y = frame.xy(glon, glat)
    pts = shapely.points(x, y)

    def valley(d: Any) -> Any:
        return 8.0 + 32.0 * (1.0 - np.exp(-np.asarray(d, dtype=np.float64) / 2500.0))

    elev = valley(shapely.distance(pts, han_m))
    for summit, m in mountains_m:
        base = float(valley(np.asarray(summit.distance(han_m))))
        sigma = m.radius_m / 1.5
        elev = elev + max(m.height_m - base, 0.0) * np.exp(
            -((x - summit.x) ** 2 + (y - summit.y) ** 2) / (2 * sigma**2)
        )
    noise = gaussian_filter(rng.normal(0.0, 1.0, size=elev.shape), sigma=6.0)
    elev = elev + noise / max(float(noise.std()), 1e-9) * 1.5
    for trib in tributaries_m:
        wet = shapely.contains_xy(trib, x, y) if not trib.is_empty else np.zeros_like(elev, dtype=bool)
        elev = np.where(wet, elev - 3.0, elev)
    elev = np.where(shapely.contains_xy(han_water_m, x, y), 3.0, elev)
    elev = np.maximum(elev, 1.0)
    transform = (TERRAIN_PIXEL_DEG, 0.0, round(west, 6), 0.0, -TERRAIN_PIXEL_DEG, round(north, 6))
    return TerrainModel(np.ascontiguousarray(elev, dtype=np.float32), transform)


__all__ = [
    "BORDER_TOLERANCE_M",
    "DONG_POPULATION_SOURCE",
    "M_PER_DEG",
    "SOURCE",
    "CityFacts",
    "DemoCity",
    "DemoDistrict",
    "DemoDong",
    "DistrictFact",
    "MountainFact",
    "PlaceFact",
    "PopulationCell",
    "RiverFact",
    "RoadLine",
    "TerrainModel",
    "build_city",
    "han_course",
    "load_facts",
]
