# SPDX-License-Identifier: Apache-2.0
"""Forecast runs: the surface model kept up to date with the observed rain, and run ahead of it.

:class:`Forecaster` holds an *analysis* model: the surface water as the rain observed so far left it
(each observed frame fed in as it arrives, :meth:`Forecaster.observe`). A forecast
(:meth:`Forecaster.forecast`) copies that state and runs it ``horizon`` seconds ahead under the
extrapolated rain (:mod:`safecity.flood.nowcast`), recording in every cell the deepest water and the
first time it reaches :data:`CLOSE_DEPTH_M`. The result gives:

* depth classes as polygons (WGS84), for the map and the OGC API collection;
* per place (underpass, road, building with semi-basement homes): the depth now, the deepest predicted,
  and when it first reaches 15 cm;
* the risk of each semi-basement building (:func:`semi_basement_risk`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import numpy.typing as npt
import shapely
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from safecity.flood.catchment import Catchment, Place
from safecity.flood.forcing import Forcing, RainSeries
from safecity.flood.model import FloodModel, SolverOptions
from safecity.flood.nowcast import Motion, forecast_series

F64 = npt.NDArray[np.float64]

#: Water on a road at which it is closed: 15 cm, the underpass traffic-control depth of the MOLIT rule
#: the facility pack cites (situation/packs/facility.toml, 'facility.underpass_flooding'; UNCONFIRMED
#: there: the 예규's exact title and number).
CLOSE_DEPTH_M = 0.15
#: Depth classes of the map (m): water on the street, closure depth, cars float (NWS 30 cm), cars swept
#: (NWS 60 cm); the same thresholds as the facility pack's underpass levels.
DEPTH_CLASSES_M = (0.05, 0.15, 0.30, 0.60)
#: A semi-basement home's window or door sill is about at street level, so water a little deeper than the
#: kerb runs in: "high" from 10 cm, "watch" from 5 cm (judgement, UNCONFIRMED: no official threshold was
#: found; the 관악구 deaths of 8 August 2022 followed street flooding of a few tens of centimetres).
SEMI_BASEMENT_HIGH_M = 0.10
SEMI_BASEMENT_WATCH_M = 0.05
#: How often the forecast samples the water to find maxima and crossing times, s.
SAMPLE_S = 60.0


@dataclass(frozen=True)
class PlaceForecast:
    """One place's water: now, the deepest within the horizon, and when it first reaches 15 cm."""

    place: Place
    depth_now_m: float
    depth_max_m: float
    crosses_at: datetime | None  # first time the water reaches CLOSE_DEPTH_M (None: not in the horizon)
    risk: str | None = None  # semi-basement buildings: "high", "watch" or None

    @property
    def closes(self) -> bool:
        return self.crosses_at is not None


@dataclass(frozen=True)
class DepthArea:
    """Cells of one depth class as a WGS84 (Multi)Polygon; ``depth_min_m`` ≤ depth < ``depth_max_m``."""

    depth_min_m: float
    depth_max_m: float | None
    geometry: BaseGeometry
    area_m2: float


@dataclass(frozen=True)
class ForecastResult:
    """What one forecast run predicts, from ``issued`` to ``issued + horizon``."""

    issued: datetime
    horizon: timedelta
    motion: Motion
    rain_now_mm_h: float  # the largest rain intensity on the grid at issue time
    places: tuple[PlaceForecast, ...]
    areas: tuple[DepthArea, ...]
    cell_m: float
    cells: int
    elapsed_s: float  # wall-clock time the run took
    max_depth: F64  # (ny, nx), m

    def place(self, code: str) -> PlaceForecast | None:
        return next((p for p in self.places if p.place.code == code), None)

    def closing(self) -> list[PlaceForecast]:
        """Underpasses and roads predicted to reach closure depth within the horizon."""
        return [p for p in self.places if p.closes and p.place.kind in ("underpass", "road")]

    def semi_basements_at_risk(self) -> list[PlaceForecast]:
        return [p for p in self.places if p.risk is not None]


class Forecaster:
    """The analysis model of one catchment and the forecasts run from it.

    Times are aware datetimes; the model counts seconds from ``origin`` (the first observation).
    """

    def __init__(self, catchment: Catchment, origin: datetime, options: SolverOptions | None = None) -> None:
        self.catchment = catchment
        self.origin = origin
        self.options = options or SolverOptions()
        self.model = FloodModel(catchment.domain, Forcing(), self.options)

    @property
    def now(self) -> datetime:
        return self.origin + timedelta(seconds=self.model.t)

    def _s(self, when: datetime) -> float:
        return (when - self.origin).total_seconds()

    def observe(self, start: datetime, end: datetime, mm_h: F64) -> None:
        """Run the analysis through ``[start, end)`` under the observed rain field ``mm_h`` (``(ny, nx)``).

        A gap before ``start`` runs with no rain; a frame ending before the analysis time is ignored
        (already passed: the analysis never runs backwards).
        """
        t0, t1 = max(self._s(start), self.model.t), self._s(end)
        if t1 <= self.model.t:
            return
        if self.model.hmax <= 0.0 and float(mm_h.max(initial=0.0)) <= 0.0:
            self.model.t = t1  # a dry city under no rain stays dry: no need to step through it
            return
        if t0 > self.model.t:
            self._continue(None, t0)
        rain = RainSeries(np.array([t0, t1]), mm_h[None, :, :])
        self._continue(rain, t1)

    def _continue(self, rain: RainSeries | None, until: float) -> None:
        m = self.model
        self.model = FloodModel(
            self.catchment.domain, Forcing(rain=rain), self.options, h0=m.h, qx0=m.qx, qy0=m.qy, t=m.t
        )
        self.model.advance(until)

    def forecast(
        self, issued: datetime, last_frame: F64, motion: Motion, horizon: timedelta, rain_step: timedelta
    ) -> ForecastResult:
        """Run from the analysis state at ``issued`` (the analysis is first brought there without rain if
        it lags) ``horizon`` ahead under ``last_frame`` (mm/h) moved by ``motion``."""
        began = time.perf_counter()
        if self._s(issued) > self.model.t:
            self._continue(None, self._s(issued))
        m0 = self.model
        start = m0.t
        g = self.catchment.grid
        rain = forecast_series(
            last_frame, motion, start, horizon.total_seconds(), rain_step.total_seconds(), g.dx
        )
        run = FloodModel(
            self.catchment.domain, Forcing(rain=rain), self.options, h0=m0.h, qx0=m0.qx, qy0=m0.qy, t=start
        )
        h_now = m0.h.copy()
        h_max = h_now.copy()
        crossed = np.where(h_now >= CLOSE_DEPTH_M, start, np.inf)
        end = start + horizon.total_seconds()
        t = start
        while t < end - 1e-9:
            t = min(end, t + SAMPLE_S)
            run.advance(t)
            np.maximum(h_max, run.h, out=h_max)
            newly = (run.h >= CLOSE_DEPTH_M) & np.isinf(crossed)
            crossed[newly] = t
        places = tuple(self._place(p, h_now, h_max, crossed) for p in self.catchment.places)
        return ForecastResult(
            issued=issued,
            horizon=horizon,
            motion=motion,
            rain_now_mm_h=float(last_frame.max(initial=0.0)),
            places=places,
            areas=tuple(depth_areas(self.catchment, h_max)),
            cell_m=g.dx,
            cells=g.cells,
            elapsed_s=time.perf_counter() - began,
            max_depth=h_max,
        )

    def _place(self, p: Place, h_now: F64, h_max: F64, crossed: F64) -> PlaceForecast:
        rows = np.array([c[0] for c in p.cells])
        cols = np.array([c[1] for c in p.cells])
        first = float(crossed[rows, cols].min())
        at = None if math.isinf(first) else self.origin + timedelta(seconds=first)
        deepest = float(h_max[rows, cols].max())
        risk = semi_basement_risk(deepest) if p.kind == "building" else None
        return PlaceForecast(p, float(h_now[rows, cols].max()), deepest, at, risk)


def semi_basement_risk(depth_m: float) -> str | None:
    """``"high"`` where the predicted street water reaches a semi-basement's sill, ``"watch"`` near it."""
    if depth_m >= SEMI_BASEMENT_HIGH_M:
        return "high"
    if depth_m >= SEMI_BASEMENT_WATCH_M:
        return "watch"
    return None


def depth_areas(
    catchment: Catchment, depth: F64, classes: Sequence[float] = DEPTH_CLASSES_M
) -> list[DepthArea]:
    """The cells of each depth class as WGS84 polygons (rasterio's polygoniser over the class raster)."""
    from rasterio.features import shapes  # type: ignore[import-untyped]

    g = catchment.grid
    active = catchment.domain.solver_fields().active == 1
    cls = np.zeros(depth.shape, dtype=np.int32)
    for k, lo in enumerate(classes, start=1):
        cls[(depth >= lo) & active] = k
    if not cls.any():
        return []
    parts: dict[int, list[BaseGeometry]] = {}
    # polygons in pixel coordinates (col, row), placed on the grid here: rasterio's own transform
    # argument goes through affine's deprecated ``*`` operator
    for geom, value in shapes(cls, mask=cls > 0):
        parts.setdefault(int(value), []).append(shape(geom))
    back = catchment.to_wgs84()
    out = []
    for k in sorted(parts):
        pixels = shapely.union_all(parts[k])
        metric = shapely.transform(
            pixels, lambda cr: np.column_stack([g.x_min + cr[:, 0] * g.dx, g.y_max - cr[:, 1] * g.dx])
        )
        wgs = shapely.transform(metric, lambda xy: np.column_stack(back.transform(xy[:, 0], xy[:, 1])))
        hi = classes[k] if k < len(classes) else None
        out.append(DepthArea(classes[k - 1], hi, wgs, float(metric.area)))
    return out
