# SPDX-License-Identifier: Apache-2.0
"""The ground a forecast runs on, and the places whose water it reports.

A :class:`Catchment` is a :class:`~safecity.flood.grid.Domain` in a projected CRS (EPSG:5186, Korea 2000
Central Belt, in metres) plus the :class:`Place` s a forecast reports on: underpasses (a point at the
sag), roads (a line: the deepest of its cells) and buildings with semi-basement homes (a point).
:func:`from_elevation` builds one from any elevation sampler (a DEM, the demo city's terrain): cells
outside ``outline`` are inactive, the sewer takes Seoul's design rainfall everywhere
(:mod:`safecity.flood.drainage`) and every underpass is burnt into the ground as a pit of its depth,
so that the water of the streets around runs into it, as it does into a real underpass.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pyproj
import shapely
from shapely.geometry import LineString, Point
from shapely.geometry.base import BaseGeometry

from safecity.flood.drainage import sewer_capacity_mm_h
from safecity.flood.grid import Domain, Edges, Grid
from safecity.flood.landcover import land_cover_table

F64 = npt.NDArray[np.float64]
PlaceKind = Literal["underpass", "road", "building"]

#: The CRS forecasts compute in (metres); results are stored and served in WGS84.
CRS = "EPSG:5186"
#: Depth of an underpass's sag below the street around it, m (judgement: a road underpass passes under
#: a road or railway with ~4.5 m clearance; its lowest point is 3-6 m below the approaches).
UNDERPASS_SAG_M = 4.0
#: An underpass's pumps as a depth rate over its cell, mm/h (judgement: a 100 m cell, pumps of ~0.3 m³/s,
#: typical of a Seoul underpass's drainage pumping station, are ~110 mm/h over 10 000 m²; scaled by
#: the cell area in :func:`from_elevation`).
UNDERPASS_PUMP_M3_S = 0.3
#: Ground of an urban cell (safecity.flood.data.land_cover): the demo has no land-cover raster.
DEFAULT_COVER = "urban_mixed"


@dataclass(frozen=True)
class Place:
    """A place a forecast reports on. ``cells`` are its grid cells ``(row, col)``; ``geometry`` is WGS84."""

    code: str
    kind: PlaceKind
    name_ko: str
    name_en: str
    geometry: BaseGeometry
    cells: tuple[tuple[int, int], ...]
    district: str | None = None
    properties: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Catchment:
    """A forecast's ground: the domain (in :data:`CRS`) and its places."""

    domain: Domain
    places: tuple[Place, ...]
    crs: str = CRS
    label: str = ""

    @property
    def grid(self) -> Grid:
        return self.domain.grid

    def to_wgs84(self) -> pyproj.Transformer:
        return pyproj.Transformer.from_crs(self.crs, "EPSG:4326", always_xy=True)

    def to_metric(self) -> pyproj.Transformer:
        return pyproj.Transformer.from_crs("EPSG:4326", self.crs, always_xy=True)

    def place(self, code: str) -> Place | None:
        return next((p for p in self.places if p.code == code), None)

    def of_kind(self, kind: PlaceKind) -> list[Place]:
        return [p for p in self.places if p.kind == kind]


@dataclass(frozen=True)
class PlaceIn:
    """A place to locate on the grid: a WGS84 Point (underpass, building) or LineString (road)."""

    code: str
    kind: PlaceKind
    name_ko: str
    name_en: str
    geometry: BaseGeometry
    district: str | None = None
    properties: dict[str, Any] = field(default_factory=dict)


def from_elevation(
    elevation: Callable[[F64, F64], F64],
    outline: BaseGeometry,
    places: Sequence[PlaceIn],
    *,
    cell_m: float,
    label: str = "",
) -> Catchment:
    """A catchment over ``outline`` (WGS84) at ``cell_m`` metres, its bed from ``elevation(lon, lat)``
    (vectorised, metres). Places outside the grid are left out; a road becomes the cells along it.

    Raises ``ValueError`` for a cell size under 1 m or an empty outline.
    """
    if cell_m < 1.0 or outline.is_empty:
        raise ValueError("catchment: need a cell size ≥ 1 m and a non-empty outline")
    fwd = pyproj.Transformer.from_crs("EPSG:4326", CRS, always_xy=True)
    back = pyproj.Transformer.from_crs(CRS, "EPSG:4326", always_xy=True)
    outline_m = shapely.transform(outline, lambda xy: np.column_stack(fwd.transform(xy[:, 0], xy[:, 1])))
    minx, miny, maxx, maxy = outline_m.bounds
    x0 = math.floor(minx / cell_m) * cell_m
    y1 = math.ceil(maxy / cell_m) * cell_m
    nx = math.ceil((maxx - x0) / cell_m)
    ny = math.ceil((y1 - miny) / cell_m)
    grid = Grid(nx, ny, cell_m, x0, y1)
    gx, gy = np.meshgrid(grid.centres_x(), grid.centres_y())
    lon, lat = back.transform(gx, gy)
    dem = np.asarray(elevation(np.asarray(lon), np.asarray(lat)), dtype=np.float64)
    inside = shapely.contains_xy(outline_m, gx, gy)
    cover = land_cover_table()[DEFAULT_COVER]
    drainage = np.asarray(sewer_capacity_mm_h("citywide", cover.runoff_coefficient), dtype=np.float64)
    drain = np.full((ny, nx), float(drainage))
    located: list[Place] = []
    for p in places:
        cells = _cells(grid, p.geometry, fwd)
        if not cells:
            continue
        located.append(
            Place(p.code, p.kind, p.name_ko, p.name_en, p.geometry, cells, p.district, p.properties)
        )
        if p.kind == "underpass":
            r, c = cells[0]
            dem[r, c] -= UNDERPASS_SAG_M
            pump_mm_h = UNDERPASS_PUMP_M3_S / grid.cell_area * 3_600_000.0
            drain[r, c] = max(drain[r, c], pump_mm_h)
    domain = Domain(
        grid,
        dem,
        manning=cover.manning,
        runoff_coefficient=cover.runoff_coefficient,
        infiltration_mm_h=cover.infiltration_mm_h,
        drainage_mm_h=drain,
        inactive=~inside,
        # water leaving the city's outline is gone (into the Han or a neighbour's sewer)
        edges=Edges("free", "free", "free", "free"),
    )
    return Catchment(domain, tuple(located), CRS, label)


def _cells(grid: Grid, geom: BaseGeometry, fwd: pyproj.Transformer) -> tuple[tuple[int, int], ...]:
    """The cells a WGS84 point or line covers (a line sampled every half cell), in order, once each."""
    coords = np.asarray(shapely.get_coordinates(geom))
    x, y = fwd.transform(coords[:, 0], coords[:, 1])
    if isinstance(geom, Point):
        pts = [(float(x[0]), float(y[0]))]
    else:
        line = LineString(np.column_stack([x, y]))
        n = max(2, int(line.length / (0.5 * grid.dx)) + 1)
        pts = [(p.x, p.y) for p in (line.interpolate(d) for d in np.linspace(0.0, line.length, n))]
    out: list[tuple[int, int]] = []
    for px, py in pts:
        col = math.floor((px - grid.x_min) / grid.dx)
        row = math.floor((grid.y_max - py) / grid.dx)
        if 0 <= row < grid.ny and 0 <= col < grid.nx and (row, col) not in out:
            out.append((row, col))
    return tuple(out)
