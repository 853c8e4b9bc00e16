# SPDX-License-Identifier: Apache-2.0
"""The rain field of a forecast: gauges (and radar frames) to a grid, and its extrapolation ahead.

**Analysis.** Rain gauges report millimetres per interval at points; :func:`gauge_field` spreads them
over the model grid by inverse-distance weighting (power 2, the weighting hydrologists use for sparse
gauges when no radar is at hand). An imported radar or nowcast frame (:func:`frames_from_raster`,
GeoTIFF or NetCDF through rasterio) replaces the gauge analysis for the times it covers.

**Extrapolation (Lagrangian persistence).** The rain field of the last frame is moved along its recent
motion, unchanged in intensity, for each lead time: the method operational nowcasts start from
(e.g. pysteps' ``extrapolation`` nowcast; Germann & Zawadzki 2002, MWR 130:2859, show it beats
Eulerian persistence for the first hour). We estimate *one* motion vector for the whole field, from
the peak of the cross-correlation of the last two frames (:func:`estimate_motion`): a handful of gauges
cannot carry a dense optical-flow field, and a rain band over a city moves as one body within an hour.
Where the motion is unknown (one frame only, no rain, a flat correlation, or a peak at the search
edge, i.e. faster than :data:`MAX_SPEED_M_S`) the field stays where it is (Eulerian persistence):
the honest default, which for a stationary band such as 8 August 2022's is also the right one.
pysteps itself was not used: its optical-flow methods need OpenCV and a radar-density field.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from safecity.flood.forcing import RainSeries
from safecity.flood.grid import Grid

F64 = npt.NDArray[np.float64]

#: Fastest rain-field motion believed, m/s (judgement: convective cells over Korea move at up to ~20 m/s
#: with the steering wind; a faster peak is an artefact of sparse gauges).
MAX_SPEED_M_S = 20.0
#: A correlation peak below this share of the zero-shift autocorrelation is no motion signal (judgement).
MIN_CORRELATION = 0.5
#: Inverse-distance power (2 is the usual choice; Shepard 1968).
IDW_POWER = 2.0
#: Rain under this (mm/h) counts as none when judging whether a field has structure to track.
TRACE_MM_H = 0.5


class NowcastError(ValueError):
    """A rain input cannot be used; the message names the input and what to fix."""


@dataclass(frozen=True)
class Gauge:
    """One rain gauge at ``(x, y)`` in the model's metric frame (m)."""

    key: str
    x: float
    y: float


@dataclass(frozen=True)
class Motion:
    """The rain field's velocity, m/s (east, north); ``known`` False means persistence was used."""

    u: float
    v: float
    known: bool
    method: str

    @staticmethod
    def still(reason: str) -> Motion:
        return Motion(0.0, 0.0, False, f"persistence ({reason})")


def gauge_field(grid: Grid, gauges: Sequence[Gauge], mm_h: Sequence[float]) -> F64:
    """Rain intensity (mm/h) on every cell of ``grid`` by inverse-distance weighting of the gauges.

    A cell holding a gauge takes its value. Raises :class:`NowcastError` without gauges or with a
    negative or non-finite reading (naming the gauge).
    """
    if not gauges:
        raise NowcastError("rain: no gauge to build the field from")
    values = np.asarray(mm_h, dtype=np.float64)
    for g, val in zip(gauges, values, strict=True):
        if not np.isfinite(val) or val < 0:
            raise NowcastError(f"rain gauge {g.key}: reading {val} mm/h is not a finite value ≥ 0")
    xs = grid.centres_x()[None, :]
    ys = grid.centres_y()[:, None]
    num = np.zeros((grid.ny, grid.nx))
    den = np.zeros((grid.ny, grid.nx))
    for g, val in zip(gauges, values, strict=True):
        d2 = (xs - g.x) ** 2 + (ys - g.y) ** 2
        w = 1.0 / np.maximum(d2, (0.5 * grid.dx) ** 2) ** (IDW_POWER / 2)
        num += w * val
        den += w
    return np.asarray(num / den, dtype=np.float64)


def estimate_motion(prev: F64, curr: F64, dt_s: float, dx: float) -> Motion:
    """One velocity (m/s, east and north) moving ``prev`` onto ``curr`` over ``dt_s`` seconds.

    The shift maximising the cross-correlation of the two anomaly fields, searched up to
    :data:`MAX_SPEED_M_S`; persistence (:meth:`Motion.still`) where no motion can be told.
    """
    from scipy.signal import fftconvolve  # type: ignore[import-untyped]  # slow to import: on first use

    if dt_s <= 0:
        return Motion.still("frames not in time order")
    if prev.max(initial=0.0) < TRACE_MM_H or curr.max(initial=0.0) < TRACE_MM_H:
        return Motion.still("no rain to track")
    a = prev - prev.mean()
    b = curr - curr.mean()
    if a.std() < 1e-9 or b.std() < 1e-9:
        return Motion.still("uniform rain field")
    # corr[k, l] = Σ a[i, j]·b[i + k, j + l]: convolution of b with a reversed
    corr = fftconvolve(b, a[::-1, ::-1], mode="full")
    cy, cx = a.shape[0] - 1, a.shape[1] - 1
    reach = max(1, int(MAX_SPEED_M_S * dt_s / dx))
    lo_y, lo_x = max(0, cy - reach), max(0, cx - reach)
    window = corr[lo_y : cy + reach + 1, lo_x : cx + reach + 1]
    k, m = np.unravel_index(int(np.argmax(window)), window.shape)
    dy, dxc = int(k) + lo_y - cy, int(m) + lo_x - cx
    zero = float(np.sum(a * b))
    if abs(dy) == reach or abs(dxc) == reach:
        return Motion.still("correlation peak at the search edge")
    peak = float(window[k, m])
    norm = float(np.sqrt(np.sum(a * a) * np.sum(b * b)))
    if norm <= 0 or peak / norm < MIN_CORRELATION:
        return Motion.still("weak correlation")
    if (dy == 0 and dxc == 0) or peak <= zero:
        return Motion(0.0, 0.0, True, "advection (no displacement found)")
    # rows grow southward: a shift of +dy rows is a motion to the south
    return Motion(
        dxc * dx / dt_s, -dy * dx / dt_s, True, "advection (cross-correlation of the last two frames)"
    )


def extrapolate(frame: F64, motion: Motion, lead_s: float, dx: float) -> F64:
    """``frame`` moved by ``motion`` over ``lead_s`` seconds (bilinear; rain entering from outside the
    grid takes the nearest edge value, as upwind rain would keep coming)."""
    from scipy import ndimage  # type: ignore[import-untyped]

    if not motion.known or (motion.u == 0.0 and motion.v == 0.0) or lead_s <= 0:
        return frame.copy()
    shift_rows = -motion.v * lead_s / dx
    shift_cols = motion.u * lead_s / dx
    out = ndimage.shift(frame, (shift_rows, shift_cols), order=1, mode="nearest")
    return np.asarray(np.maximum(out, 0.0), dtype=np.float64)


def forecast_series(
    last: F64, motion: Motion, start_s: float, horizon_s: float, step_s: float, dx: float
) -> RainSeries:
    """Gridded rain from ``start_s`` to ``start_s + horizon_s``: ``last`` extrapolated to the middle
    of each ``step_s`` interval."""
    n = max(1, int(np.ceil(horizon_s / step_s)))
    times = np.asarray(start_s + np.arange(n + 1) * step_s, dtype=np.float64)
    times[-1] = start_s + horizon_s
    frames = np.stack([extrapolate(last, motion, (k + 0.5) * step_s, dx) for k in range(n)])
    return RainSeries(times, frames)


def frames_from_raster(path: Path, grid: Grid, crs: str) -> F64:
    """Every band of a radar or nowcast raster (GeoTIFF, or NetCDF through GDAL), in mm/h, resampled
    onto ``grid`` (in ``crs``): ``(bands, ny, nx)``. No-data cells become 0 (no rain known there).

    Raises :class:`NowcastError` naming the file when it cannot be read or has no CRS.
    """
    import rasterio  # type: ignore[import-untyped]
    from rasterio.errors import RasterioIOError  # type: ignore[import-untyped]
    from rasterio.transform import Affine  # type: ignore[import-untyped]
    from rasterio.warp import Resampling, reproject  # type: ignore[import-untyped]

    try:
        src = rasterio.open(path)
    except RasterioIOError as e:
        raise NowcastError(f"{path}: not a readable raster ({e})") from e
    with src:
        if src.crs is None:
            raise NowcastError(f"{path}: the raster has no CRS; give it one (gdal_edit.py -a_srs)")
        out = np.zeros((src.count, grid.ny, grid.nx), dtype=np.float64)
        for band in range(1, src.count + 1):
            reproject(
                source=rasterio.band(src, band),
                destination=out[band - 1],
                # north-up at the grid's corner (rasterio's from_origin multiplies Affines with `*`,
                # deprecated by affine 3.1: a warning, an error under the tests)
                dst_transform=Affine(grid.dx, 0.0, grid.x_min, 0.0, -grid.dx, grid.y_max),
                dst_crs=crs,
                dst_nodata=np.nan,
                resampling=Resampling.bilinear,
            )
    out = np.where(np.isfinite(out) & (out > 0), out, 0.0)
    return np.asarray(out, dtype=np.float64)
