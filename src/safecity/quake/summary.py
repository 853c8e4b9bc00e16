# SPDX-License-Identifier: Apache-2.0
"""The damage summary an operator reads: per area (district, or dong when the inventory has dong codes)
the expected buildings in each damage state, casualties, displaced residents, shelter demand, the
shaking and its KMA intensity; and the buildings to inspect first (collapse probability × occupants).

Aggregation is ``np.bincount`` over the area index: one pass per quantity, no loop over buildings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from safecity.quake.damage import Damage
from safecity.quake.fragility import HAZUS_STATES
from safecity.quake.intensity import GAL_PER_G, kma_class_name, kma_class_of
from safecity.quake.inventory import Inventory

FloatArray = npt.NDArray[np.float64]
#: Severity names of the Hazus casualty levels (Technical Manual §12.1, Table 12-1).
SEVERITIES = ("minor_injury", "hospitalised", "life_threatening", "killed")


@dataclass(frozen=True)
class AreaDamage:
    """Expected values for one area (counts are expectations: sums of probabilities)."""

    code: str
    buildings: int
    by_state: dict[str, float]
    casualties: dict[str, float]
    displaced: float
    shelter_demand: float
    collapses: float
    pga_max_g: float
    pga_mean_g: float
    kma_intensity: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "buildings": self.buildings,
            "by_state": {k: round(v, 1) for k, v in self.by_state.items()},
            "casualties": {k: round(v, 1) for k, v in self.casualties.items()},
            "displaced": round(self.displaced, 1),
            "shelter_demand": round(self.shelter_demand, 1),
            "collapses": round(self.collapses, 2),
            "pga_max_g": round(self.pga_max_g, 4),
            "pga_mean_g": round(self.pga_mean_g, 4),
            "pga_max_gal": round(self.pga_max_g * GAL_PER_G, 1),
            "kma_intensity": self.kma_intensity,
            **_class_fields(self.pga_max_g),
        }


@dataclass(frozen=True)
class Inspection:
    """A building to inspect: its id, where, its collapse probability, occupants and the product."""

    id: str
    district: str
    lon: float
    lat: float
    hazus_type: str
    collapse_probability: float
    occupants: float
    priority: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "district": self.district,
            "lon": round(self.lon, 6),
            "lat": round(self.lat, 6),
            "hazus_type": self.hazus_type,
            "collapse_probability": round(self.collapse_probability, 4),
            "occupants": round(self.occupants, 1),
            "priority": round(self.priority, 3),
        }


@dataclass(frozen=True)
class DamageSummary:
    areas: tuple[AreaDamage, ...]
    inspect_first: tuple[Inspection, ...]
    total: AreaDamage
    notes: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "total": self.total.to_dict(),
            "areas": [a.to_dict() for a in self.areas],
            "inspect_first": [i.to_dict() for i in self.inspect_first],
            **self.notes,
        }


def summarise(inventory: Inventory, damage: Damage, *, by: str = "district", top: int = 20) -> DamageSummary:
    """Per-area sums and the ``top`` buildings by collapse probability × occupants (at the damage's time
    of day). ``by``: ``"district"`` or ``"dong"``."""
    keys = inventory.district if by == "district" else inventory.dong
    codes, idx = inventory.district_codes if by == "district" else _codes(keys)
    n = len(codes)

    def total(values: FloatArray) -> FloatArray:
        out: FloatArray = np.bincount(idx, weights=values, minlength=n).astype(np.float64)
        return out

    counts = np.bincount(idx, minlength=n)
    states = ("none", *HAZUS_STATES)
    by_state = [total(damage.probabilities[:, k]) for k in range(5)]
    cas = [total(damage.casualties[:, k]) for k in range(4)]
    displaced, shelter, collapses = total(damage.displaced), total(damage.shelter), total(damage.collapse)
    pga = damage.pga_g
    pga_sum = total(pga)
    pga_max = np.full(n, 0.0)
    np.maximum.at(pga_max, idx, pga)
    areas = tuple(
        AreaDamage(
            codes[a],
            int(counts[a]),
            {s: float(by_state[k][a]) for k, s in enumerate(states)},
            {s: float(cas[k][a]) for k, s in enumerate(SEVERITIES)},
            float(displaced[a]),
            float(shelter[a]),
            float(collapses[a]),
            float(pga_max[a]),
            float(pga_sum[a] / max(counts[a], 1)),
            kma_class_name(float(pga_max[a])),
        )
        for a in range(n)
    )
    whole = AreaDamage(
        "total",
        len(inventory),
        {s: float(damage.probabilities[:, k].sum()) for k, s in enumerate(states)},
        {s: float(damage.casualties[:, k].sum()) for k, s in enumerate(SEVERITIES)},
        float(damage.displaced.sum()),
        float(damage.shelter.sum()),
        float(damage.collapse.sum()),
        float(pga.max(initial=0.0)),
        float(pga.mean()) if len(pga) else 0.0,
        kma_class_name(float(pga.max(initial=0.0))),
    )
    occupants = inventory.occupants[:, int(damage.time_of_day)]
    priority = damage.inspection_priority(occupants)
    k = min(top, len(priority))
    best = np.argpartition(-priority, k - 1)[:k] if k else np.array([], dtype=np.intp)
    best = best[np.argsort(-priority[best], kind="stable")]
    inspect = tuple(
        Inspection(
            str(inventory.ids[i]),
            str(inventory.district[i]),
            float(inventory.lon[i]),
            float(inventory.lat[i]),
            str(inventory.hazus_type[i]),
            float(damage.collapse[i]),
            float(occupants[i]),
            float(priority[i]),
        )
        for i in best
    )
    notes = {
        "time_of_day": damage.time_of_day.name.lower(),
        "generated_inventory": inventory.generated,
        "inventory_source": inventory.source,
    }
    return DamageSummary(areas, inspect, whole, notes)


def _class_fields(pga_g: float) -> dict[str, Any]:
    """The KMA class's names and the crisis level the earthquake pack maps it to (None below IV)."""
    c = kma_class_of(pga_g)
    return {
        "kma_intensity_ko": c.name_ko if c else "진도 IV 미만",
        "kma_intensity_en": c.name_en if c else "Below intensity IV",
        "crisis_level": c.crisis if c else None,
    }


def _codes(keys: npt.NDArray[np.str_]) -> tuple[tuple[str, ...], npt.NDArray[np.intp]]:
    uniq, inverse = np.unique(keys, return_inverse=True)
    return tuple(str(u) for u in uniq), inverse
