# SPDX-License-Identifier: Apache-2.0
"""The demo city: an approximate Seoul generated offline and deterministically from ``city_facts.toml``.

:func:`load_facts` reads and validates the small table of cited public facts shipped in the package (the
25 자치구 with their MOIS codes, office positions and 2021 Q2 resident population, a simplified outline,
the Han River and its tributaries, mountains, gauges, facilities, and real hospitals at approximate
positions). :func:`build_city` turns them into a :class:`DemoCity`: district polygons (Voronoi cells of
the district offices clipped to the outline), a 500 m population grid, a ring-and-grid road network and a
terrain model. Everything is **approximate demo geography**: good enough to exercise the platform, not a
map of Seoul.

All public geometries are WGS84 lon/lat. Geometry is computed in a local equirectangular frame in metres
centred on the city (distortion below 0.1 % over Seoul's 40 km), then mapped back to degrees.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from scipy.ndimage import gaussian_filter  # type: ignore[import-untyped]
from shapely.geometry import LineString, Point, Polygon
from shapely.geometry.base import BaseGeometry

from safecity.core.errors import ConfigError

#: The ``source`` property of everything generated here.
SOURCE = "safecity demo city (approximate, generated)"
#: Metres per degree of latitude (WGS84 mean), as in :mod:`safecity.geo.terrain`.
M_PER_DEG = 111_195.0
#: Summits and gauges may sit on the border, and the outline is simplified by ~700 m: they must lie
#: within this distance of it rather than inside.
BORDER_TOLERANCE_M = 3000.0
#: Side of a population grid cell, metres.
POPULATION_CELL_M = 500.0
#: Spacing of the generated street grid, metres.
ROAD_SPACING_M = 1000.0
#: Distance of the riverside expressways (강변북로, 올림픽대로) from the Han's water edge, metres.
RIVERSIDE_OFFSET_M = 80.0
#: Terrain model pixel size, degrees (~90 m east-west, ~110 m north-south in Seoul).
TERRAIN_PIXEL_DEG = 0.001

_CODE = re.compile(r"\d{5}")


# --- facts -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DistrictFact:
    code: str  # MOIS 5-digit 시군구 code
    name_ko: str
    name_en: str
    office: tuple[float, float]  # lon, lat of the district office (구청)
    population: int  # 주민등록인구 2021 Q2


@dataclass(frozen=True)
class RiverFact:
    name_ko: str
    name_en: str
    width_m: float
    line: LineString  # lon/lat, downstream order (the Han west → east)


@dataclass(frozen=True)
class MountainFact:
    name_ko: str
    name_en: str
    summit: tuple[float, float]
    height_m: float
    radius_m: float  # footprint radius used for the terrain hill


@dataclass(frozen=True)
class PlaceFact:
    """A gauge or a facility: a named point."""

    code: str
    kind: str
    name_ko: str
    name_en: str
    position: tuple[float, float]


@dataclass(frozen=True)
class CityFacts:
    name: str
    source: str
    districts: tuple[DistrictFact, ...]
    outline: Polygon
    rivers: tuple[RiverFact, ...]
    mountains: tuple[MountainFact, ...]
    gauges: tuple[PlaceFact, ...]
    facilities: tuple[PlaceFact, ...]
    hospitals: tuple[PlaceFact, ...] = ()  # real hospitals, approximate positions

    @property
    def han(self) -> RiverFact:
        """The main river (the first of the table)."""
        return self.rivers[0]

    def district(self, code: str) -> DistrictFact:
        for d in self.districts:
            if d.code == code:
                return d
        raise KeyError(code)


def _facts_text(path: Path | None) -> tuple[str, str]:
    if path is not None:
        return str(path), Path(path).read_text(encoding="utf-8")
    ref = resources.files("safecity.demo").joinpath("city_facts.toml")
    return "safecity/demo/city_facts.toml", ref.read_text(encoding="utf-8")


class _Reader:
    """Typed access to the TOML table; every error names the file and the entry."""

    def __init__(self, where: str) -> None:
        self.where = where

    def fail(self, entry: str, message: str) -> ConfigError:
        return ConfigError(f"{self.where}: {entry}: {message}", where=f"{self.where}:{entry}")

    def table(self, data: Any, entry: str) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise self.fail(entry, "expected a table")
        return data

    def items(self, data: dict[str, Any], key: str) -> list[dict[str, Any]]:
        value = data.get(key)
        if not isinstance(value, list) or not value:
            raise self.fail(key, f"expected a non-empty array of tables [[{key}]]")
        return [self.table(v, f"{key}[{i}]") for i, v in enumerate(value)]

    def text(self, data: dict[str, Any], key: str, entry: str) -> str:
        value = data.get(key)
        if not isinstance(value, str) or not value.strip():
            raise self.fail(entry, f"'{key}' must be a non-empty string")
        return value.strip()

    def number(self, data: dict[str, Any], key: str, entry: str) -> float:
        value = data.get(key)
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise self.fail(entry, f"'{key}' must be a number")
        if value <= 0:
            raise self.fail(entry, f"'{key}' must be positive, not {value}")
        return float(value)

    def point(self, data: dict[str, Any], key: str, entry: str) -> tuple[float, float]:
        value = data.get(key)
        if (
            not isinstance(value, list)
            or len(value) != 2
            or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
        ):
            raise self.fail(entry, f"'{key}' must be [lon, lat]")
        lon, lat = float(value[0]), float(value[1])
        if not (-180 <= lon <= 180 and -90 <= lat <= 90):
            raise self.fail(entry, f"'{key}' [{lon}, {lat}] is not WGS84 lon/lat degrees")
        return lon, lat

    def points(self, data: dict[str, Any], key: str, entry: str, minimum: int) -> list[tuple[float, float]]:
        value = data.get(key)
        if not isinstance(value, list) or len(value) < minimum:
            raise self.fail(entry, f"'{key}' must be a list of at least {minimum} [lon, lat] pairs")
        return [self.point({"p": v}, "p", f"{entry}.{key}[{i}]") for i, v in enumerate(value)]


def _near(outline: Polygon, lonlat: tuple[float, float], metres: float) -> bool:
    # Degrees to metres at the latitude scale: a degree of longitude is shorter, so this errs strict.
    return bool(outline.distance(Point(lonlat)) * M_PER_DEG <= metres)


def load_facts(path: Path | None = None) -> CityFacts:
    """Read and validate the demo city's facts (default: the ``city_facts.toml`` in this package).

    Raises :class:`ConfigError` naming the file and the entry (``districts[3] (11200 성동구)``) when a value
    is missing or mistyped, a code or name is repeated, the outline is not a valid polygon, a district
    office or facility lies outside the outline, or a summit or gauge is more than
    :data:`BORDER_TOLERANCE_M` from it.
    """
    where, text = _facts_text(path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{where}: not valid TOML ({e})", where=where) from None
    r = _Reader(where)
    meta = r.table(data.get("meta", {}), "meta")
    outline_table = r.table(data.get("outline"), "outline")
    ring = r.points(outline_table, "coordinates", "outline", 3)
    outline = Polygon(ring)
    if not outline.is_valid:
        raise r.fail("outline", f"not a valid polygon: {shapely.is_valid_reason(outline)}")
    outline = shapely.normalize(outline)

    districts: list[DistrictFact] = []
    codes: set[str] = set()
    names: set[str] = set()
    for i, d in enumerate(r.items(data, "districts")):
        entry = f"districts[{i}]"
        code = r.text(d, "code", entry)
        name_ko = r.text(d, "name_ko", entry)
        entry = f"districts[{i}] ({code} {name_ko})"
        if not _CODE.fullmatch(code):
            raise r.fail(entry, f"code '{code}' is not a 5-digit MOIS code")
        if code in codes:
            raise r.fail(entry, f"code {code} appears twice")
        if name_ko in names:
            raise r.fail(entry, f"name {name_ko} appears twice")
        population = d.get("population")
        if isinstance(population, bool) or not isinstance(population, int) or population <= 0:
            raise r.fail(entry, "'population' must be a positive integer")
        office = r.point(d, "office", entry)
        if not outline.contains(Point(office)):
            raise r.fail(entry, f"office {list(office)} is outside the city outline")
        codes.add(code)
        names.add(name_ko)
        districts.append(DistrictFact(code, name_ko, r.text(d, "name_en", entry), office, population))

    rivers: list[RiverFact] = []
    for i, d in enumerate(r.items(data, "rivers")):
        entry = f"rivers[{i}] ({d.get('name_ko')})"
        line = LineString(r.points(d, "coordinates", entry, 2))
        if not line.intersects(outline):
            raise r.fail(entry, "the river does not cross the city outline")
        rivers.append(
            RiverFact(
                r.text(d, "name_ko", entry), r.text(d, "name_en", entry), r.number(d, "width_m", entry), line
            )
        )

    mountains: list[MountainFact] = []
    for i, d in enumerate(r.items(data, "mountains")):
        entry = f"mountains[{i}] ({d.get('name_ko')})"
        summit = r.point(d, "summit", entry)
        if not _near(outline, summit, BORDER_TOLERANCE_M):
            raise r.fail(
                entry, f"summit {list(summit)} is more than {BORDER_TOLERANCE_M:.0f} m outside the city"
            )
        mountains.append(
            MountainFact(
                r.text(d, "name_ko", entry),
                r.text(d, "name_en", entry),
                summit,
                r.number(d, "height_m", entry),
                r.number(d, "radius_m", entry),
            )
        )

    def places(key: str, inside: bool) -> list[PlaceFact]:
        out: list[PlaceFact] = []
        seen: set[str] = set()
        for i, d in enumerate(r.items(data, key)):
            code = r.text(d, "code", f"{key}[{i}]")
            entry = f"{key}[{i}] ({code})"
            if code in seen:
                raise r.fail(entry, f"code {code} appears twice")
            seen.add(code)
            pos = r.point(d, "position", entry)
            if inside and not outline.contains(Point(pos)):
                raise r.fail(entry, f"position {list(pos)} is outside the city outline")
            if not inside and not _near(outline, pos, BORDER_TOLERANCE_M):
                raise r.fail(entry, f"position {list(pos)} is more than {BORDER_TOLERANCE_M:.0f} m outside")
            kind = str(d.get("kind", key.rstrip("s")))
            out.append(PlaceFact(code, kind, r.text(d, "name_ko", entry), r.text(d, "name_en", entry), pos))
        return out

    return CityFacts(
        name=str(meta.get("name", "demo city")),
        source=str(meta.get("source", SOURCE)),
        districts=tuple(districts),
        outline=outline,
        rivers=tuple(rivers),
        mountains=tuple(mountains),
        gauges=tuple(places("gauges", inside=False)),
        facilities=tuple(places("facilities", inside=True)),
        hospitals=tuple(places("hospitals", inside=True)) if "hospitals" in data else (),
    )


# --- the generated city ----------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoDistrict:
    code: str
    name_ko: str
    name_en: str
    population: int
    office: Point
    polygon: Polygon

    def properties(self) -> dict[str, Any]:
        """GeoJSON properties with the column names of the MOIS (juso.go.kr) district files."""
        return {
            "SIG_CD": self.code,
            "SIG_KOR_NM": self.name_ko,
            "SIG_ENG_NM": self.name_en,
            "population": self.population,
            "source": SOURCE,
        }


@dataclass(frozen=True)
class PopulationCell:
    """The residents of one district inside one grid cell (a cell shared by two districts appears twice)."""

    district_code: str
    row: int  # from the south edge of the grid
    col: int  # from the west edge of the grid
    lon: float  # a point of the cell's part in the district
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
    outline: Polygon
    districts: tuple[DemoDistrict, ...]
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

    def digest(self) -> str:
        """SHA-256 over every generated value: equal digests mean identical cities."""
        h = hashlib.sha256()
        h.update(str(self.seed).encode())
        h.update(shapely.to_wkb(self.outline))
        h.update(shapely.to_wkb(self.water))
        for w in self.river_water:
            h.update(shapely.to_wkb(w))
        for d in self.districts:
            h.update(f"{d.code}|{d.name_ko}|{d.name_en}|{d.population}".encode())
            h.update(shapely.to_wkb(d.polygon))
        for c in self.population:
            h.update(f"{c.district_code}|{c.row}|{c.col}|{c.lon!r}|{c.lat!r}|{c.population}".encode())
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
    """Generate the demo city. The same seed (and facts) gives an identical city (see :meth:`DemoCity.digest`).

    The seed only varies the population's spread over the grid and the terrain's micro-relief; district
    polygons, water and roads follow from the facts alone.
    """
    facts = facts or load_facts()
    rng = np.random.default_rng(seed)
    c = facts.outline.centroid
    frame = _Frame(round(c.x, 4), round(c.y, 4))
    outline_m: Polygon = frame.to_m(facts.outline)
    han = facts.han
    han_m: LineString = frame.to_m(han.line)
    rivers_m = [
        frame.to_m(r.line).buffer(r.width_m / 2, cap_style="flat").intersection(outline_m)
        for r in facts.rivers
    ]
    han_water_m, tributaries_m = rivers_m[0], rivers_m[1:]
    water_m = shapely.union_all(rivers_m)

    polygons_m = _district_polygons(facts, frame, outline_m)
    districts = tuple(
        DemoDistrict(
            d.code,
            d.name_ko,
            d.name_en,
            d.population,
            Point(d.office),
            _clean_polygon(frame.to_deg(p)),
        )
        for d, p in zip(facts.districts, polygons_m, strict=True)
    )
    mountains_m = [(frame.to_m(Point(m.summit)), m) for m in facts.mountains]
    population = _population(facts, frame, outline_m, polygons_m, water_m, mountains_m, rng)
    roads = _roads(facts, frame, outline_m, han_m, han.width_m, water_m)
    terrain = _terrain(facts, frame, han_m, han_water_m, tributaries_m, mountains_m, rng)
    return DemoCity(
        seed=seed,
        facts=facts,
        outline=facts.outline,
        districts=districts,
        water=frame.to_deg(water_m),
        population_cell_m=POPULATION_CELL_M,
        population=population,
        roads=roads,
        terrain=terrain,
        river_water=tuple(frame.to_deg(w) for w in rivers_m),
    )


def _clean_polygon(geom: BaseGeometry) -> Polygon:
    geom = shapely.make_valid(geom) if not geom.is_valid else geom
    if geom.geom_type != "Polygon":
        parts = sorted(shapely.get_parts(geom), key=lambda p: -p.area)
        geom = parts[0]
    out = shapely.normalize(geom)
    assert isinstance(out, Polygon)
    return out


def _district_polygons(facts: CityFacts, frame: _Frame, outline_m: Polygon) -> list[Polygon]:
    """Voronoi cells of the offices, clipped to the outline; a clipped piece cut off from its office
    (the outline is concave) goes to the neighbour it shares the longest border with."""
    offices = [frame.to_m(Point(d.office)) for d in facts.districts]
    cells = shapely.get_parts(shapely.voronoi_polygons(shapely.MultiPoint(offices), extend_to=outline_m))
    own: list[BaseGeometry] = []
    orphans: list[BaseGeometry] = []
    for office in offices:
        cell = next(c for c in cells if c.contains(office))
        clipped = cell.intersection(outline_m)
        for part in shapely.get_parts(clipped):
            if part.geom_type != "Polygon" or part.area <= 0:
                continue
            if part.contains(office):
                own.append(part)
            else:
                orphans.append(part)
    for orphan in sorted(orphans, key=lambda p: (-p.area, p.centroid.x, p.centroid.y)):
        shared = [shapely.length(shapely.intersection(orphan.boundary, p.boundary)) for p in own]
        k = int(np.argmax(shared))
        own[k] = shapely.union(own[k], orphan)
    return [_clean_polygon(p) for p in own]


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
    polygons_m: Sequence[Polygon],
    water_m: BaseGeometry,
    mountains_m: Sequence[tuple[Point, MountainFact]],
    rng: np.random.Generator,
) -> tuple[PopulationCell, ...]:
    """Spread each district's residents over its 500 m cells: by land area (no one lives on the water),
    thinned on mountain slopes, with a seeded log-normal jitter for texture."""
    minx, miny, maxx, maxy = outline_m.bounds
    size = POPULATION_CELL_M
    cols = math.ceil((maxx - minx) / size)
    rows = math.ceil((maxy - miny) / size)
    grid_c, grid_r = np.meshgrid(np.arange(cols), np.arange(rows))
    cc, rr = grid_c.ravel(), grid_r.ravel()
    boxes = shapely.box(minx + cc * size, miny + rr * size, minx + (cc + 1) * size, miny + (rr + 1) * size)
    jitter = rng.lognormal(0.0, 0.35, size=len(boxes))
    cells: list[PopulationCell] = []
    for d, poly in zip(facts.districts, polygons_m, strict=True):
        land = poly.difference(water_m)
        idx = shapely.STRtree(boxes).query(land, predicate="intersects")
        idx = np.sort(idx)
        pieces = shapely.intersection(boxes[idx], land)
        area = shapely.area(pieces)
        keep = area > 1.0
        idx, pieces, area = idx[keep], pieces[keep], area[keep]
        points = shapely.point_on_surface(pieces)
        x, y = shapely.get_x(points), shapely.get_y(points)
        thin = np.ones_like(area)
        for summit, m in mountains_m:
            r2 = (x - summit.x) ** 2 + (y - summit.y) ** 2
            thin *= 1.0 - 0.95 * np.exp(-r2 / (2 * (m.radius_m * 0.6) ** 2))
        people = _allocate(d.population, area * thin * jitter[idx])
        lonlat = shapely.get_coordinates(frame.to_deg(shapely.MultiPoint(np.column_stack([x, y]))))
        for k, i in enumerate(idx):
            cells.append(
                PopulationCell(
                    d.code,
                    int(rr[i]),
                    int(cc[i]),
                    round(float(lonlat[k, 0]), 6),
                    round(float(lonlat[k, 1]), 6),
                    int(people[k]),
                )
            )
    return tuple(cells)


def _roads(
    facts: CityFacts,
    frame: _Frame,
    outline_m: Polygon,
    han_m: LineString,
    han_width_m: float,
    water_m: BaseGeometry,
) -> tuple[RoadLine, ...]:
    """A street grid every :data:`ROAD_SPACING_M` on land, the two riverside expressways and Han bridges
    (the gauge and facility bridges plus generated ones so that crossings are at most ~2.5 km apart),
    noded so that roads meet at their crossings. Tributaries are crossed on (flagged) bridges."""
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
    start, end = (han_m.project(frame.to_m(p)) for p in _outline_crossings(facts.outline, facts.han.line))
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
    "SOURCE",
    "CityFacts",
    "DemoCity",
    "DemoDistrict",
    "DistrictFact",
    "MountainFact",
    "PlaceFact",
    "PopulationCell",
    "RiverFact",
    "RoadLine",
    "TerrainModel",
    "build_city",
    "load_facts",
]
