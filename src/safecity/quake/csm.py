# SPDX-License-Identifier: Apache-2.0
"""The Hazus capacity-spectrum method (Hazus Earthquake Technical Manual, Section 5.6), as far as the data
allow.

What ships and is verified: the structural fragilities in **spectral displacement** (median Sd and total
β per damage state, Tables 5-17 to 5-22: ``data/hazus_sd_fragility.csv``, 176 type × design-level rows),
checked against the independent SimCenter encoding of the same tables (``safecity quake verify``,
case ``hazus-sd-dlml``).

What does not ship: the **capacity curves** (yield and ultimate points, Tables 5-7) and the **degradation
factors κ** (Table 5-9) are not in ``../shared/data/hazus`` (its PROVENANCE.md lists none), and we do not
re-type them unverified. :func:`performance_point` therefore takes the capacity curve, κ and the elastic
damping as inputs (a city with engineering data supplies them); the earthquake chain keeps the
equivalent-PGA fragilities (``fragility.hazus_pga``) for its building inventory.

The method, per building:

1. demand: the Hazus standard 5 %-damped spectrum from the short-period and 1-second spectral
   accelerations (Sa = SAS up to T_AV = SA1 / SAS, then SA1 / T; Section 4.1.3);
2. capacity: linear to the yield point (Dy, Ay), an elliptical arc to the ultimate point (Du, Au)
   where its slope is zero, flat beyond (Section 5.6.1; the arc's exact form is our choice, see
   :meth:`CapacityCurve.acceleration`);
3. effective damping at a point (D, A) on the curve: β_eff = β_E + κ · 63.7 (Ay·D − Dy·A) / (A·D) in %
   (the hysteresis loop's area, Section 5.6.1.2), reducing the demand by R_A = 2.12 / (3.21 − 0.68 ln
   β_eff) in the constant-acceleration range and R_V = 1.65 / (2.31 − 0.41 ln β_eff) in the
   constant-velocity range (Newmark & Hall 1982, as Hazus uses them);
4. the performance point: where the capacity curve meets the reduced demand spectrum (bisection on D);
5. damage: P(≥ ds) = Φ(ln(Sd / Sd_ds) / β_ds) with the spectral displacement of the performance point.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from functools import cache
from importlib import resources

import numpy as np

from safecity.quake.fragility import HAZUS_STATES, LognormalFragility

G = 9.80665  # m/s² per g
INCH = 0.0254  # m
#: Design levels of the Sd tables (Hazus 6.1 adds severe and very high code to high/moderate/low/pre).
DESIGN_LEVELS = ("severe", "very_high", "high", "moderate", "low", "pre")


@dataclass(frozen=True)
class CapacityCurve:
    """A building's capacity curve: yield (dy m, ay g) and ultimate (du m, au g) points."""

    dy: float
    ay: float
    du: float
    au: float

    def __post_init__(self) -> None:
        if not (0 < self.dy < self.du and 0 < self.ay <= self.au):
            raise ValueError("capacity curve: need 0 < dy < du and 0 < ay <= au")

    def acceleration(self, d: float) -> float:
        """Spectral acceleration (g) at spectral displacement ``d`` (m). Between yield and ultimate: the
        quarter ellipse through both points with a zero slope at the ultimate point (our choice of the
        manual's "elliptical curve"; it meets the elastic line at yield with a steeper slope)."""
        if d <= self.dy:
            return self.ay * d / self.dy
        if d >= self.du:
            return self.au
        x = (self.du - d) / (self.du - self.dy)
        return self.ay + (self.au - self.ay) * math.sqrt(1.0 - x * x)


@dataclass(frozen=True)
class PerformancePoint:
    sd: float  # m
    sa: float  # g
    period: float  # s (secant)
    damping: float  # effective, %


def demand_sa(period: float, sas: float, sa1: float, r_a: float = 1.0, r_v: float = 1.0) -> float:
    """The Hazus standard demand spectrum (g) at ``period`` (s), reduced by R_A / R_V."""
    t_av = sa1 / sas * (r_a / r_v)  # where the reduced plateau meets the reduced 1/T branch
    return sas / r_a if period <= t_av else sa1 / (period * r_v)


def reductions(damping_pct: float) -> tuple[float, float]:
    """R_A, R_V for an effective damping in % (Newmark & Hall 1982; 1.0 and ~1.0 at 5 %)."""
    ln = math.log(damping_pct)
    return 2.12 / (3.21 - 0.68 * ln), 1.65 / (2.31 - 0.41 * ln)


def effective_damping(curve: CapacityCurve, d: float, kappa: float, elastic_pct: float) -> float:
    """β_eff (%) at displacement ``d`` on the curve: elastic plus κ times the hysteretic damping."""
    a = curve.acceleration(d)
    hysteretic = 63.7 * max(curve.ay * d - curve.dy * a, 0.0) / (a * d)
    return elastic_pct + kappa * hysteretic


def performance_point(
    curve: CapacityCurve, sas: float, sa1: float, *, kappa: float, elastic_pct: float = 5.0
) -> PerformancePoint:
    """Where ``curve`` meets the demand spectrum (SAS, SA1 in g) reduced for the effective damping there.

    Raises ValueError when the demand exceeds the curve beyond 20 × the ultimate displacement (no
    intersection: the building is taken as collapsed by the caller)."""
    if not (sas > 0 and sa1 > 0 and 0 <= kappa <= 1 and elastic_pct > 0):
        raise ValueError("performance point: need sas, sa1 > 0, 0 <= kappa <= 1, elastic damping > 0")

    def excess(d: float) -> float:  # capacity minus reduced demand at d
        a = curve.acceleration(d)
        period = 2 * math.pi * math.sqrt(d / (a * G))
        r_a, r_v = reductions(effective_damping(curve, d, kappa, elastic_pct))
        return a - demand_sa(period, sas, sa1, r_a, r_v)

    # near zero the curve is below any demand, far beyond ultimate the reduced demand falls below it
    lo, hi = curve.dy * 1e-6, curve.du * 20
    if excess(hi) < 0:
        raise ValueError("performance point: the demand exceeds the capacity curve")
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if excess(mid) < 0:
            lo = mid
        else:
            hi = mid
        if hi - lo <= 1e-12 * curve.du:
            break
    d = 0.5 * (lo + hi)
    a = curve.acceleration(d)
    return PerformancePoint(
        d, a, 2 * math.pi * math.sqrt(d / (a * G)), effective_damping(curve, d, kappa, elastic_pct)
    )


def sd_key(building_type: str, design_level: str) -> str:
    """The key of a Sd fragility: ``"C1L/high"``."""
    return f"{building_type}/{design_level}"


@cache
def sd_rows() -> tuple[dict[str, str], ...]:
    with (
        resources.files("safecity.quake")
        .joinpath("data", "hazus_sd_fragility.csv")
        .open(encoding="utf-8") as f
    ):
        return tuple(csv.DictReader(line for line in f if not line.startswith("#")))


@cache
def hazus_sd() -> LognormalFragility:
    """Hazus 6.1 structural fragilities in spectral displacement: keys ``"<type>/<design level>"``,
    states slight…complete, medians in metres, the tables' total β."""
    rows = sd_rows()
    keys = [sd_key(r["building_type"], r["design_level"]) for r in rows]
    med = np.array([[float(r[f"sd_{s}_in"]) * INCH for s in HAZUS_STATES] for r in rows])
    beta = np.array([[float(r[f"beta_{s}"]) for s in HAZUS_STATES] for r in rows])
    return LognormalFragility.build(keys, HAZUS_STATES, med, beta, imt="Sd")


def modal_height_m(building_type: str, design_level: str) -> float:
    """The table's height to the displacement of the pushover mode (m), which turns Sd into roof drift."""
    for r in sd_rows():
        if r["building_type"] == building_type and r["design_level"] == design_level:
            return float(r["modal_height_in"]) * INCH
    raise KeyError(f"no Sd fragility {building_type}/{design_level}")
