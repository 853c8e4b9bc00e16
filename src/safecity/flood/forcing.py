# SPDX-License-Identifier: Apache-2.0
"""What drives the surface model: rain (uniform or gridded series) and inflow hydrographs.

Rain is piecewise constant between its times, as a gauge's or a radar's accumulations are; inflow
hydrographs are piecewise linear between their points, as hydrograph tables (LISFLOOD-FP ``.bdy``,
EA benchmark boundary files) are. The solver cuts its time steps at every breakpoint, so the volumes it
adds are exact.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from safecity.flood.grid import Grid

F64 = npt.NDArray[np.float64]

MM_H_TO_M_S = 1.0 / 3_600_000.0


class ForcingError(ValueError):
    """A forcing series is malformed; the message names the series and what to fix."""


@dataclass(frozen=True)
class RainSeries:
    """Rain intensity in mm/h, constant from ``times[k]`` to ``times[k + 1]`` (s); none outside.

    ``rates`` is ``(k,)`` for rain uniform over the grid, or ``(k, ny, nx)`` for gridded rain (a radar or
    nowcast frame per interval). ``times`` has ``k + 1`` increasing entries.
    """

    times: F64
    rates: F64

    def __post_init__(self) -> None:
        t = np.asarray(self.times, dtype=np.float64)
        r = np.asarray(self.rates, dtype=np.float64)
        object.__setattr__(self, "times", t)
        object.__setattr__(self, "rates", r)
        if t.ndim != 1 or len(t) < 2 or np.any(np.diff(t) <= 0):
            raise ForcingError("rain: times must be at least two increasing values (s)")
        if r.shape[0] != len(t) - 1 or r.ndim not in (1, 3):
            raise ForcingError(
                f"rain: {len(t)} times need {len(t) - 1} rates (uniform) or frames (gridded); got shape {r.shape}"
            )
        if np.any(r < 0) or not np.all(np.isfinite(r)):
            raise ForcingError("rain: intensities must be finite and ≥ 0 mm/h")

    @classmethod
    def uniform(cls, times: Sequence[float], mm_h: Sequence[float]) -> RainSeries:
        """Uniform rain: ``mm_h[k]`` from ``times[k]`` to ``times[k + 1]``."""
        return cls(np.asarray(times, dtype=np.float64), np.asarray(mm_h, dtype=np.float64))

    @property
    def gridded(self) -> bool:
        return self.rates.ndim == 3

    def check_grid(self, grid: Grid) -> None:
        if self.gridded and self.rates.shape[1:] != (grid.ny, grid.nx):
            raise ForcingError(
                f"rain: frames are {self.rates.shape[1:]} but the grid is {(grid.ny, grid.nx)}"
            )

    def interval(self, t: float) -> int:
        """Index of the interval holding ``t``, or −1 where there is no rain."""
        if t < self.times[0] or t >= self.times[-1]:
            return -1
        return int(np.searchsorted(self.times, t, side="right")) - 1

    def breakpoints(self) -> F64:
        return self.times

    def total_depth_mm(self) -> float:
        """Depth of the whole series, mm (uniform rain; the grid mean for gridded rain)."""
        dt = np.diff(self.times) / 3600.0
        per = self.rates if not self.gridded else self.rates.reshape(len(dt), -1).mean(axis=1)
        return float(np.sum(per * dt))


@dataclass(frozen=True)
class Hydrograph:
    """Discharge in m³/s, linear between ``(times[k], flows[k])`` (s); 0 before the first and after the last."""

    times: F64
    flows: F64

    def __post_init__(self) -> None:
        t = np.asarray(self.times, dtype=np.float64)
        q = np.asarray(self.flows, dtype=np.float64)
        object.__setattr__(self, "times", t)
        object.__setattr__(self, "flows", q)
        if t.ndim != 1 or t.shape != q.shape or len(t) < 1 or np.any(np.diff(t) < 0):
            raise ForcingError(
                "hydrograph: times (s) and flows (m³/s) must be equal-length, times non-decreasing"
            )
        if not np.all(np.isfinite(q)):
            raise ForcingError("hydrograph: flows must be finite")

    def at(self, t: float) -> float:
        return float(np.interp(t, self.times, self.flows, left=0.0, right=0.0))

    def volume(self, t0: float, t1: float) -> float:
        """Volume between ``t0`` and ``t1``, m³: the exact integral of the piecewise-linear series.

        A jump (0 before the first point, a step between equal times) is integrated as a jump, not as
        a ramp across the step that meets it.
        """
        t = self.times
        cuts = np.concatenate(([t0], t[(t > t0) & (t < t1)], [t1]))
        total = 0.0
        for a, b in itertools.pairwise(cuts):
            mid = 0.5 * (a + b)
            if b <= a or mid < t[0] or mid > t[-1]:
                continue
            k = min(int(np.searchsorted(t, mid, side="right")) - 1, len(t) - 2)
            if len(t) == 1 or t[k + 1] == t[k]:
                continue
            slope = (self.flows[k + 1] - self.flows[k]) / (t[k + 1] - t[k])
            qa = self.flows[k] + slope * (a - t[k])
            qb = self.flows[k] + slope * (b - t[k])
            total += 0.5 * (qa + qb) * (b - a)
        return float(total)


@dataclass(frozen=True)
class Inflow:
    """A hydrograph entering the surface, shared equally by ``cells`` (``(row, col)`` pairs).

    One cell is a point source (a culvert, a burst main); a row of edge cells is a line inflow, which is
    how LISFLOOD-FP's ``QVAR`` boundary enters a model (a discharge per unit width times the line).
    """

    name: str
    cells: tuple[tuple[int, int], ...]
    hydrograph: Hydrograph

    def __post_init__(self) -> None:
        if not self.cells:
            raise ForcingError(f"inflow {self.name!r}: no cell; check its location against the grid")


@dataclass(frozen=True)
class Forcing:
    """Everything that enters the surface from outside during a run."""

    rain: RainSeries | None = None
    inflows: tuple[Inflow, ...] = field(default_factory=tuple)

    def breakpoints(self) -> F64:
        """Every time (s) at which a forcing changes slope or value; the solver steps land on them."""
        parts = [np.zeros(0)]
        if self.rain is not None:
            parts.append(self.rain.breakpoints())
        parts.extend(inflow.hydrograph.times for inflow in self.inflows)
        return np.unique(np.concatenate(parts))


def line_cells(grid: Grid, edge: str, start: float, end: float) -> tuple[tuple[int, int], ...]:
    """The edge cells whose centres lie along ``[start, end]`` (m) of one domain edge.

    ``edge`` is ``"W"``, ``"E"``, ``"N"`` or ``"S"``; ``start``/``end`` are y (W/E) or x (N/S) in grid
    coordinates, as in a LISFLOOD-FP ``.bci`` line.
    """
    edge = edge.upper()
    cells: list[tuple[int, int]] = []
    if edge in ("W", "E"):
        col = 0 if edge == "W" else grid.nx - 1
        for row in range(grid.ny):
            yc = grid.y_max - (row + 0.5) * grid.dx
            if start <= yc <= end:
                cells.append((row, col))
    elif edge in ("N", "S"):
        row = 0 if edge == "N" else grid.ny - 1
        for col in range(grid.nx):
            xc = grid.x_min + (col + 0.5) * grid.dx
            if start <= xc <= end:
                cells.append((row, col))
    else:
        raise ForcingError(f"line inflow: edge {edge!r} is not one of W, E, N, S")
    return tuple(cells)
