# SPDX-License-Identifier: Apache-2.0
"""Named tolerances of the verification table, each with its reason.

``cases.csv`` names these constants in its ``tolerance`` column; ``safecity flood verify`` and the tests
resolve them here, so a tolerance is changed in one place and its reason sits beside it.

Two kinds of reason appear. *Published* tolerances come from the issue or from the acceptance rules of
an independent model's test suite (itzi for MacDonald and EA Test 8). *Derived* tolerances are what a
correct local-inertial model can reach: where the exact solution of the full shallow-water equations
(SWE) differs from the exact solution of the local-inertial equations the model solves, the tolerance
is that analytic gap plus the numerical tolerance, by the triangle inequality
``|model − SWE| ≤ |model − inertial| + |inertial − SWE|``. The gaps are computed here from the exact
solutions, not fitted to model output.
"""

from __future__ import annotations

import numpy as np

from safecity.flood.model import VALID_FROUDE_MAX as _VALID_FROUDE_MAX
from safecity.flood.verification import analytic as an

# --- conservation and well-balancing ------------------------------------------------------------------

#: Relative volume error of any run: the scheme is conservative by construction (fluxes are differences
#: of face values; the positivity limiter scales, never clips), so only float64 round-off remains.
VOLUME_REL = 1e-10
#: Lake at rest: with a flat surface every face's surface slope is exactly 0, and a face against a dry
#: bump has zero flow depth, so fluxes and depths must not move beyond round-off.
LAKE_VELOCITY_M_S = 1e-12
LAKE_SURFACE_M = 1e-12

#: The model's range of validity (Froude < 0.5), re-exported so cases.csv can name it.
VALID_FROUDE_MAX = _VALID_FROUDE_MAX

# --- dam breaks (1D, h_l = 1 m, x0 = 50 m, 0.5 m cells, t = 6 s) ---------------------------------------

#: Mean absolute depth error against the exact local-inertial dam break, m (h_l = 1 m): a first-order
#: scheme smears the rarefaction's corners and the shock over a few cells; 0.03 m over a 100 m domain is
#: 3 % of h_l, what first-order schemes give on 200 cells (SWASHES §4.1 reports errors of this order).
DAMBREAK_L1_M = 0.03
#: Shock (wet front) position against the exact local-inertial one, m: the θ = 0.7 weighting (de Almeida
#: et al. 2012) diffuses the shock over ~4–6 cells of 0.5 m, moving its half-height point by up to 3 m.
DAMBREAK_FRONT_M = 3.0
#: Intermediate (plateau) depth of the weak bore against Stoker's h_m, m: 2 % of h_l.
STOKER_PLATEAU_M = 0.02

_X = (np.arange(200, dtype=np.float64) + 0.5) * 0.5
_DRY = an.InertialDamBreak(1.0, 0.0, 50.0)
_WET = an.InertialDamBreak(1.0, 0.2, 50.0)
_WEAK = an.InertialDamBreak(1.0, 0.8, 50.0)


def _gap_l1(inertial: an.InertialDamBreak, swe: an.F64) -> float:
    return float(np.mean(np.abs(inertial.depth(_X, 6.0) - swe)))


#: Ritter (dry bed): the local-inertial equations have no Ritter fan; their front is a shock at
#: √(g·h*/2) instead of 2·√(g·h_l) (Cozzolino et al. 2019). Derived: analytic gap + numerical tolerance.
RITTER_FRONT_M = abs(_DRY.front(6.0) - an.ritter_front(6.0, 1.0, 50.0)) + DAMBREAK_FRONT_M
RITTER_L1_M = _gap_l1(_DRY, an.ritter_depth(_X, 6.0, 1.0, 50.0)) + DAMBREAK_L1_M
#: Stoker with SWASHES' depth ratio h_r/h_l = 0.2 (Froude 0.81 behind the bore, beyond the
#: approximation's range): derived the same way.
STOKER_BORE_M = abs(_WET.front(6.0) - (50.0 + an.stoker_state(1.0, 0.2).bore_speed * 6.0)) + DAMBREAK_FRONT_M
STOKER_L1_M = _gap_l1(_WET, an.stoker_depth(_X, 6.0, 1.0, 0.2, 50.0)) + DAMBREAK_L1_M
#: Stoker weak bore h_r/h_l = 0.8 (Froude 0.11, inside the approximation's range; de Almeida & Bates
#: 2013 put it at Froude < 0.5): derived, and the gap is small, so this is a tight check against the SWE.
STOKER_WEAK_BORE_M = (
    abs(_WEAK.front(6.0) - (50.0 + an.stoker_state(1.0, 0.8).bore_speed * 6.0)) + DAMBREAK_FRONT_M
)
STOKER_WEAK_L1_M = _gap_l1(_WEAK, an.stoker_depth(_X, 6.0, 1.0, 0.8, 50.0)) + DAMBREAK_L1_M

# --- Thacker planar surface (h0 = 0.1 m, a = 1 m, ε = 0.1 m, 2 cm cells), compared at t = T/2 --------

#: Wet-volume centroid against the exact one, m. The local-inertial momentum equation drops u·∇u, which
#: for this flow (uniform u) leaves a residual u²·∂h/∂x, and a wet bed cannot dry in it (Cozzolino et
#: al. 2019): the oscillation is damped. 0.02 m is 20 % of ε after half a period.
THACKER_CENTROID_M = 0.02
#: Depth RMSE over the exact wet disc relative to h0: 6 %, the shoreline cells (where the scheme keeps
#: a film) dominate.
THACKER_DEPTH_REL = 0.06

# --- MacDonald (published: itzi's acceptance rules, tests/test_analytic.py) -----------------------------

#: Mean absolute water-surface error at steady state, m, without rain (itzi: 0.03 after 20 min).
MACDONALD_MAE_M = 0.03
#: Same with rain (itzi: 0.035 after 40 min).
MACDONALD_RAIN_MAE_M = 0.035
#: Steady outflow per unit width against the inflow plus rain, relative: a steady state conserves flow.
MACDONALD_Q_REL = 1e-3

# --- EA Test 4 (published: issue 18) ------------------------------------------------------------------

#: Depth RMSE at each gauge against the LISFLOOD-FP 8.0 DG2 series, m (issue 18).
EA4_RMSE_M = 0.05

# --- EA Test 8 (published: issue 18, after itzi's acceptance) ----------------------------------------

#: Test 8A: mean absolute depth error at points 1–8 against LISFLOOD-FP, m.
EA8A_MAE_M = 0.04
#: Test 8B: Nash–Sutcliffe efficiency of the manhole exchange flow against XPSTORM (a lower bound).
EA8B_NSE_MIN = 0.99

# --- SWMM through the coupling layer -------------------------------------------------------------------

#: Continuity errors (%) against SWMM 5.1.012's report: the engine here is SWMM 5.2, whose routing
#: changed in small ways (EPA's 5.2 release notes), so continuity differs by tenths of a percent.
SWMM_CONTINUITY_PCT = 0.5
#: Peak flow at the outfall against SWMM 5.1.012's binary output, relative: 5 % covers 5.1 → 5.2.
SWMM_PEAK_REL = 0.05
#: Nash–Sutcliffe efficiency of the outfall inflow series against 5.1.012's (a lower bound).
SWMM_NSE_MIN = 0.98


def resolve(name: str) -> float:
    """The value of a tolerance named in ``cases.csv``; raises ``KeyError`` naming it if unknown."""
    value = globals().get(name)
    if not isinstance(value, int | float):
        raise KeyError(
            f"cases.csv names tolerance {name!r}, which safecity.flood.verification.tolerances lacks"
        )
    return float(value)
