# SPDX-License-Identifier: Apache-2.0
"""Lifelines where Hazus gives fragilities: electric-power facilities (PGA) and buried pipelines (PGV).

* Power facilities: Hazus 5.1 electric-power fragilities (substations by voltage, distribution circuits,
  generation plants; anchored ``A`` or unanchored ``U`` components), lognormal in PGA, four damage states,
  from the NHERI SimCenter Damage and Loss Model Library (BSD-3, ``data/power_network_fragility.csv``).
  IDs: ``EP.S.L.A`` (substation, low voltage, anchored), ``EP.C.A`` (distribution circuit), ``EP.G.S.A``
  (small generation plant)…
* Pipelines: the Hazus repair rate for wave propagation (Technical Manual, potable water, after O'Rourke &
  Ayala 1993): ``RR = 0.0001 × PGV^2.25`` repairs per km for brittle pipe (PGV in cm/s), × 0.3 for ductile
  pipe; 80 % of those repairs are leaks and 20 % breaks.
"""

from __future__ import annotations

import csv
from functools import cache
from importlib import resources

import numpy as np
import numpy.typing as npt

from safecity.quake.fragility import HAZUS_STATES, LognormalFragility, state_probabilities

FloatArray = npt.NDArray[np.float64]

#: Hazus pipeline repair rate (repairs/km) = BRITTLE_A × PGV^EXPONENT, PGV in cm/s.
BRITTLE_A = 0.0001
EXPONENT = 2.25
#: Ductile pipe (steel, ductile iron, PVC) repair rate is this share of the brittle one.
DUCTILE_FACTOR = 0.3
#: Share of wave-propagation repairs that are leaks (the rest are breaks).
LEAK_SHARE = 0.8


@cache
def power_fragility() -> LognormalFragility:
    """The Hazus electric-power facility fragilities (PGA, g), keyed by DLML id (``EP.S.L.A``…)."""
    with (
        resources.files("safecity.quake")
        .joinpath("data", "power_network_fragility.csv")
        .open(encoding="utf-8") as f
    ):
        rows = list(csv.DictReader(f))
    keys = [r["ID"] for r in rows]
    med = np.array([[float(r[f"LS{k}-Theta_0"]) for k in range(1, 5)] for r in rows])
    beta = np.array([[float(r[f"LS{k}-Theta_1"]) for k in range(1, 5)] for r in rows])
    return LognormalFragility.build(keys, HAZUS_STATES, med, beta)


def facility_damage(kinds: list[str], pga_g: FloatArray) -> FloatArray:
    """P(DS = none … complete) (n × 5) of each power facility of DLML id ``kinds[i]`` at ``pga_g[i]``."""
    frag = power_fragility()
    return state_probabilities(frag.exceedance(np.asarray(pga_g, dtype=np.float64), frag.index(kinds)))


def pipe_repairs(
    pgv_cms: FloatArray, length_km: FloatArray, ductile: npt.NDArray[np.bool_]
) -> tuple[FloatArray, FloatArray]:
    """Expected (leaks, breaks) per pipe segment of ``length_km`` at ``pgv_cms``."""
    rr = (
        BRITTLE_A * np.asarray(pgv_cms, dtype=np.float64) ** EXPONENT * np.where(ductile, DUCTILE_FACTOR, 1.0)
    )
    repairs = rr * np.asarray(length_km, dtype=np.float64)
    return repairs * LEAK_SHARE, repairs * (1.0 - LEAK_SHARE)
