# SPDX-License-Identifier: Apache-2.0
"""Site conditions: Vs30 (time-averaged shear-wave velocity of the top 30 m, m/s) from a site class.

Site amplification itself is the ground-motion model's own Vs30 term (BSSA14 eqs. 6-8: linear and
nonlinear), so a site class only has to give a representative Vs30.

* NEHRP classes (BSSC, NEHRP Recommended Provisions, FEMA P-750 Table 20.3-1): A > 1500, B 760-1500,
  C 360-760, D 180-360, E < 180 m/s. The representative value is the class's geometric mid-range
  (A and E: a round value inside the class; judgement).
* Korean site classes S1-S5 (건축물 내진설계기준 KDS 41 17 00:2019, 표 4.2-1, by bedrock depth H and
  the soil's mean shear-wave velocity): S1 rock (H < 1 m), S2 shallow stiff (H 1-20 m, Vs,soil ≥ 260),
  S3 shallow soft (H 1-20 m, Vs,soil < 260), S4 deep stiff (H > 20 m, Vs,soil ≥ 180), S5 deep soft
  (H > 20 m, Vs,soil < 180); S6 needs a site-specific study. The classes are not defined by Vs30, so the
  representative Vs30 below is a judgement (UNCONFIRMED: chosen so each class falls in the NEHRP class
  Korean studies usually pair it with: S1 ~ B, S2 ~ C, S3 ~ C/D, S4 ~ D, S5 ~ E).
"""

from __future__ import annotations

from types import MappingProxyType

import numpy as np
import numpy.typing as npt

#: NEHRP class → representative Vs30 (m/s).
NEHRP_VS30 = MappingProxyType({"A": 1600.0, "B": 1100.0, "C": 520.0, "D": 260.0, "E": 160.0})
#: KDS 41 17 00 site class → representative Vs30 (m/s); judgement, UNCONFIRMED (module doc).
KOREA_VS30 = MappingProxyType({"S1": 1100.0, "S2": 560.0, "S3": 360.0, "S4": 270.0, "S5": 170.0})


def vs30_of(site_class: str) -> float:
    """Representative Vs30 of a NEHRP (A-E) or Korean (S1-S5) site class; :class:`ValueError` otherwise."""
    key = site_class.strip().upper()
    if key in NEHRP_VS30:
        return NEHRP_VS30[key]
    if key in KOREA_VS30:
        return KOREA_VS30[key]
    if key == "S6" or key == "F":
        raise ValueError(f"site class {site_class!r} needs a site-specific study: give its Vs30 instead")
    raise ValueError(f"unknown site class {site_class!r}: use NEHRP A-E or KDS S1-S5")


def vs30_array(site_classes: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """:func:`vs30_of` for an array of class names (few distinct values: looked up once each)."""
    names = np.asarray(site_classes, dtype=str)
    uniq, inv = np.unique(names, return_inverse=True)
    values = np.array([vs30_of(str(u)) for u in uniq])
    out: npt.NDArray[np.float64] = values[inv]
    return out


def nehrp_class(vs30: float) -> str:
    """NEHRP class of a Vs30 (m/s)."""
    for name, lower in (("A", 1500.0), ("B", 760.0), ("C", 360.0), ("D", 180.0)):
        if vs30 > lower:
            return name
    return "E"
