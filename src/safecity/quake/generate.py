# SPDX-License-Identifier: Apache-2.0
"""A generated (synthetic) Seoul building inventory for the demo, reproducing the published totals.

Deterministic for a seed. It reproduces exactly the total number of buildings and the share with seismic
design of ``data/seoul_inventory.toml`` (592,463 and 19.9 %, 2023) and, by construction, the shares by use
drawn from there (marked UNCONFIRMED in the file); residents match each district's population. Buildings
are placed uniformly inside the district polygons given as input (the demo's approximate districts today,
real boundaries later): nothing here knows Seoul's geography. Every building is marked generated.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import cache
from importlib import resources
from typing import Any

import numpy as np
import numpy.typing as npt
import shapely
from shapely.geometry.base import BaseGeometry

from safecity.quake.inventory import Inventory, TimeOfDay, build, catalogue

FloatArray = npt.NDArray[np.float64]
SOURCE = "safecity generated Seoul inventory (synthetic buildings; totals from data/seoul_inventory.toml)"


@dataclass(frozen=True)
class DistrictArea:
    """A district to fill: code, WGS84 polygon, registered population."""

    code: str
    polygon: BaseGeometry
    population: int


@cache
def _spec() -> dict[str, Any]:
    with resources.files("safecity.quake").joinpath("data", "seoul_inventory.toml").open("rb") as f:
        return tomllib.load(f)


def _allocate(total: int, weights: FloatArray) -> npt.NDArray[np.int64]:
    """Integers summing to ``total`` in proportion to ``weights`` (largest remainder)."""
    raw = total * weights / weights.sum()
    out: npt.NDArray[np.int64] = np.floor(raw).astype(np.int64)
    out[np.argsort(-(raw - out), kind="stable")[: total - int(out.sum())]] += 1
    return out


def _pick(rng: np.random.Generator, table: dict[str, float], n: int) -> npt.NDArray[np.str_]:
    keys = list(table)
    p = np.array([table[k] for k in keys], dtype=np.float64)
    return np.array(keys)[rng.choice(len(keys), size=n, p=p / p.sum())]


def _points_in(rng: np.random.Generator, polygon: BaseGeometry, n: int) -> tuple[FloatArray, FloatArray]:
    """``n`` uniform random points inside ``polygon`` (rejection sampling in its bounding box)."""
    minx, miny, maxx, maxy = polygon.bounds
    shapely.prepare(polygon)
    xs: list[FloatArray] = []
    ys: list[FloatArray] = []
    have = 0
    while have < n:
        k = max(1024, int((n - have) * 1.6))
        x = rng.uniform(minx, maxx, k)
        y = rng.uniform(miny, maxy, k)
        inside = shapely.contains_xy(polygon, x, y)
        xs.append(x[inside])
        ys.append(y[inside])
        have += int(inside.sum())
    return np.concatenate(xs)[:n], np.concatenate(ys)[:n]


def generate_seoul(
    districts: Sequence[DistrictArea],
    *,
    seed: int = 592463,
    total: int | None = None,
    vs30_at: Callable[[FloatArray, FloatArray], FloatArray] | None = None,
) -> Inventory:
    """The generated inventory over ``districts`` (``total`` buildings, default the published 592,463).

    ``vs30_at(lon, lat)`` gives each building's Vs30 (m/s); without it every site is 360 m/s (the NEHRP
    C/D boundary: judgement for a city on alluvium and weathered granite/gneiss).
    """
    if not districts:
        raise ValueError("give at least one district polygon")
    spec = _spec()
    cat = catalogue()
    n_total = int(total if total is not None else spec["total"])
    rng = np.random.default_rng(seed)
    pops = np.array([max(d.population, 0) for d in districts], dtype=np.float64)
    if pops.sum() <= 0:
        pops = np.ones(len(districts))
    per = _allocate(n_total, pops)

    lon_parts, lat_parts, dist_parts = [], [], []
    for d, k in zip(districts, per, strict=True):
        x, y = _points_in(rng, d.polygon, int(k))
        lon_parts.append(x)
        lat_parts.append(y)
        dist_parts.append(np.full(int(k), d.code))
    lon, lat = np.concatenate(lon_parts), np.concatenate(lat_parts)
    district = np.concatenate(dist_parts)
    n = len(lon)

    group = _pick(rng, spec["group_share"], n)
    use = np.zeros(n, dtype=np.int64)
    structure = np.empty(n, dtype="<U12")
    floors = np.zeros(n, dtype=np.int64)
    area = np.zeros(n)
    for g in np.unique(group):
        sel = np.flatnonzero(group == g)
        key = str(g)
        use[sel] = _pick(rng, spec["uses"][key], len(sel)).astype(np.int64)
        structure[sel] = _pick(rng, spec["structure"][key], len(sel))
        pairs = spec["floors"][key]
        fl = np.array([p[0] for p in pairs])
        w = np.array([p[1] for p in pairs], dtype=np.float64)
        floors[sel] = fl[rng.choice(len(fl), size=len(sel), p=w / w.sum())]
        footprint = spec["footprint_m2"][key] * np.exp(rng.normal(0.0, 0.5, len(sel)))
        area[sel] = footprint * floors[sel]
    # light steel is single-storey sheds and workshops in practice (judgement)
    floors[structure == "light_steel"] = np.minimum(floors[structure == "light_steel"], 2)
    year = np.zeros(n, dtype=np.int64)
    for s in np.unique(structure):
        sel = structure == s
        lo, hi = spec["years"][str(s)]
        year[sel] = rng.integers(lo, hi + 1, int(sel.sum()))

    designed = _seismic_design(rng, structure, floors, year, float(spec["seismic_share"]))
    vs30 = vs30_at(lon, lat) if vs30_at is not None else np.full(n, 360.0)
    inv = build(
        ids=np.char.add(np.char.add("G", district), np.char.add("-", np.arange(n).astype(str))),
        lon=lon,
        lat=lat,
        district=district,
        dong=np.full(n, ""),
        structure=structure,
        use=use,
        floors=floors,
        year=year,
        seismic_design=designed,
        floor_area_m2=area,
        vs30=np.asarray(vs30, dtype=np.float64),
        generated=True,
        source=SOURCE,
    )
    # residents: scale each district's residential night occupants to its registered population
    residential = np.isin(use, [u.number for u in cat.uses if u.population == "residential"])
    codes, idx = inv.district_codes
    night = np.bincount(
        idx, weights=np.where(residential, inv.occupants[:, TimeOfDay.NIGHT], 0.0), minlength=len(codes)
    )
    pop_by_code = {d.code: float(d.population) for d in districts}
    target = np.array([pop_by_code[c] for c in codes])
    # a district without a registered population (0) keeps its buildings' own occupants (Hazus per floor
    # area): scaling them to nobody would leave no one to injure, displace or shelter
    scale = np.where((night > 0) & (target > 0), target / np.maximum(night, 1e-9), 1.0)[idx]
    occupants = inv.occupants * np.where(residential, scale, 1.0)[:, None]
    return replace(inv, occupants=occupants)


def _seismic_design(
    rng: np.random.Generator,
    structure: npt.NDArray[np.str_],
    floors: npt.NDArray[np.int64],
    year: npt.NDArray[np.int64],
    share: float,
) -> npt.NDArray[np.bool_]:
    """Exactly ``round(share × n)`` buildings designed, the likeliest first: those the rules covered
    (1988+ and 6+ floors; 2005+ and 3+; 2017+ and 2+; anything from 2017 up), newer and taller first, with
    a little noise so the choice is not a hard cut (judgement)."""
    n = len(year)
    target = round(share * n)
    covered = (
        ((year >= 1988) & (floors >= 6))
        | ((year >= 2005) & (floors >= 3))
        | ((year >= 2017) & (floors >= 2))
        | (year >= 2019)
    )
    soft = (structure == "masonry") | (structure == "wood")
    score = (
        year
        + 2.0 * floors
        + rng.normal(0.0, 4.0, n)
        + np.where(covered, 1000.0, 0.0)
        - np.where(soft, 500.0, 0.0)
    )
    out = np.zeros(n, dtype=bool)
    out[np.argsort(-score, kind="stable")[:target]] = True
    return out
