# SPDX-License-Identifier: Apache-2.0
"""The sewer as a sink: capacity from Seoul's design rainfall, where no pipe network is modelled.

A storm sewer sized for a design rainfall *i* by the rational method carries ``C·i·A`` from a catchment of
area ``A`` and runoff coefficient ``C``. In the surface model the rain that reaches the ground is already
multiplied by ``C``, so the sewer removes at most ``C·i`` (as a depth rate) from each drained cell: rain
below the design intensity never ponds, rain above it ponds by the excess. That is the bucket the demo
used, put on every cell of the grid; where a pipe network is known, :mod:`safecity.flood.swmm` couples it
instead and the capacity comes from the pipes.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]


@dataclass(frozen=True)
class DesignRainfall:
    """One zone's design rainfall (방재성능목표), mm in 1 h, with where it applies and since when."""

    zone: str
    name_ko: str
    name_en: str
    mm_per_1h: float
    since: str


@cache
def design_rainfall() -> dict[str, DesignRainfall]:
    """Seoul's design rainfall by zone, read from ``data/design_rainfall.toml`` (sources cited there)."""
    text = resources.files("safecity.flood").joinpath("data/design_rainfall.toml").read_text(encoding="utf-8")
    raw = tomllib.loads(text)
    return {
        zone: DesignRainfall(zone, v["name_ko"], v["name_en"], float(v["mm_per_1h"]), str(v["since"]))
        for zone, v in raw.items()
    }


def sewer_capacity_mm_h(
    zones: npt.NDArray[np.str_] | str,
    runoff_coefficient: float | F64,
    served: npt.NDArray[np.bool_] | None = None,
) -> F64:
    """Sewer capacity as a depth rate (mm/h) per cell: ``C · i_design`` where a sewer serves the cell.

    ``zones`` names each cell's design-rainfall zone (``"citywide"``, ``"gangnam_station"``) or gives one
    zone for all; ``served`` marks cells with a sewer (default: all). Raises ``KeyError`` naming an
    unknown zone.
    """
    table = design_rainfall()
    z = np.asarray(zones)
    c = np.asarray(runoff_coefficient, dtype=np.float64)
    if z.ndim == 0:
        name = str(z)
        if name not in table:
            raise KeyError(f"design rainfall zone {name!r} unknown; known: {', '.join(sorted(table))}")
        rate: F64 = np.asarray(table[name].mm_per_1h * c, dtype=np.float64)
    else:
        unknown = set(np.unique(z).tolist()) - set(table)
        if unknown:
            raise KeyError(
                f"design rainfall zones {sorted(unknown)} unknown; known: {', '.join(sorted(table))}"
            )
        i = np.vectorize(lambda k: table[k].mm_per_1h, otypes=[np.float64])(z)
        rate = np.asarray(i * c, dtype=np.float64)
    if served is not None:
        rate = np.where(served, rate, 0.0)
    return rate
