# SPDX-License-Identifier: Apache-2.0
"""Urban flood simulation: a 2D local-inertial surface model, the sewer as a sink or a SWMM network.

The public API is re-exported here, loaded on first use: importing the package (as ``safecity``'s CLI
does to register ``safecity flood``) must not pay numba's start-up for every other command. The
verification cases live in :mod:`safecity.flood.verification` and run with ``safecity flood verify``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from safecity.capability import Capability
    from safecity.flood.forcing import Forcing, ForcingError, Hydrograph, Inflow, RainSeries, line_cells
    from safecity.flood.grid import Domain, DomainError, Edges, Grid
    from safecity.flood.model import FloodModel, MassLedger, SolverOptions, StepInfo

_WHERE = {
    "Forcing": "forcing",
    "ForcingError": "forcing",
    "Hydrograph": "forcing",
    "Inflow": "forcing",
    "RainSeries": "forcing",
    "line_cells": "forcing",
    "Domain": "grid",
    "DomainError": "grid",
    "Edges": "grid",
    "Grid": "grid",
    "FloodModel": "model",
    "MassLedger": "model",
    "SolverOptions": "model",
    "StepInfo": "model",
}

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


def setup() -> Capability:
    """The flood capability (safecity.capability): its ``safecity flood ...`` commands."""
    from safecity.capability import Capability
    from safecity.flood.cli import flood_app

    return Capability(name="flood", summary="2D flood model and sewer network.", cli=flood_app)


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(f"safecity.flood.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'safecity.flood' has no attribute {name!r}")
