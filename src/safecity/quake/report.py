# SPDX-License-Identifier: Apache-2.0
"""What an earthquake incident gets from one assessment, computed from the per-building arrays: the
damage map (grid cells), the buildings to inspect first, and shelter demand per dong against capacity.

Pure numpy over the buildings (no Python loop over them): the cells and dongs are bincounts, the
inspection list an ``argpartition``. The store and the other capabilities are :mod:`.chain`'s business.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import shapely
from shapely.geometry.base import BaseGeometry

from safecity.quake.damage import Damage
from safecity.quake.intensity import kma_class_name
from safecity.quake.inventory import Inventory

FloatArray = npt.NDArray[np.float64]
_KM_PER_DEG_LAT = 110.574
#: Storey height used to turn a building's floors into the height its collapse cordon is drawn from
#: (judgement: 3 m is the usual Korean residential floor-to-floor height, 2.6-3.3 m).
STOREY_M = 3.0


@dataclass(frozen=True)
class Cell:
    """One cell of the damage map: its square (WGS84), buildings, mean damage-state probabilities
    (none … complete), expected collapses and the strongest shaking in it."""

    polygon: BaseGeometry
    buildings: int
    p: tuple[float, float, float, float, float]
    collapses: float
    pga_max_g: float

    @property
    def kma_intensity(self) -> str:
        return kma_class_name(self.pga_max_g)


@dataclass(frozen=True)
class Inspection:
    """A building to inspect first: rank by collapse probability × occupants at the hour of the quake."""

    rank: int
    id: str
    lon: float
    lat: float
    district: str
    dong: str
    hazus_type: str
    floors: int
    year: int
    seismic_design: bool
    collapse_probability: float
    p_complete: float
    occupants: float
    priority: float
    pga_g: float

    @property
    def height_m(self) -> float:
        return max(1, self.floors) * STOREY_M

    def to_json(self) -> dict[str, Any]:
        return {
            "rank": self.rank,
            "id": self.id,
            "lon": round(self.lon, 6),
            "lat": round(self.lat, 6),
            "district": self.district,
            "dong": self.dong,
            "hazusType": self.hazus_type,
            "floors": self.floors,
            "year": self.year or None,
            "seismicDesign": self.seismic_design,
            "collapseProbability": round(self.collapse_probability, 4),
            "pComplete": round(self.p_complete, 4),
            "occupants": round(self.occupants, 1),
            "priority": round(self.priority, 3),
            "pgaG": round(self.pga_g, 4),
        }


@dataclass(frozen=True)
class ShelterNeed:
    """Expected shelter seekers of one dong against the places of its open temporary housing."""

    code: str
    name_ko: str
    name_en: str
    demand: float
    capacity: int

    @property
    def shortfall(self) -> float:
        return max(0.0, self.demand - self.capacity)

    def to_json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "nameKo": self.name_ko,
            "nameEn": self.name_en,
            "demand": round(self.demand, 1),
            "capacity": self.capacity,
            "shortfall": round(self.shortfall, 1),
        }


def cells(inventory: Inventory, damage: Damage, cell_m: float) -> list[Cell]:
    """The damage map: buildings binned into squares of ``cell_m`` metres (a local equirectangular grid
    anchored at the inventory's south-west corner: within Seoul's 40 km the squares are true to <0.1 %)."""
    if len(inventory) == 0:
        return []
    lon0, lat0 = float(inventory.lon.min()), float(inventory.lat.min())
    kx = _KM_PER_DEG_LAT * math.cos(math.radians(float(inventory.lat.mean())))
    size_km = cell_m / 1000.0
    ix = np.floor((inventory.lon - lon0) * kx / size_km).astype(np.int64)
    iy = np.floor((inventory.lat - lat0) * _KM_PER_DEG_LAT / size_km).astype(np.int64)
    key = ix * 1_000_000 + iy
    uniq, idx = np.unique(key, return_inverse=True)
    n = len(uniq)
    counts = np.bincount(idx, minlength=n)
    sums = [np.bincount(idx, weights=damage.probabilities[:, k], minlength=n) for k in range(5)]
    collapses = np.bincount(idx, weights=damage.collapse, minlength=n)
    pga_max = np.zeros(n)
    np.maximum.at(pga_max, idx, damage.pga_g)
    dlon, dlat = size_km / kx, size_km / _KM_PER_DEG_LAT
    x0 = lon0 + (uniq // 1_000_000) * dlon
    y0 = lat0 + (uniq % 1_000_000) * dlat
    boxes = shapely.box(x0, y0, x0 + dlon, y0 + dlat)
    return [
        Cell(
            boxes[c],
            int(counts[c]),
            (
                float(sums[0][c] / counts[c]),
                float(sums[1][c] / counts[c]),
                float(sums[2][c] / counts[c]),
                float(sums[3][c] / counts[c]),
                float(sums[4][c] / counts[c]),
            ),
            float(collapses[c]),
            float(pga_max[c]),
        )
        for c in range(n)
    ]


def inspections(inventory: Inventory, damage: Damage, top: int) -> list[Inspection]:
    """The ``top`` buildings by collapse probability × occupants at the damage's time of day (Hazus'
    occupants by hour), most urgent first; buildings with no chance of collapse are never listed."""
    occupants = inventory.occupants[:, int(damage.time_of_day)]
    return _top(inventory, damage, damage.inspection_priority(occupants), top)


def likeliest(inventory: Inventory, damage: Damage, top: int) -> list[Inspection]:
    """The ``top`` buildings by collapse probability alone (where the expected collapses most likely are)."""
    return _top(inventory, damage, damage.collapse, top)


def _top(inventory: Inventory, damage: Damage, score: FloatArray, top: int) -> list[Inspection]:
    occupants = inventory.occupants[:, int(damage.time_of_day)]
    priority = damage.inspection_priority(occupants)
    k = min(top, int((score > 0).sum()))
    if k == 0:
        return []
    best = np.argpartition(-score, k - 1)[:k]
    best = best[np.argsort(-score[best], kind="stable")]
    return [
        Inspection(
            rank + 1,
            str(inventory.ids[i]),
            float(inventory.lon[i]),
            float(inventory.lat[i]),
            str(inventory.district[i]),
            str(inventory.dong[i]),
            str(inventory.hazus_type[i]),
            int(inventory.floors[i]),
            int(inventory.year[i]),
            bool(inventory.seismic_design[i]),
            float(damage.collapse[i]),
            float(damage.probabilities[i, 4]),
            float(occupants[i]),
            float(priority[i]),
            float(damage.pga_g[i]),
        )
        for rank, i in enumerate(best)
    ]


def shelter_needs(
    inventory: Inventory,
    damage: Damage,
    capacity: Mapping[str, int],
    names: Mapping[str, tuple[str, str]],
) -> list[ShelterNeed]:
    """Shelter seekers per dong (``inventory.dong``) against ``capacity`` (places per dong code), the
    largest shortfall first, then the largest demand; dongs with no demand are left out."""
    codes, idx = np.unique(inventory.dong, return_inverse=True)
    demand = np.bincount(idx, weights=damage.shelter, minlength=len(codes))
    out = [
        ShelterNeed(
            str(code),
            names.get(str(code), (str(code), str(code)))[0],
            names.get(str(code), (str(code), str(code)))[1],
            float(demand[i]),
            int(capacity.get(str(code), 0)),
        )
        for i, code in enumerate(codes)
        if demand[i] >= 0.05
    ]
    return sorted(out, key=lambda s: (-s.shortfall, -s.demand, s.code))
