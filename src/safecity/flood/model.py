# SPDX-License-Identifier: Apache-2.0
"""The surface-flow model: state, adaptive time stepping, sources, and the volume ledger.

:class:`FloodModel` advances depths ``h`` (m) and unit discharges ``qx``/``qy`` (m²/s) on a
:class:`~safecity.flood.grid.Domain` with the local-inertial scheme of :mod:`safecity.flood.kernel`
(or its numpy twin). Each step:

1. ``Δt = α·Δx/√(g·h_max)`` (CFL, α ≈ 0.7), cut so that steps land on forcing breakpoints and on the
   caller's target time;
2. fluxes, positivity limiter, depths with rain × runoff coefficient, infiltration and sewer sink;
3. point/line inflows and exchange volumes (e.g. a sewer coupling) added to their cells;
4. every volume that crossed the model boundary booked in :class:`MassLedger`.

The ledger's :meth:`~MassLedger.volume_error` is inflow + rain + exchange − infiltration − drainage −
outflow − storage change, in m³; a correct run leaves only round-off.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import numba
import numpy as np
import numpy.typing as npt

from safecity.flood import kernel, reference
from safecity.flood.forcing import MM_H_TO_M_S, Forcing
from safecity.flood.grid import Domain

F64 = npt.NDArray[np.float64]
Engine = Literal["numba", "numpy"]

#: Gravity, m/s² (the value SWASHES and LISFLOOD-FP use).
G = 9.81


@dataclass(frozen=True)
class SolverOptions:
    """Numerical settings. Defaults follow LISFLOOD-FP's acceleration solver.

    - ``theta``: θ-weighting of the flux (de Almeida et al. 2012); 1 is Bates et al. 2010, 0.7 adds the
      diffusion that damps the chequerboard oscillations of the plain scheme at low friction.
    - ``alpha``: CFL coefficient (Bates et al. 2010 recommend 0.2–0.7). The step also respects the
      stability limit of the θ-weighted scheme, :func:`stable_alpha`, which is lower in 2D.
    - ``h_min``: wet/dry threshold, m: a face whose flow depth is at or below it carries no flow.
    - ``dt_max``: the longest step, s, used while the grid is dry.
    - ``threads``: numba threads; ``None`` uses one below :data:`PARALLEL_MIN_CELLS` cells (where the
      cost of waking threads three times a step outweighs the work) and all cores above.
    """

    theta: float = 0.7
    alpha: float = 0.7
    h_min: float = 1e-3
    dt_max: float = 10.0
    g: float = G
    engine: Engine = "numba"
    threads: int | None = None

    def __post_init__(self) -> None:
        if not 0.0 < self.theta <= 1.0:
            raise ValueError(f"theta must be in (0, 1]; got {self.theta}")
        if not 0.0 < self.alpha <= 1.0:
            raise ValueError(f"alpha must be in (0, 1]; got {self.alpha}")
        if self.h_min < 0 or self.dt_max <= 0:
            raise ValueError("h_min must be ≥ 0 and dt_max > 0")


#: The local-inertial approximation's range of validity: Froude numbers below about 0.5 (de Almeida &
#: Bates 2013, WRR 49:4833). :meth:`FloodModel.froude_max` reports where a run stands.
VALID_FROUDE_MAX = 0.5

#: Below this many cells a run uses one thread (measured: on a loaded 2-core machine a 20 000-cell run
#: was 8× slower on two threads than on one; bench/flood.py measures the large-grid side).
PARALLEL_MIN_CELLS = 200_000

#: The threads numba was started with (NUMBA_NUM_THREADS, default: the cores).
MAX_THREADS = int(numba.config.NUMBA_NUM_THREADS)  # type: ignore[attr-defined]

#: Safety factor under the von Neumann limit of :func:`stable_alpha` (at the limit the checkerboard
#: mode neither grows nor decays, so round-off can still creep up).
STABILITY_MARGIN = 0.95


def stable_alpha(theta: float, two_d: bool) -> float:
    """The largest CFL coefficient α for which the θ-weighted scheme is stable without friction.

    Von Neumann analysis of the linearised scheme (our derivation; de Almeida et al. 2012 did the 1D
    case): the θ-average multiplies the checkerboard mode of q by A = 2θ − 1, and the step's
    amplification λ solves λ² − (1 + A − s²)·λ + A = 0 with s² = 4α² in 1D and 8α² in 2D (both
    directions). |λ| ≤ 1 needs s² ≤ 2·(1 + A) = 4θ, so α ≤ √θ in 1D and α ≤ √(θ/2) in 2D. For θ = 0.7
    that is 0.59 in 2D: LISFLOOD-FP's α = 0.7 with θ = 0.7 relies on friction, and a deep, smooth
    lake at rest blows up from round-off (tests/flood: lake at rest). Friction only helps, so the
    bound is safe for every Manning n.
    """
    return math.sqrt(theta / 2.0) if two_d else math.sqrt(theta)


@dataclass
class MassLedger:
    """Volumes (m³) in and out of the surface since the start of the run."""

    initial: float = 0.0
    rain: float = 0.0
    inflow: float = 0.0
    exchange_in: float = 0.0
    exchange_out: float = 0.0
    infiltration: float = 0.0
    drainage: float = 0.0
    outflow: float = 0.0
    storage: float = 0.0

    def volume_error(self) -> float:
        """inflow + rain + exchange − infiltration − drainage − outflow − storage change, m³."""
        gained = self.rain + self.inflow + self.exchange_in
        lost = self.infiltration + self.drainage + self.outflow + self.exchange_out
        return gained - lost - (self.storage - self.initial)

    def relative_error(self) -> float:
        """The volume error over the larger of the water that entered and the water at the start."""
        scale = max(self.rain + self.inflow + self.exchange_in, self.initial, 1e-12)
        return self.volume_error() / scale


@dataclass
class StepInfo:
    """What one step did (for callers that couple other models at each step)."""

    t: float
    dt: float
    hmax: float


@dataclass
class FloodModel:
    """A running surface model. Create, then :meth:`advance` to a time; read ``h``, ``qx``, ``qy``, ``ledger``."""

    domain: Domain
    forcing: Forcing = field(default_factory=Forcing)
    options: SolverOptions = field(default_factory=SolverOptions)
    h0: F64 | None = None
    qx0: F64 | None = None
    qy0: F64 | None = None
    t: float = 0.0
    steps: int = 0

    def __post_init__(self) -> None:
        g = self.domain.grid
        self.fields = self.domain.solver_fields()
        if self.forcing.rain is not None:
            self.forcing.rain.check_grid(g)
        for inflow in self.forcing.inflows:
            for r, c in inflow.cells:
                if not (0 <= r < g.ny and 0 <= c < g.nx):
                    raise ValueError(f"inflow {inflow.name!r}: cell {(r, c)} outside the {g.ny}×{g.nx} grid")
        self.h: F64 = np.zeros((g.ny, g.nx)) if self.h0 is None else np.array(self.h0, dtype=np.float64)
        if self.h.shape != (g.ny, g.nx) or np.any(self.h < 0):
            raise ValueError("h0: must match the grid and be ≥ 0 m")
        self.h[self.fields.active == 0] = 0.0
        self.qx: F64 = (
            np.zeros((g.ny, g.nx + 1)) if self.qx0 is None else np.array(self.qx0, dtype=np.float64)
        )
        self.qy: F64 = (
            np.zeros((g.ny + 1, g.nx)) if self.qy0 is None else np.array(self.qy0, dtype=np.float64)
        )
        if self.qx.shape != (g.ny, g.nx + 1) or self.qy.shape != (g.ny + 1, g.nx):
            raise ValueError("qx0/qy0: face arrays must be (ny, nx + 1) and (ny + 1, nx)")
        self._qx_tmp = np.zeros_like(self.qx)
        self._qy_tmp = np.zeros_like(self.qy)
        self._ratio = np.ones((g.ny, g.nx))
        self._limited = np.zeros(g.ny, dtype=np.uint8)
        self._tally = np.zeros((g.ny, kernel.TALLY_COLUMNS))
        self._edges = self.domain.edges.codes()
        self._no_field = np.zeros((1, 1))
        self._breaks = self.forcing.breakpoints()
        self._impl = kernel if self.options.engine == "numba" else reference
        self.ledger = MassLedger(initial=self.volume(), storage=self.volume())
        self.hmax = float(self.h.max(initial=0.0))
        if self.options.threads is not None:
            self._threads = max(1, min(self.options.threads, MAX_THREADS))
        else:
            self._threads = 1 if g.cells < PARALLEL_MIN_CELLS else MAX_THREADS
        two_d = g.nx > 1 and g.ny > 1
        self.alpha = min(self.options.alpha, STABILITY_MARGIN * stable_alpha(self.options.theta, two_d))

    def froude_max(self, h_floor: float = 0.01) -> float:
        """The largest Froude number ``|q|/(h·√(g·h))`` over faces whose upstream-average depth exceeds
        ``h_floor`` m (thin films at fronts are left out); compare with :data:`VALID_FROUDE_MAX`."""
        g = self.options.g
        hx = 0.5 * (self.h[:, :-1] + self.h[:, 1:])
        hy = 0.5 * (self.h[:-1, :] + self.h[1:, :])
        fr = 0.0
        for q, hf in ((self.qx[:, 1:-1], hx), (self.qy[1:-1, :], hy)):
            wet = hf > h_floor
            if wet.any():
                fr = max(fr, float(np.max(np.abs(q[wet]) / (hf[wet] * np.sqrt(g * hf[wet])))))
        return fr

    def volume(self) -> float:
        """Water on the surface, m³."""
        return float(self.h.sum()) * self.domain.grid.cell_area

    def _next_break(self, t: float) -> float:
        i = int(np.searchsorted(self._breaks, t, side="right"))
        return float(self._breaks[i]) if i < len(self._breaks) else np.inf

    def _rain(self, t: float) -> tuple[float, F64, bool]:
        rain = self.forcing.rain
        if rain is None:
            return 0.0, self._no_field, False
        k = rain.interval(t)
        if k < 0:
            return 0.0, self._no_field, False
        if rain.gridded:
            return 0.0, rain.rates[k] * MM_H_TO_M_S, True
        return float(rain.rates[k]) * MM_H_TO_M_S, self._no_field, False

    def step(self, t_limit: float) -> StepInfo:
        """One time step, not past ``t_limit`` (s)."""
        o = self.options
        dx = self.domain.grid.dx
        dt = kernel.stable_dt(self.hmax, dx, self.alpha, o.g, o.dt_max)
        dt = min(dt, t_limit - self.t, self._next_break(self.t) - self.t)
        f = self.fields
        impl = self._impl
        if impl is kernel and numba.get_num_threads() != self._threads:
            numba.set_num_threads(self._threads)
        impl.compute_fluxes(
            self.h,
            f.z_kernel,
            self.qx,
            self.qy,
            self._qx_tmp,
            self._qy_tmp,
            f.n2,
            self._edges,
            dt,
            dx,
            o.g,
            o.theta,
            o.h_min,
        )
        impl.limit_outflows(self.h, self._qx_tmp, self._qy_tmp, self._ratio, self._limited, dt, dx)
        rate, rain_field, use_field = self._rain(self.t)
        # Limited fluxes go into the old buffers, which then become the current ones (no copy).
        impl.update_depths(
            self.h,
            self._qx_tmp,
            self._qy_tmp,
            self.qx,
            self.qy,
            self._ratio,
            self._limited,
            f.rain_factor,
            rain_field,
            rate,
            use_field,
            f.infiltration,
            f.drainage,
            self._tally,
            dt,
            dx,
        )
        totals = self._tally.sum(axis=0)
        led = self.ledger
        led.rain += float(totals[kernel.TALLY_RAIN])
        led.infiltration += float(totals[kernel.TALLY_INFILTRATION])
        led.drainage += float(totals[kernel.TALLY_DRAINAGE])
        led.outflow += float(totals[kernel.TALLY_OUTFLOW])
        hmax = float(self._tally[:, kernel.TALLY_HMAX].max())
        area = self.domain.grid.cell_area
        for inflow in self.forcing.inflows:
            vol = inflow.hydrograph.volume(self.t, self.t + dt)
            if vol == 0.0:
                continue
            per = vol / len(inflow.cells) / area
            for r, c in inflow.cells:
                self.h[r, c] += per
                hmax = max(hmax, self.h[r, c])
            led.inflow += vol
        self.t += dt
        self.steps += 1
        self.hmax = hmax
        led.storage = self.volume()
        return StepInfo(self.t, dt, hmax)

    def exchange(self, cell: tuple[int, int], volume: float) -> float:
        """Add (``volume`` > 0) or take (< 0) water at one cell, m³; returns the volume actually moved.

        Taking is limited to the water the cell holds. Both are booked as exchange in the ledger (used
        by the sewer coupling: surcharge onto the street, inflow into a manhole).
        """
        r, c = cell
        area = self.domain.grid.cell_area
        if volume < 0.0:
            volume = -min(-volume, float(self.h[r, c]) * area)
            self.ledger.exchange_out -= volume
        else:
            self.ledger.exchange_in += volume
        self.h[r, c] += volume / area
        self.h[r, c] = max(float(self.h[r, c]), 0.0)
        self.hmax = max(self.hmax, float(self.h[r, c]))
        self.ledger.storage = self.volume()
        return volume

    def advance(self, t_end: float, on_step: Callable[[StepInfo], None] | None = None) -> None:
        """Step until ``t_end`` (s), calling ``on_step`` after each step."""
        while self.t < t_end - 1e-9:
            info = self.step(t_end)
            if on_step is not None:
                on_step(info)

    def run(self, times: F64 | list[float], points: list[tuple[int, int]]) -> F64:
        """Advance through ``times`` (s, increasing) and return depths (m) at ``points`` (``(row, col)``).

        The result is ``(len(times), len(points))``.
        """
        out = np.zeros((len(times), len(points)))
        rows = np.array([p[0] for p in points], dtype=np.int64)
        cols = np.array([p[1] for p in points], dtype=np.int64)
        for k, t in enumerate(times):
            self.advance(float(t))
            out[k] = self.h[rows, cols]
        return out


def bilinear_weights(domain: Domain, x: float, y: float) -> tuple[list[tuple[int, int]], list[float]]:
    """Cells and weights that interpolate a cell-centred field bilinearly at ``(x, y)`` (m).

    Near an edge the stencil is clamped to the grid. Used to sample gauges that sit on cell corners
    (as EA Test 4's do on a 10 m grid) without favouring one neighbour.
    """
    g = domain.grid
    fx = (x - g.x_min) / g.dx - 0.5
    fy = (g.y_max - y) / g.dx - 0.5
    c0 = int(np.clip(np.floor(fx), 0, max(g.nx - 2, 0)))
    r0 = int(np.clip(np.floor(fy), 0, max(g.ny - 2, 0)))
    tx = float(np.clip(fx - c0, 0.0, 1.0)) if g.nx > 1 else 0.0
    ty = float(np.clip(fy - r0, 0.0, 1.0)) if g.ny > 1 else 0.0
    c1 = min(c0 + 1, g.nx - 1)
    r1 = min(r0 + 1, g.ny - 1)
    cells = [(r0, c0), (r0, c1), (r1, c0), (r1, c1)]
    weights = [(1 - tx) * (1 - ty), tx * (1 - ty), (1 - tx) * ty, tx * ty]
    return cells, weights
