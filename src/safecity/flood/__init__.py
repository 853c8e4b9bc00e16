# SPDX-License-Identifier: Apache-2.0
"""Urban flood simulation: a 2D local-inertial surface model, the sewer as a sink or a SWMM network.

The public API is re-exported here; the verification cases live in :mod:`safecity.flood.verification`
and run with ``safecity flood verify``.
"""

from safecity.flood.forcing import Forcing, ForcingError, Hydrograph, Inflow, RainSeries, line_cells
from safecity.flood.grid import Domain, DomainError, Edges, Grid
from safecity.flood.model import FloodModel, MassLedger, SolverOptions, StepInfo

__all__ = [
    "Domain",
    "DomainError",
    "Edges",
    "FloodModel",
    "Forcing",
    "ForcingError",
    "Grid",
    "Hydrograph",
    "Inflow",
    "MassLedger",
    "RainSeries",
    "SolverOptions",
    "StepInfo",
    "line_cells",
]
