# SPDX-License-Identifier: Apache-2.0
"""The raster the surface model runs on, and the per-cell properties of its ground.

A :class:`Domain` holds the DEM and what the ground does to water: Manning roughness, the share of rain
that runs off, infiltration, the sewer's capacity as a sink, buildings and the domain's edges. Scalars
are broadcast to the grid. Units: metres, seconds, mm/h for rates people quote (rain, infiltration,
sewer capacity); the solver converts once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

from safecity.flood.kernel import BLOCKED

F64 = npt.NDArray[np.float64]
Edge = Literal["closed", "free"]
BuildingMode = Literal["blocked", "raised"]


class DomainError(ValueError):
    """The domain is inconsistent; the message names the field and the fix."""


@dataclass(frozen=True)
class Grid:
    """A north-up raster: ``ny`` rows × ``nx`` columns of square ``dx`` m cells; row 0 is the top.

    ``x_min`` and ``y_max`` are the top-left corner in the model's projected CRS (m).
    """

    nx: int
    ny: int
    dx: float
    x_min: float = 0.0
    y_max: float = 0.0

    def __post_init__(self) -> None:
        if self.nx < 1 or self.ny < 1 or not self.dx > 0:
            raise DomainError(f"grid: need nx, ny ≥ 1 and dx > 0; got {self.nx}×{self.ny}, dx={self.dx}")

    @property
    def cells(self) -> int:
        return self.nx * self.ny

    @property
    def cell_area(self) -> float:
        return self.dx * self.dx

    def cell_of(self, x: float, y: float) -> tuple[int, int]:
        """``(row, col)`` of the cell holding point ``(x, y)``; a point on an edge goes to the cell east/south."""
        col = int(np.floor((x - self.x_min) / self.dx))
        row = int(np.floor((self.y_max - y) / self.dx))
        if not (0 <= row < self.ny and 0 <= col < self.nx):
            raise DomainError(f"point ({x}, {y}) lies outside the grid")
        return row, col

    def centres_x(self) -> F64:
        return self.x_min + (np.arange(self.nx, dtype=np.float64) + 0.5) * self.dx

    def centres_y(self) -> F64:
        return self.y_max - (np.arange(self.ny, dtype=np.float64) + 0.5) * self.dx


@dataclass(frozen=True)
class Edges:
    """What each side of the domain does: a closed wall, or free outflow (normal-flow-like)."""

    west: Edge = "closed"
    east: Edge = "closed"
    north: Edge = "closed"
    south: Edge = "closed"

    def codes(self) -> npt.NDArray[np.int64]:
        """Kernel codes in kernel order (W, E, N, S): 0 closed, 1 free."""
        return np.array([1 if e == "free" else 0 for e in (self.west, self.east, self.north, self.south)])


def _field(value: float | F64, grid: Grid, name: str) -> F64:
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim == 0:
        return np.full((grid.ny, grid.nx), float(arr))
    if arr.shape != (grid.ny, grid.nx):
        raise DomainError(f"{name}: shape {arr.shape} does not match the grid {(grid.ny, grid.nx)}")
    if not np.all(np.isfinite(arr)):
        raise DomainError(f"{name}: has NaN or infinite cells; fill them or mark them inactive")
    return arr


@dataclass(frozen=True)
class Domain:
    """The ground the water runs on.

    - ``dem``: bed elevation, m (``(ny, nx)``).
    - ``manning``: Manning's n, s·m^(−1/3), scalar or per cell.
    - ``runoff_coefficient``: share of rain reaching the surface (0–1) by cell, e.g. from land cover; the
      rest is counted as an initial loss.
    - ``infiltration_mm_h``: infiltration capacity, mm/h, taken from ponded water.
    - ``drainage_mm_h``: sewer capacity as a sink, mm/h over the cell (see :mod:`safecity.flood.drainage`).
    - ``buildings``: mask of building cells; ``"blocked"`` takes them out of the domain (no flow, no rain),
      ``"raised"`` lifts them by ``building_height`` m so rain on roofs runs off onto the street.
    - ``inactive``: cells outside the domain (no data in the DEM).
    """

    grid: Grid
    dem: F64
    manning: float | F64 = 0.03
    runoff_coefficient: float | F64 = 1.0
    infiltration_mm_h: float | F64 = 0.0
    drainage_mm_h: float | F64 = 0.0
    buildings: npt.NDArray[np.bool_] | None = None
    building_mode: BuildingMode = "blocked"
    building_height: float = 5.0
    inactive: npt.NDArray[np.bool_] | None = None
    edges: Edges = field(default_factory=Edges)

    def __post_init__(self) -> None:
        _field(self.dem, self.grid, "dem")
        for name in ("manning", "runoff_coefficient", "infiltration_mm_h", "drainage_mm_h"):
            arr = _field(getattr(self, name), self.grid, name)
            if np.any(arr < 0):
                raise DomainError(f"{name}: must be ≥ 0 everywhere")
        if np.any(_field(self.runoff_coefficient, self.grid, "runoff_coefficient") > 1):
            raise DomainError("runoff_coefficient: must be ≤ 1 (a share of the rain)")
        for name in ("buildings", "inactive"):
            mask = getattr(self, name)
            if mask is not None and np.shape(mask) != (self.grid.ny, self.grid.nx):
                raise DomainError(f"{name}: mask shape {np.shape(mask)} does not match the grid")

    def solver_fields(self) -> SolverFields:
        """The per-cell arrays the kernel reads, in SI units."""
        g = self.grid
        dem = _field(self.dem, g, "dem").copy()
        active = np.ones((g.ny, g.nx), dtype=np.uint8)
        if self.inactive is not None:
            active[np.asarray(self.inactive, dtype=bool)] = 0
        rain_factor = _field(self.runoff_coefficient, g, "runoff_coefficient").copy()
        if self.buildings is not None:
            b = np.asarray(self.buildings, dtype=bool)
            if self.building_mode == "blocked":
                active[b] = 0
            else:
                dem[b] += self.building_height
        rain_factor[active == 0] = 0.0
        n = _field(self.manning, g, "manning")
        to_m_s = 1.0 / 3_600_000.0
        return SolverFields(
            z=dem,
            z_kernel=np.where(active == 1, dem, BLOCKED),
            n2=n * n,
            active=active,
            rain_factor=rain_factor,
            infiltration=_field(self.infiltration_mm_h, g, "infiltration_mm_h") * to_m_s,
            drainage=_field(self.drainage_mm_h, g, "drainage_mm_h") * to_m_s,
        )


@dataclass(frozen=True)
class SolverFields:
    """Kernel-ready arrays: bed (m), n², active (1/0), rain factor, infiltration and drainage (m/s).

    ``z_kernel`` is the bed with inactive cells at :data:`safecity.flood.kernel.BLOCKED`, which is how
    the kernels see them.
    """

    z: F64
    z_kernel: F64
    n2: F64
    active: npt.NDArray[np.uint8]
    rain_factor: F64
    infiltration: F64
    drainage: F64
