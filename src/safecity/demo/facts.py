# SPDX-License-Identifier: Apache-2.0
"""The demo city's facts: the small table of cited public facts in ``city_facts.toml``, read and checked.

The 25 자치구 with their MOIS codes, office positions and 2021 Q2 resident population, the Han River and
its tributaries, mountains, gauges, facilities and real hospitals at approximate positions. The city's
outline is not in the table: it is the union of Seoul's real districts shipped in
:mod:`safecity.geo.seoul`, and every district of the table must be one of them (same code and names) and
hold its own office.
"""

from __future__ import annotations

import math
import re
import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import shapely
from shapely.geometry import LineString, Point, Polygon

from safecity.core.errors import ConfigError
from safecity.geo import seoul

#: The ``source`` property of everything generated for the demo.
SOURCE = "safecity demo city (generated)"
#: Metres per degree of latitude (WGS84 mean), as in :mod:`safecity.geo.terrain`.
M_PER_DEG = 111_195.0
#: Summits and gauges may sit on or just beyond the city border: they must lie within this distance of
#: it rather than inside.
BORDER_TOLERANCE_M = 3000.0

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


@cache
def city_outline() -> Polygon:
    """Seoul's outline: the union of the shipped districts (one polygon, no holes)."""
    union = shapely.coverage_union_all([b.polygon for b in seoul.districts()])
    if not isinstance(union, Polygon):  # the shipped data is one piece; a change would break the demo
        raise ConfigError(f"the shipped districts' union is a {union.geom_type}, not one polygon")
    out = shapely.normalize(union)
    assert isinstance(out, Polygon)
    return out


def _near(outline: Polygon, lonlat: tuple[float, float], metres: float) -> bool:
    # Degrees to metres at the latitude scale: a degree of longitude is shorter, so this errs strict.
    return bool(outline.distance(Point(lonlat)) * M_PER_DEG <= metres)


def load_facts(path: Path | None = None) -> CityFacts:
    """Read and validate the demo city's facts (default: the ``city_facts.toml`` in this package).

    Raises :class:`ConfigError` naming the file and the entry (``districts[3] (11200 성동구)``) when a value
    is missing or mistyped, a code or name is repeated, a district is not one of Seoul's real districts
    (code and names), a district office lies outside its own district, a facility outside the city
    outline (the union of the real districts), or a summit or gauge is more than
    :data:`BORDER_TOLERANCE_M` from it.
    """
    where, text = _facts_text(path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{where}: not valid TOML ({e})", where=where) from None
    r = _Reader(where)
    meta = r.table(data.get("meta", {}), "meta")
    outline = city_outline()
    real = {b.code: b for b in seoul.districts()}

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
        name_en = r.text(d, "name_en", entry)
        own = real.get(code)
        if own is None:
            raise r.fail(entry, f"code {code} is not one of Seoul's 25 districts (safecity/geo/data)")
        if (own.name_ko, own.name_en) != (name_ko, name_en):
            raise r.fail(entry, f"the names must be the district's own: {own.name_ko} / {own.name_en}")
        office = r.point(d, "office", entry)
        if not outline.contains(Point(office)):
            raise r.fail(entry, f"office {list(office)} is outside the city outline")
        if not own.polygon.contains(Point(office)):
            raise r.fail(entry, f"office {list(office)} is not inside {own.name_ko} ({code})")
        codes.add(code)
        names.add(name_ko)
        districts.append(DistrictFact(code, name_ko, name_en, office, population))

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


__all__ = [
    "BORDER_TOLERANCE_M",
    "M_PER_DEG",
    "SOURCE",
    "CityFacts",
    "DistrictFact",
    "MountainFact",
    "PlaceFact",
    "RiverFact",
    "city_outline",
    "load_facts",
]
