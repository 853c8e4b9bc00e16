# SPDX-License-Identifier: Apache-2.0
"""Fragility functions: the probability that a building reaches or exceeds each damage state given the
ground motion, vectorised over buildings.

Two forms, as in OpenQuake's NRML and Hazus:

* :class:`LognormalFragility`: ``P(DS ≥ ds | x) = Φ(ln(x / median) / β)`` per damage state, with the
  intensity clipped to ``[min_iml, max_iml]`` first and ``P = 0`` below ``no_damage_limit`` (OpenQuake's
  conventions, ``../shared/data/quake/PROVENANCE.md`` §1, points 1-2).
* :class:`DiscreteFragility`: the probabilities listed at a few intensity levels, linearly interpolated
  (point 3), clipped at the highest level, 0 below ``no_damage_limit``.

Both hold many functions (one per taxonomy, e.g. a Hazus model building type at a code level) and are
evaluated for an array of intensities and an array of function indices at once: one ``scipy.special.ndtr``
call over (buildings × damage states) — about 30 ms for 600,000 buildings.

:func:`hazus_pga` loads the Hazus equivalent-PGA building fragilities (FEMA Hazus MH Earthquake Technical
Manual, Tables 5-16a-d; US federal public domain) in the transcription of Baker, Bradley & Stafford (2021)
companion code (MIT licence, © 2021 Jack Baker; ``data/LICENSE-MIT-baker2021.txt``). Every β there is 0.64.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum, StrEnum
from functools import cache
from importlib import resources
from typing import Protocol

import numpy as np
import numpy.typing as npt
from scipy.special import ndtr  # type: ignore[import-untyped]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]


class DamageState(IntEnum):
    """Hazus structural damage states (Technical Manual §5.3.1)."""

    NONE = 0
    SLIGHT = 1
    MODERATE = 2
    EXTENSIVE = 3
    COMPLETE = 4


HAZUS_STATES = ("slight", "moderate", "extensive", "complete")


class CodeLevel(StrEnum):
    """Hazus seismic design levels (Technical Manual §5.1.2): the table names of Baker's export."""

    HIGH = "High"
    MODERATE = "Moderate"
    LOW = "Low"
    PRE = "Pre"


class Fragility(Protocol):
    """Many fragility functions with the same damage states; evaluated per building."""

    @property
    def states(self) -> tuple[str, ...]: ...

    @property
    def keys(self) -> tuple[str, ...]: ...

    def index(self, keys: Sequence[str]) -> IntArray: ...

    def exceedance(self, iml: FloatArray, which: IntArray) -> FloatArray: ...


def state_probabilities(exceed: FloatArray, *, monotone: bool = False) -> FloatArray:
    """From P(DS ≥ ds) (n × k, damage states in increasing order) to P(DS = ds) (n × (k+1)), column 0
    being no damage. Exceedances are made non-increasing first (a later state cannot be likelier than an
    earlier one; with equal β they already are) so every probability is ≥ 0 and each row sums to 1: an
    earlier state is raised to the later one's probability (a collapsed building has certainly become
    uninhabitable), which is what OpenQuake does (its QA case 17: a 0/1 "collapsed" curve gives
    collapsed = 1, uninhabitable = 0). NaN (no ground motion) counts as no damage. ``monotone``: the
    caller knows the exceedances already decrease (e.g. :attr:`LognormalFragility.monotone`), which saves
    the pass that enforces it."""
    ex = exceed
    if np.isnan(ex).any():
        ex = np.nan_to_num(ex, nan=0.0)
    if not monotone:
        ex = np.maximum.accumulate(np.clip(ex, 0.0, 1.0)[:, ::-1], axis=1)[:, ::-1]
    n, k = ex.shape
    out = np.empty((n, k + 1))
    out[:, 0] = 1.0 - ex[:, 0]
    out[:, 1:k] = ex[:, : k - 1] - ex[:, 1:]
    out[:, k] = ex[:, k - 1]
    return out


class _Indexed:
    _keys: tuple[str, ...]
    _states: tuple[str, ...]

    @property
    def keys(self) -> tuple[str, ...]:
        return self._keys

    @property
    def states(self) -> tuple[str, ...]:
        return self._states

    def index(self, keys: Sequence[str]) -> IntArray:
        """Row of each key; raises :class:`KeyError` naming the first unknown one and the known ones."""
        pos = {k: i for i, k in enumerate(self._keys)}
        try:
            return np.fromiter((pos[k] for k in keys), dtype=np.intp, count=len(keys))
        except KeyError as e:
            known = ", ".join(self._keys[:12]) + ("…" if len(self._keys) > 12 else "")
            raise KeyError(f"no fragility function {e.args[0]!r} (known: {known})") from None


@dataclass(frozen=True, eq=False)
class LognormalFragility(_Indexed):
    """Lognormal-CDF fragility functions: ``median`` and ``beta`` are (functions × states) arrays.

    ``min_iml``/``max_iml``/``no_damage_limit`` are per function (NaN/inf/0 when absent).
    """

    _keys: tuple[str, ...]
    _states: tuple[str, ...]
    median: FloatArray
    beta: FloatArray
    min_iml: FloatArray
    max_iml: FloatArray
    no_damage_limit: FloatArray
    imt: str = "PGA"

    @classmethod
    def build(
        cls,
        keys: Sequence[str],
        states: Sequence[str],
        median: FloatArray,
        beta: FloatArray,
        *,
        min_iml: Sequence[float] | None = None,
        max_iml: Sequence[float] | None = None,
        no_damage_limit: Sequence[float] | None = None,
        imt: str = "PGA",
    ) -> LognormalFragility:
        n = len(keys)
        med = np.asarray(median, dtype=np.float64).reshape(n, len(states))
        bet = np.asarray(beta, dtype=np.float64).reshape(n, len(states))
        if np.any(med <= 0) or np.any(bet <= 0):
            raise ValueError("fragility medians and betas must be > 0")
        return cls(
            tuple(keys),
            tuple(states),
            med,
            bet,
            np.asarray(min_iml if min_iml is not None else np.zeros(n), dtype=np.float64),
            np.asarray(max_iml if max_iml is not None else np.full(n, np.inf), dtype=np.float64),
            np.asarray(no_damage_limit if no_damage_limit is not None else np.zeros(n), dtype=np.float64),
            imt,
        )

    def __post_init__(self) -> None:
        # precomputed once: the per-building work is then one gather, one subtraction, one product, ndtr
        object.__setattr__(self, "_log_median", np.log(self.median))
        object.__setattr__(self, "_inv_beta", 1.0 / self.beta)
        object.__setattr__(self, "_plain", bool(np.all(self.min_iml <= 0) and np.all(np.isinf(self.max_iml))))
        # with one β per function and increasing medians, P(DS ≥ ds) already decreases with ds
        same_beta = bool(np.all(self.beta == self.beta[:, :1]))
        object.__setattr__(self, "monotone", same_beta and bool(np.all(np.diff(self.median, axis=1) >= 0)))

    def exceedance(self, iml: FloatArray, which: IntArray) -> FloatArray:
        """P(DS ≥ ds) for each building (rows) and damage state (columns); NaN rows where ``iml`` is NaN."""
        x = np.asarray(iml, dtype=np.float64)
        xc = x if self._plain else np.clip(x, self.min_iml[which], self.max_iml[which])  # type: ignore[attr-defined]
        with np.errstate(divide="ignore", invalid="ignore"):
            z = (np.log(xc)[:, None] - self._log_median[which]) * self._inv_beta[which]  # type: ignore[attr-defined]
        p: FloatArray = ndtr(z)
        # NaN compares False: a site without ground motion keeps NaN, turned into "no damage" downstream
        if np.any(self.no_damage_limit > 0):
            p[x < self.no_damage_limit[which]] = 0.0
        return p


@dataclass(frozen=True, eq=False)
class DiscreteFragility(_Indexed):
    """Fragility functions given as probabilities at listed intensity levels.

    ``imls`` is (functions × levels), ``poes`` (functions × states × levels); functions with fewer
    levels are padded by repeating their last level and probability.
    """

    _keys: tuple[str, ...]
    _states: tuple[str, ...]
    imls: FloatArray
    poes: FloatArray
    no_damage_limit: FloatArray
    imt: str = "PGA"

    def exceedance(self, iml: FloatArray, which: IntArray) -> FloatArray:
        x = np.asarray(iml, dtype=np.float64)
        out = np.zeros((len(x), len(self._states)))
        for f in np.unique(which):
            sel = which == f
            levels = self.imls[f]
            xs = np.minimum(x[sel], levels[-1])
            for s in range(len(self._states)):
                # below the first level np.interp keeps the first probability; OpenQuake does the same
                # (its tables start at the no-damage limit or at a level with probability ~0)
                out[sel, s] = np.interp(xs, levels, self.poes[f, s])
            out[sel & (x < self.no_damage_limit[f])] = 0.0
        out[np.isnan(x)] = np.nan
        return out


def _data(name: str) -> list[dict[str, str]]:
    with resources.files("safecity.quake").joinpath("data", name).open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


def hazus_key(building_type: str, code: CodeLevel | str) -> str:
    """The key of a Hazus function: ``"C2L/High"``."""
    return f"{building_type}/{CodeLevel(code).value}"


@cache
def hazus_pga() -> LognormalFragility:
    """The Hazus equivalent-PGA building fragilities: 128 functions (36 model building types × the code
    levels Hazus defines for each), keys ``"<type>/<High|Moderate|Low|Pre>"``, states slight…complete,
    medians in g, β = 0.64 (Baker et al. 2021 transcription of Hazus Tables 5-16a-d)."""
    rows = _data("hazus_pga_fragility.csv")
    keys = [hazus_key(r["building_type"], r["code_level"]) for r in rows]
    med = np.array([[float(r[f"median_{s}_g"]) for s in HAZUS_STATES] for r in rows])
    beta = np.array([[float(r[f"beta_{s}"]) for s in HAZUS_STATES] for r in rows])
    return LognormalFragility.build(keys, HAZUS_STATES, med, beta)


@cache
def hazus_building_types() -> dict[str, tuple[str, int]]:
    """Model building type → (description, typical stories), from the same table."""
    out: dict[str, tuple[str, int]] = {}
    for r in _data("hazus_pga_fragility.csv"):
        out.setdefault(r["building_type"], (r["description"], int(r["typical_stories"])))
    return out


@cache
def repair_cost_ratios() -> dict[str, FloatArray]:
    """Occupancy class (RES1…EDU2) → total repair-cost ratio per damage state (slight…complete), the sum of
    structural, acceleration- and drift-sensitive non-structural ratios (Hazus Tables 15-2 to 15-4 via
    Baker et al. 2021), as a fraction of replacement cost."""
    out: dict[str, FloatArray] = {}
    for r in _data("hazus_repair_cost_ratios_pct.csv"):
        total = [
            sum(float(r[f"{part}_{s}"]) for part in ("struct", "ns_accel", "ns_drift")) / 100.0
            for s in HAZUS_STATES
        ]
        out[r["occupancy"]] = np.array(total)
    return out


def mean_loss_ratio(probabilities: FloatArray, occupancy: str) -> FloatArray:
    """Mean repair-cost ratio per building from P(DS = ds) (n × 5, no damage first)."""
    ratios = repair_cost_ratios().get(occupancy)
    if ratios is None:
        raise KeyError(f"no repair-cost ratios for occupancy {occupancy!r}")
    out: FloatArray = probabilities[:, 1:] @ ratios
    return out
