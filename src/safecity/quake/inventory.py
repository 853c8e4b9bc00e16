# SPDX-License-Identifier: Apache-2.0
"""The building inventory: one row per building, held as columns (numpy arrays) so that a damage run over
600,000 buildings is a handful of array operations.

A building's register attributes (structure class, main use, floors, approval year, seismic-design flag,
floor area) are turned into what the damage model needs, with the rules written down in
``data/korea_buildings.toml`` (sources and judgements marked there):

* the Hazus model building type (e.g. ``C2M``) from structure class × use × floors (Hazus Table 5-1 heights);
* the Hazus design level (High/Moderate/Low/Pre) from the seismic-design flag and the approval year;
* the Hazus occupancy class (``RES3``…) from the main use;
* occupants at night, by day and at commute time from floor area, use and the Hazus time-of-day shares.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import IntEnum
from functools import cache, cached_property
from importlib import resources
from typing import Any

import numpy as np
import numpy.typing as npt
import shapely
from shapely.geometry.base import BaseGeometry

from safecity.quake.fragility import CodeLevel, LognormalFragility, hazus_key, hazus_pga

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
StrArray = npt.NDArray[np.str_]
BoolArray = npt.NDArray[np.bool_]


class TimeOfDay(IntEnum):
    """Column of :attr:`Inventory.occupants`."""

    NIGHT = 0
    DAY = 1
    COMMUTE = 2


@dataclass(frozen=True)
class StructureClass:
    key: str
    name_ko: str
    keywords: tuple[str, ...]
    codes: tuple[str, ...]


@dataclass(frozen=True)
class UseClass:
    """A main use (주용도) of 건축법 시행령 별표 1."""

    number: int
    name_ko: str
    name_en: str
    hazus: str
    group: str
    population: str
    m2_per_person: float

    @property
    def code(self) -> str:
        """The register's 주용도코드 (UNCONFIRMED format, see the data file): ``"02000"``."""
        return f"{self.number:02d}000"


@dataclass(frozen=True)
class Catalogue:
    structures: tuple[StructureClass, ...]
    uses: tuple[UseClass, ...]
    time_of_day: Mapping[str, tuple[float, float, float]]
    designed_level: CodeLevel
    low_code_from_year: int

    def use(self, number: int) -> UseClass:
        return self.uses[number - 1]

    def structure_from(self, code: str, name: str) -> str | None:
        """Structure class key from the register's 구조코드명 (keywords) or else its 구조코드 (prefix)."""
        text = name.replace(" ", "")
        for s in self.structures:
            if text and any(k in text for k in s.keywords):
                return s.key
        code = code.strip()
        if code:
            # longest prefix first: "22" (precast) before "2" (concrete)
            for s in sorted(self.structures, key=lambda s: -max(len(c) for c in s.codes)):
                if any(code.startswith(c) for c in sorted(s.codes, key=len, reverse=True)):
                    return s.key
        return None

    def use_from(self, code: str, name: str) -> UseClass | None:
        """Use class from 주용도코드 (``02000``) or 주용도코드명 (the Act's name)."""
        text = name.replace(" ", "")
        for u in self.uses:
            if text and (text == u.name_ko or text.startswith(u.name_ko)):
                return u
        digits = code.strip()
        if digits.isdigit() and len(digits) == 5 and digits.endswith("000"):
            n = int(digits[:2])
            if 1 <= n <= len(self.uses):
                return self.uses[n - 1]
        return None


@cache
def catalogue() -> Catalogue:
    """The shipped ``data/korea_buildings.toml``."""
    with resources.files("safecity.quake").joinpath("data", "korea_buildings.toml").open("rb") as f:
        raw: dict[str, Any] = tomllib.load(f)
    structures = tuple(
        StructureClass(s["key"], s["name_ko"], tuple(s["keywords"]), tuple(s["codes"]))
        for s in raw["structure"]
    )
    uses = tuple(
        UseClass(
            int(u["number"]),
            u["name_ko"],
            u["name_en"],
            u["hazus"],
            u["group"],
            u["population"],
            float(u["m2_per_person"]),
        )
        for u in sorted(raw["use"], key=lambda u: int(u["number"]))
    )
    if [u.number for u in uses] != list(range(1, len(uses) + 1)):
        raise ValueError("korea_buildings.toml: use numbers must run 1..n without gaps")
    tod = {k: (float(v[0]), float(v[1]), float(v[2])) for k, v in raw["time_of_day"].items()}
    d = raw["design"]
    return Catalogue(structures, uses, tod, CodeLevel(d["designed"]), int(d["low_code_from_year"]))


def _height(prefix: str, floors: IntArray) -> StrArray:
    """Hazus height letter (Table 5-1) per building, '' for types without height classes."""
    f = np.asarray(floors)
    if prefix in ("W1", "W2", "S3", "PC1", "MH"):
        return np.full(f.shape, "", dtype="<U1")
    if prefix == "URM":
        return np.where(f <= 2, "L", "M")
    if prefix == "RM1":
        return np.where(f <= 3, "L", "M")
    return np.where(f <= 3, "L", np.where(f <= 7, "M", "H"))


def hazus_types(structure: StrArray, group: StrArray, floors: IntArray, designed: BoolArray) -> StrArray:
    """Hazus model building type per building (judgement, see ``data/korea_buildings.toml``):

    masonry → URM (RM2 when seismically designed: designed masonry must be reinforced); RC → C2 for
    multi-family housing (wall-type apartments), C1 when designed, else C3 (frame with masonry infill);
    precast → PC2; steel → S1; light steel → S3; steel-reinforced concrete → S4; wood → W1 (≤ 2 floors)
    else W2; anything else → C1 when designed, C3 when not.
    """
    n = len(structure)
    prefix = np.full(n, "C3", dtype="<U4")
    rc = structure == "rc"
    prefix[rc & designed] = "C1"
    prefix[rc & (group == "residential_multi")] = "C2"
    prefix[(structure == "other") & designed] = "C1"
    prefix[structure == "masonry"] = "URM"
    prefix[(structure == "masonry") & designed] = "RM2"
    prefix[structure == "precast"] = "PC2"
    prefix[structure == "steel"] = "S1"
    prefix[structure == "light_steel"] = "S3"
    prefix[structure == "src"] = "S4"
    wood = structure == "wood"
    prefix[wood] = np.where(floors[wood] <= 2, "W1", "W2")
    out = np.empty(n, dtype="<U5")
    for p in np.unique(prefix):
        sel = prefix == p
        out[sel] = np.char.add(p, _height(str(p), floors[sel]))
    return out


def code_levels(designed: BoolArray, year: IntArray, cat: Catalogue | None = None) -> StrArray:
    """Hazus design level per building from the seismic-design flag and the approval year (0 = unknown)."""
    c = cat or catalogue()
    out = np.where(year >= c.low_code_from_year, CodeLevel.LOW.value, CodeLevel.PRE.value).astype("<U8")
    out[designed] = c.designed_level.value
    return out


@dataclass(frozen=True, eq=False)
class Inventory:
    """Buildings as columns; every array has one entry per building.

    Coordinates WGS84 lon/lat; ``year`` 0 when unknown; ``occupants`` is (n × 3): night, day, commute
    (:class:`TimeOfDay`); ``vs30`` m/s. ``generated`` marks a synthetic inventory (never real buildings).
    """

    ids: StrArray
    lon: FloatArray
    lat: FloatArray
    district: StrArray
    dong: StrArray
    structure: StrArray
    use: IntArray
    occupancy: StrArray
    hazus_type: StrArray
    code_level: StrArray
    floors: IntArray
    year: IntArray
    seismic_design: BoolArray
    floor_area_m2: FloatArray
    occupants: FloatArray
    vs30: FloatArray
    generated: bool = False
    source: str = ""
    #: per-inventory tables computed once (fragility rows, casualty rates); never copied by ``replace``
    _cache: dict[str, Any] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __len__(self) -> int:
        return len(self.ids)

    def fragility_rows(self, fragility: LognormalFragility | None = None) -> npt.NDArray[np.intp]:
        """Row of each building in the Hazus PGA fragility table (computed once per inventory). A type at a
        design level Hazus does not define (URM, C3, S5 exist only at Low/Pre) takes the nearest lower one."""
        frag = fragility or hazus_pga()
        key = f"rows:{id(frag)}"
        if key not in self._cache:
            # unique over integer pairs, not over 600,000 concatenated strings (10x faster)
            types, ti = np.unique(self.hazus_type, return_inverse=True)
            levels, li = np.unique(self.code_level, return_inverse=True)
            uniq, inverse = np.unique(ti * len(levels) + li, return_inverse=True)
            known = set(frag.keys)
            order = [lv.value for lv in CodeLevel]
            resolved = []
            for u in uniq:
                btype, level = str(types[u // len(levels)]), str(levels[u % len(levels)])
                for lv in order[order.index(level) :]:
                    if hazus_key(btype, lv) in known:
                        resolved.append(hazus_key(btype, lv))
                        break
                else:
                    raise KeyError(f"no Hazus fragility for {btype} at {level} or lower")
            self._cache[key] = frag.index(resolved)[inverse]
        rows: npt.NDArray[np.intp] = self._cache[key]
        return rows

    @cached_property
    def district_codes(self) -> tuple[tuple[str, ...], npt.NDArray[np.intp]]:
        """(distinct district codes, each building's index into them)."""
        uniq, inverse = np.unique(self.district, return_inverse=True)
        return tuple(str(u) for u in uniq), inverse


def with_areas(
    inventory: Inventory, areas: Sequence[tuple[str, BaseGeometry]], *, level: str = "dong"
) -> Inventory:
    """The inventory with each building's ``dong`` (or ``district``) code set from the polygon that holds
    it (WGS84 polygons, e.g. the administrative dongs imported by the geo capability). Buildings outside
    every polygon keep their code. One spatial-index query for all buildings (shapely STRtree)."""
    if level not in ("dong", "district"):
        raise ValueError("level is 'dong' or 'district'")
    codes = [c for c, _ in areas]
    tree = shapely.STRtree([g for _, g in areas])
    points = shapely.points(inventory.lon, inventory.lat)
    building, area = tree.query(points, predicate="within")
    current = inventory.dong if level == "dong" else inventory.district
    width = max([len(c) for c in codes] + [current.dtype.itemsize // 4, 1])
    out = current.astype(f"<U{width}")
    # a point on a shared border falls in two polygons: the first one listed wins
    first = np.unique(building, return_index=True)[1]
    out[building[first]] = np.array(codes, dtype=f"<U{width}")[area[first]]
    changes: dict[str, Any] = {level: out}
    return replace(inventory, **changes)


def build(
    *,
    ids: StrArray,
    lon: FloatArray,
    lat: FloatArray,
    district: StrArray,
    dong: StrArray,
    structure: StrArray,
    use: IntArray,
    floors: IntArray,
    year: IntArray,
    seismic_design: BoolArray,
    floor_area_m2: FloatArray,
    vs30: FloatArray,
    generated: bool = False,
    source: str = "",
    residents_scale: FloatArray | None = None,
) -> Inventory:
    """An inventory from register attributes: derives the Hazus type, design level, occupancy class and
    occupants by time of day (module doc). ``residents_scale`` multiplies each building's peak occupants
    (the generator uses it to match each district's population)."""
    cat = catalogue()
    use_arr = np.asarray(use, dtype=np.int64)
    uses = cat.uses
    group = np.array([u.group for u in uses])[use_arr - 1]
    occupancy = np.array([u.hazus for u in uses])[use_arr - 1]
    per_person = np.array([u.m2_per_person for u in uses])[use_arr - 1]
    categories = sorted(cat.time_of_day)
    pop_cat = np.array([categories.index(u.population) for u in uses])[use_arr - 1]
    shares = np.array([cat.time_of_day[c] for c in categories])[pop_cat]
    peak = np.asarray(floor_area_m2, dtype=np.float64) / per_person
    if residents_scale is not None:
        peak = peak * residents_scale
    floors_arr = np.asarray(floors, dtype=np.int64)
    designed = np.asarray(seismic_design, dtype=bool)
    return Inventory(
        ids=np.asarray(ids, dtype=str),
        lon=np.asarray(lon, dtype=np.float64),
        lat=np.asarray(lat, dtype=np.float64),
        district=np.asarray(district, dtype=str),
        dong=np.asarray(dong, dtype=str),
        structure=np.asarray(structure, dtype=str),
        use=use_arr,
        occupancy=occupancy,
        hazus_type=hazus_types(np.asarray(structure, dtype=str), group, floors_arr, designed),
        code_level=code_levels(designed, np.asarray(year, dtype=np.int64), cat),
        floors=floors_arr,
        year=np.asarray(year, dtype=np.int64),
        seismic_design=designed,
        floor_area_m2=np.asarray(floor_area_m2, dtype=np.float64),
        occupants=peak[:, None] * shares,
        vs30=np.asarray(vs30, dtype=np.float64),
        generated=generated,
        source=source,
    )
