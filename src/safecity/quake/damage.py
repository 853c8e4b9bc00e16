# SPDX-License-Identifier: Apache-2.0
"""Damage, casualties and displacement per building, vectorised: the Hazus chain on a shaking field.

1. Damage states: P(DS = none, slight, moderate, extensive, complete) per building from the Hazus
   equivalent-PGA fragility of its model type and design level (:mod:`safecity.quake.fragility`), or,
   with ``method="csm"``, from the capacity-spectrum method for every building whose type and design
   level have a capacity curve (:mod:`safecity.quake.csm`; the others keep PGA).
2. Collapse: P(complete) × P(collapse | complete) of its type (Hazus 6.1 Table 12-8).
3. Indoor casualties by severity 1-4 (4 = killed): occupants at the chosen time of day × Σ over damage
   states of P(ds) × rate(type, ds, severity), where the complete state mixes the collapse and
   no-collapse rates by the collapse fraction (Hazus 6.1 Tables 12-3 to 12-7, §12.3).
4. Displaced residents: the residents (night occupants) of residential buildings × (w_E·P(extensive) +
   w_C·P(complete)), Hazus §14 weights: single-family w_E 0, w_C 1; multi-family w_E 0.9, w_C 1. Shelter
   demand: a share of the displaced (:data:`SHELTER_SHARE`).

Everything is arrays over buildings; no Python loop over buildings.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from importlib import resources

import numpy as np
import numpy.typing as npt

from safecity.quake.fragility import HAZUS_STATES, LognormalFragility, hazus_pga, state_probabilities
from safecity.quake.inventory import Inventory, TimeOfDay

FloatArray = npt.NDArray[np.float64]

#: Hazus §14.2 uninhabitable-dwelling weights for extensive and complete damage (single family 0/1,
#: multi-family 0.9/1), as the author recalls the manual's defaults: UNCONFIRMED table number.
DISPLACED_WEIGHTS = {"RES1": (0.0, 1.0), "RES3": (0.9, 1.0)}
#: Share of displaced residents who seek public shelter. Hazus computes it from income, age, ownership
#: and ethnicity (§14.3); without those data this is a single judgement value (UNCONFIRMED): a third,
#: in the range Hazus' defaults give for dense urban renters.
SHELTER_SHARE = 1.0 / 3.0


@dataclass(frozen=True)
class CasualtyModel:
    """Per model building type (row order ``types``): rates (types × 4 states × 4 severities) with the
    complete state already mixed by the collapse fraction, and the collapse fraction itself."""

    types: tuple[str, ...]
    rates: FloatArray
    collapse_fraction: FloatArray

    def rows(self, hazus_type: npt.NDArray[np.str_]) -> npt.NDArray[np.intp]:
        """Row per building; types with a height suffix fall back to their base (``S3``, ``W1``)."""
        uniq, inverse = np.unique(hazus_type, return_inverse=True)
        pos = {t: i for i, t in enumerate(self.types)}
        idx = []
        for u in uniq:
            t = str(u)
            if t not in pos:
                raise KeyError(f"no Hazus casualty rates for model building type {t!r}")
            idx.append(pos[t])
        out: npt.NDArray[np.intp] = np.array(idx, dtype=np.intp)[inverse]
        return out


@cache
def casualty_model() -> CasualtyModel:
    """Hazus 6.1 indoor casualty rates (Tables 12-3 to 12-7) and collapse fractions (Table 12-8)."""
    pkg = resources.files("safecity.quake").joinpath("data")
    with pkg.joinpath("hazus_collapse_fraction.csv").open(encoding="utf-8") as f:
        collapse = {r["structural_type"]: float(r["probability"]) for r in csv.DictReader(f)}
    rates: dict[tuple[str, str], list[float]] = {}
    with pkg.joinpath("hazus_casualty_rates.csv").open(encoding="utf-8") as f:
        for r in csv.DictReader(f):
            rates[(r["structural_type"], r["damage_state"])] = [
                float(r[f"severity_{k}"]) for k in range(1, 5)
            ]
    types = tuple(sorted(collapse))
    arr = np.zeros((len(types), 4, 4))
    for i, t in enumerate(types):
        for s, state in enumerate(("slight", "moderate", "extensive")):
            arr[i, s] = rates[(t, state)]
        c = collapse[t]
        arr[i, 3] = c * np.array(rates[(t, "collapse")]) + (1 - c) * np.array(
            rates[(t, "complete_no_collapse")]
        )
    return CasualtyModel(types, arr, np.array([collapse[t] for t in types]))


@dataclass(frozen=True)
class Damage:
    """Per building: damage-state probabilities (n × 5, no damage first), collapse probability, expected
    casualties by severity (n × 4, severity 1-4 at ``time_of_day``), displaced residents and shelter
    seekers, and the ground motion used (PGA, g)."""

    pga_g: FloatArray
    probabilities: FloatArray
    collapse: FloatArray
    casualties: FloatArray
    displaced: FloatArray
    shelter: FloatArray
    time_of_day: TimeOfDay
    #: buildings whose damage states came from the capacity-spectrum method (the rest: PGA)
    csm_buildings: int = 0

    @property
    def states(self) -> tuple[str, ...]:
        return ("none", *HAZUS_STATES)

    def inspection_priority(self, occupants: FloatArray) -> FloatArray:
        """Collapse probability × occupants: the order in which to inspect buildings."""
        out: FloatArray = self.collapse * occupants
        return out


#: The damage methods (SAFECITY_QUAKE__DAMAGE_METHOD).
METHODS = ("pga", "csm")


def assess(
    inventory: Inventory,
    pga_g: FloatArray,
    *,
    time_of_day: TimeOfDay = TimeOfDay.DAY,
    fragility: LognormalFragility | None = None,
    method: str = "pga",
    spectra: tuple[FloatArray, FloatArray] | None = None,
    magnitude: float | None = None,
) -> Damage:
    """Damage, casualties and displacement of every building for the PGA (g) at each building. With
    ``method="csm"``, ``spectra`` (SA(0.3 s), SA(1.0 s) in g at each building) and the ``magnitude`` (the
    shaking's duration), the buildings with a capacity curve get their damage states from the
    capacity-spectrum method instead."""
    if method not in METHODS:
        raise ValueError(f"damage method {method!r}: one of {', '.join(METHODS)}")
    frag = fragility or hazus_pga()
    rows = inventory.fragility_rows(frag)
    exceed = frag.exceedance(np.asarray(pga_g, dtype=np.float64), rows)
    monotone = bool(getattr(frag, "monotone", False))
    csm_buildings = 0
    if method == "csm":
        if spectra is None or magnitude is None:
            raise ValueError("the capacity-spectrum method needs SA(0.3 s), SA(1.0 s) and the magnitude")
        from safecity.quake.csm import assess_csm, curve_rows

        if "csm:rows" not in inventory._cache:
            inventory._cache["csm:rows"] = curve_rows(inventory.hazus_type, inventory.code_level)
        mask, csm_exceed = assess_csm(
            inventory.hazus_type,
            inventory.code_level,
            spectra[0],
            spectra[1],
            magnitude,
            rows=inventory._cache["csm:rows"],
        )
        exceed = exceed.copy()
        exceed[mask] = csm_exceed
        csm_buildings = int(mask.sum())
        monotone = False  # the Sd fragilities' β differ per state
    probs = state_probabilities(exceed, monotone=monotone)
    model = casualty_model()
    rates, collapse_fraction, w_ext, w_com = _per_inventory(inventory, model)
    collapse = probs[:, 4] * collapse_fraction
    # Σ_ds P(ds) × rate(type, ds, severity)
    rate = np.einsum("ns,nsk->nk", probs[:, 1:], rates)
    casualties = rate * inventory.occupants[:, int(time_of_day)][:, None]
    residents = inventory.occupants[:, TimeOfDay.NIGHT]
    displaced = residents * (w_ext * probs[:, 3] + w_com * probs[:, 4])
    return Damage(
        np.asarray(pga_g, dtype=np.float64),
        probs,
        collapse,
        casualties,
        displaced,
        displaced * SHELTER_SHARE,
        time_of_day,
        csm_buildings,
    )


def _per_inventory(
    inventory: Inventory, model: CasualtyModel
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """What :func:`assess` needs of an inventory that does not change between scenarios, computed once:
    each building's casualty rates (n × 4 states × 4 severities) and collapse fraction, and its
    displacement weights for extensive and complete damage."""
    key = f"damage:{id(model)}"
    if key not in inventory._cache:
        trow = model.rows(inventory.hazus_type)
        w_ext = np.zeros(len(inventory))
        w_com = np.zeros(len(inventory))
        for occ, (we, wc) in DISPLACED_WEIGHTS.items():
            sel = inventory.occupancy == occ
            w_ext[sel], w_com[sel] = we, wc
        inventory._cache[key] = (
            np.ascontiguousarray(model.rates[trow]),
            model.collapse_fraction[trow],
            w_ext,
            w_com,
        )
    cached: tuple[FloatArray, FloatArray, FloatArray, FloatArray] = inventory._cache[key]
    return cached
