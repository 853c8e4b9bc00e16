# SPDX-License-Identifier: Apache-2.0
"""Ground properties by land cover: Manning's n, runoff coefficient and infiltration per cell.

A land-cover raster (class names per cell, e.g. rasterised from a zoning or land-use layer) becomes the
three per-cell fields :class:`~safecity.flood.grid.Domain` takes. The table is
``data/land_cover.toml``, with its sources and what in it is unconfirmed.
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
class LandCover:
    """One class: Manning's n (s·m^(−1/3)), runoff coefficient (0–1), infiltration capacity (mm/h)."""

    name: str
    name_ko: str
    name_en: str
    manning: float
    runoff_coefficient: float
    infiltration_mm_h: float


@cache
def land_cover_table() -> dict[str, LandCover]:
    """The classes of ``data/land_cover.toml``."""
    text = resources.files("safecity.flood").joinpath("data/land_cover.toml").read_text(encoding="utf-8")
    raw = tomllib.loads(text)["classes"]
    return {
        name: LandCover(
            name,
            v["name_ko"],
            v["name_en"],
            float(v["manning"]),
            float(v["runoff_coefficient"]),
            float(v["infiltration_mm_h"]),
        )
        for name, v in raw.items()
    }


@dataclass(frozen=True)
class GroundFields:
    """Per-cell ground properties, ready for :class:`~safecity.flood.grid.Domain`."""

    manning: F64
    runoff_coefficient: F64
    infiltration_mm_h: F64


def ground_fields(classes: npt.NDArray[np.str_]) -> GroundFields:
    """Map a raster of class names to the three fields; raises ``KeyError`` naming unknown classes."""
    table = land_cover_table()
    names, inverse = np.unique(np.asarray(classes), return_inverse=True)
    unknown = [str(n) for n in names if str(n) not in table]
    if unknown:
        raise KeyError(f"land-cover classes {unknown} unknown; known: {', '.join(sorted(table))}")
    shape = np.shape(classes)
    cls = [table[str(n)] for n in names]

    def field(attr: str) -> F64:
        return np.asarray(np.array([getattr(c, attr) for c in cls], dtype=np.float64)[inverse].reshape(shape))

    return GroundFields(field("manning"), field("runoff_coefficient"), field("infiltration_mm_h"))
