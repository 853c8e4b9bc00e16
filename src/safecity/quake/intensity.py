# SPDX-License-Identifier: Apache-2.0
"""Shaking intensity: KMA instrumental intensity classes from PGA, and the PGA ↔ MMI relations.

* KMA classes: the thresholds are **read from the situation capability's earthquake rule pack**
  (``safecity/situation/packs/earthquake.toml``, rule ``kma.earthquake_intensity``), where they are cited
  (and marked UNCONFIRMED). One table, so the damage model's district intensity and the rule engine's
  crisis levels can never disagree.
* ``mmi_aww14``, ``pga_from_mmi``, ``pga_gal``: moved here from ``safecity.demo.fields`` (which imports
  them back) so the demo's sensor readings and the damage model share one conversion.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources

import numpy as np
import numpy.typing as npt

#: Standard gravity, gal (cm/s²) per g.
GAL_PER_G = 980.665
#: The rule pack and rule that carry KMA's intensity thresholds.
PACK = ("safecity.situation", "packs/earthquake.toml")
RULE_ID = "kma.earthquake_intensity"


@dataclass(frozen=True)
class IntensityClass:
    """One KMA class: ``name`` (e.g. ``"V"``), its lower PGA bound in gal and its crisis level."""

    name: str
    min_gal: float
    crisis: str
    name_ko: str
    name_en: str


@cache
def kma_classes() -> tuple[IntensityClass, ...]:
    """KMA intensity classes from IV up, increasing, from the earthquake pack's ``[[rule.level]]`` entries
    (``peak above <gal>``). Raises :class:`LookupError` if the pack no longer carries them."""
    package, name = PACK
    with resources.files(package).joinpath(name).open("rb") as f:
        pack = tomllib.load(f)
    for rule in pack.get("rule", []):
        if rule.get("id") != RULE_ID:
            continue
        out = []
        for level in rule.get("level", []):
            (cond,) = level["all"]
            roman = level["name_en"].removeprefix("Intensity ").split()[0]
            out.append(
                IntensityClass(
                    roman, float(cond["above"]), level["crisis"], level["name_ko"], level["name_en"]
                )
            )
        return tuple(sorted(out, key=lambda c: c.min_gal))
    raise LookupError(f"rule {RULE_ID} not found in {package}/{name}")


def kma_class_index(pga_g: npt.NDArray[np.float64]) -> npt.NDArray[np.intp]:
    """Index into :func:`kma_classes` per value (``-1`` below class IV)."""
    # the pack's levels fire at or above the bound (the engine's "above" is ≥, within a billionth)
    bounds = np.array([c.min_gal for c in kma_classes()]) * (1 - 1e-9)
    out: npt.NDArray[np.intp] = np.searchsorted(bounds, np.asarray(pga_g) * GAL_PER_G, side="right") - 1
    return out


def kma_class_name(pga_g: float) -> str:
    """``"below IV"``, ``"IV"``, ``"V"``, ``"VI"`` or ``"VII+"`` for one PGA in g."""
    i = int(kma_class_index(np.array([pga_g]))[0])
    if i < 0:
        return "below IV"
    name = kma_classes()[i].name
    return name + "+" if i == len(kma_classes()) - 1 else name


def kma_class_of(pga_g: float) -> IntensityClass | None:
    """The KMA class of one PGA (g), or ``None`` below class IV."""
    i = int(kma_class_index(np.array([pga_g]))[0])
    return kma_classes()[i] if i >= 0 else None


def mmi_aww14(magnitude: float, hypocentral_km: float) -> float:
    """Modified Mercalli intensity from moment magnitude and hypocentral distance (km): the intensity
    prediction equation of Atkinson, Worden & Wald (2014), "Intensity prediction equations for North
    America", Bull. Seismol. Soc. Am. 104(6), 3084-3093, eq. 1 with the coefficients for hypocentral
    distance: MMI = c1 + c2·M + c3·log10 R + c4·R + c5·B + c6·M·log10 R, R = √(Rhyp² + 14²),
    B = max(0, log10(R/50)). Coefficients c1..c6 = 0.309, 1.864, -1.672, -0.00219, 1.77, -0.383 (as in
    USGS DYFI code, vinceq-usgs/dyfi-loc modules/ipes.py). UNCONFIRMED: the side on which B applies: the
    paper as the author recalls it sets B = 0 for R ≤ 50 km (used here); the DYFI code applies log10(R/50)
    below 50 km instead. Valid (paper) for M 3-7.5, R up to ~ 1,000 km; clipped at MMI 1.
    """
    r = math.sqrt(hypocentral_km**2 + 14.0**2)
    log_r = math.log10(r)
    b = max(0.0, math.log10(r / 50.0))
    mmi = 0.309 + 1.864 * magnitude - 1.672 * log_r - 0.00219 * r + 1.77 * b - 0.383 * magnitude * log_r
    return max(1.0, mmi)


def pga_from_mmi(mmi: float) -> float:
    """Peak ground acceleration, gal (cm/s²), for an MMI: the inverse of the ground-motion-to-intensity
    conversion of Worden, Gerstenberger, Rhoades & Wald (2012), Bull. Seismol. Soc. Am. 102(1), 204-221,
    table 1 (PGA, without the distance/magnitude terms): MMI = 1.78 + 1.55·log10 PGA for MMI ≤ 4.22,
    MMI = -1.60 + 3.70·log10 PGA above.
    """
    log_pga = (mmi - 1.78) / 1.55 if mmi <= 4.22 else (mmi + 1.60) / 3.70
    return float(10.0**log_pga)


def mmi_from_pga(pga_gal: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """MMI from PGA in gal (Worden et al. 2012, table 1, as :func:`pga_from_mmi`), clipped to 1-10."""
    lg = np.log10(np.maximum(np.asarray(pga_gal, dtype=np.float64), 1e-6))
    mmi = np.where(lg <= (4.22 - 1.78) / 1.55, 1.78 + 1.55 * lg, -1.60 + 3.70 * lg)
    out: npt.NDArray[np.float64] = np.clip(mmi, 1.0, 10.0)
    return out


def pga_gal(magnitude: float, epicentral_km: float, depth_km: float) -> float:
    """Median peak ground acceleration in gal at a site: AWW14 intensity, converted by Worden et al. 2012."""
    return pga_from_mmi(mmi_aww14(magnitude, math.hypot(epicentral_km, depth_km)))
