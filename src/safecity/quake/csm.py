# SPDX-License-Identifier: Apache-2.0
"""The Hazus capacity-spectrum method (Hazus Earthquake Technical Manual, Section 5.6), as far as the data
allow.

What ships and is verified: the structural fragilities in **spectral displacement** (median Sd and total
β per damage state, Tables 5-17 to 5-22: ``data/hazus_sd_fragility.csv``, 176 type × design-level rows),
checked against the independent SimCenter encoding of the same tables (``safecity quake verify``,
case ``hazus-sd-dlml``).

What ships since: the **capacity curves** (yield and ultimate points, Tables 5-7a to 5-7c), the
**degradation factors κ** (per design level and shaking duration) and an elastic damping per type, for
the high, moderate and low code levels (``data/hazus_capacity_curves.csv``, SimCenter's transcription,
cross-checked against a second one: ``safecity quake verify``, case ``capacity-crosscheck``). Pre-code
curves are not shipped (the two transcriptions disagree; see the data file): pre-code buildings, and any
type without a curve, keep the equivalent-PGA fragilities. :func:`assess_csm` runs the method over a
whole inventory at once (vectorised bisection, the same steps as :func:`performance_point`); the damage
chain uses it when ``SAFECITY_QUAKE__DAMAGE_METHOD=csm`` (:mod:`safecity.quake.damage`).

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
import numpy.typing as npt

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


# -- the method over a whole inventory ---------------------------------------------------------------

FloatArray = npt.NDArray[np.float64]
#: Design levels that have capacity curves, from the highest (a building takes its own level's curve, else
#: the next lower one that exists for its type, as the PGA fragilities do).
CURVE_LEVELS = ("high", "moderate", "low")
#: Bisection steps: the bracket [1e-6·dy, 20·du] shrinks below 1e-13·du (the scalar version's 1e-12).
BISECTIONS = 48


@dataclass(frozen=True)
class CapacityTable:
    """Capacity curves per ``"<type>/<design level>"`` key: yield and ultimate points (m, g), κ for short,
    moderate and long shaking (columns), and the elastic damping (%)."""

    keys: tuple[str, ...]
    dy: FloatArray
    ay: FloatArray
    du: FloatArray
    au: FloatArray
    kappa: FloatArray  # (n, 3)
    elastic_pct: FloatArray

    def index(self, key: str) -> int:
        return self.keys.index(key)

    def curve(self, key: str) -> CapacityCurve:
        i = self.index(key)
        return CapacityCurve(float(self.dy[i]), float(self.ay[i]), float(self.du[i]), float(self.au[i]))


@cache
def hazus_capacity() -> CapacityTable:
    """The shipped capacity curves (``data/hazus_capacity_curves.csv``; its header gives the sources)."""
    with (
        resources.files("safecity.quake")
        .joinpath("data", "hazus_capacity_curves.csv")
        .open(encoding="utf-8") as f
    ):
        rows = list(csv.DictReader(line for line in f if not line.startswith("#")))

    def col(name: str, scale: float = 1.0) -> FloatArray:
        return np.array([float(r[name]) * scale for r in rows])

    return CapacityTable(
        keys=tuple(sd_key(r["building_type"], r["design_level"]) for r in rows),
        dy=col("dy_in", INCH),
        ay=col("ay_g"),
        du=col("du_in", INCH),
        au=col("au_g"),
        kappa=np.stack([col("kappa_short"), col("kappa_moderate"), col("kappa_long")], axis=1),
        elastic_pct=col("elastic_damping_pct"),
    )


def duration(magnitude: float) -> int:
    """The κ column of a shaking's duration from its magnitude: short up to M5.5, long from M7.5."""
    return 0 if magnitude <= 5.5 else (1 if magnitude < 7.5 else 2)


def performance_sd(
    curves: CapacityTable,
    rows: npt.NDArray[np.intp],
    sas: FloatArray,
    sa1: FloatArray,
    kappa_column: int,
) -> FloatArray:
    """Spectral displacement (m) of the performance point of each building (curve ``rows``) under its
    demand (``sas``, ``sa1`` in g): :func:`performance_point`'s steps on arrays. ``inf`` where the reduced
    demand stays above the curve up to 20 × its ultimate displacement (no performance point: the caller
    takes the building as beyond complete damage); 0 where there is no demand."""
    dy, ay, du, au = curves.dy[rows], curves.ay[rows], curves.du[rows], curves.au[rows]
    kappa = curves.kappa[rows, kappa_column]
    elastic = curves.elastic_pct[rows]
    sas = np.asarray(sas, dtype=np.float64)
    sa1 = np.asarray(sa1, dtype=np.float64)
    shaken = (sas > 0) & (sa1 > 0)
    sas_safe = np.where(shaken, sas, 1.0)
    sa1_safe = np.where(shaken, sa1, 1.0)

    def excess(d: FloatArray) -> FloatArray:
        x = np.clip((du - d) / (du - dy), 0.0, 1.0)
        a = np.where(d <= dy, ay * d / dy, ay + (au - ay) * np.sqrt(1.0 - x * x))
        period = 2 * np.pi * np.sqrt(d / (a * G))
        hysteretic = 63.7 * np.maximum(ay * d - dy * a, 0.0) / (a * d)
        ln = np.log(elastic + kappa * hysteretic)
        r_a = 2.12 / (3.21 - 0.68 * ln)
        r_v = 1.65 / (2.31 - 0.41 * ln)
        t_av = sa1_safe / sas_safe * (r_a / r_v)
        demand = np.where(period <= t_av, sas_safe / r_a, sa1_safe / (period * r_v))
        out: FloatArray = a - demand
        return out

    lo, hi = dy * 1e-6, du * 20
    beyond = excess(hi) < 0
    for _ in range(BISECTIONS):
        mid = 0.5 * (lo + hi)
        below = excess(mid) < 0
        lo = np.where(below, mid, lo)
        hi = np.where(below, hi, mid)
    sd: FloatArray = np.where(beyond, np.inf, 0.5 * (lo + hi))
    return np.where(shaken, sd, 0.0)


def curve_rows(
    hazus_type: npt.NDArray[np.str_], code_level: npt.NDArray[np.str_]
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """Per building: its row in :func:`hazus_capacity` and in :func:`hazus_sd` (the same key: its own
    design level, else the next lower with both a curve and an Sd fragility), or -1 for both where there
    is none (pre-code, or a type without a curve): those keep the PGA fragilities."""
    curves, frag = hazus_capacity(), hazus_sd()
    have = set(curves.keys) & set(frag.keys)
    types, ti = np.unique(hazus_type, return_inverse=True)
    levels, li = np.unique(np.char.lower(code_level.astype(str)), return_inverse=True)
    uniq, inverse = np.unique(ti * len(levels) + li, return_inverse=True)
    c_rows, f_rows = [], []
    for u in uniq:
        btype, level = str(types[u // len(levels)]), str(levels[u % len(levels)])
        found = None
        if level in CURVE_LEVELS:
            for lv in CURVE_LEVELS[CURVE_LEVELS.index(level) :]:
                if sd_key(btype, lv) in have:
                    found = sd_key(btype, lv)
                    break
        c_rows.append(curves.index(found) if found else -1)
        f_rows.append(frag.index([found])[0] if found else -1)
    return (
        np.array(c_rows, dtype=np.intp)[inverse].astype(np.intp),
        np.array(f_rows, dtype=np.intp)[inverse].astype(np.intp),
    )


def assess_csm(
    hazus_type: npt.NDArray[np.str_],
    code_level: npt.NDArray[np.str_],
    sas: FloatArray,
    sa1: FloatArray,
    magnitude: float,
    rows: tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]] | None = None,
) -> tuple[npt.NDArray[np.bool_], FloatArray]:
    """The capacity-spectrum method over many buildings: which have a curve (mask) and, for those, P(≥ ds)
    for slight…complete (mask.sum() × 4) at their performance point. ``rows``: :func:`curve_rows`, when
    the caller keeps them."""
    c_rows, f_rows = rows if rows is not None else curve_rows(hazus_type, code_level)
    mask = c_rows >= 0
    sd = performance_sd(
        hazus_capacity(),
        c_rows[mask],
        np.asarray(sas, dtype=np.float64)[mask],
        np.asarray(sa1, dtype=np.float64)[mask],
        duration(magnitude),
    )
    frag = hazus_sd()
    finite = np.isfinite(sd)
    ex = np.ones((len(sd), len(HAZUS_STATES)))
    ex[finite] = frag.exceedance(sd[finite], f_rows[mask][finite])
    return mask, ex
