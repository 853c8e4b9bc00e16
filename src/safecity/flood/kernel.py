# SPDX-License-Identifier: Apache-2.0
"""The local-inertial surface-flow step, compiled with numba and parallel over grid rows.

Numba is used because the scheme is a handful of stencil loops over millions of cells: compiled loops
run them an order of magnitude faster than numpy's whole-array passes (which allocate a temporary per
operation), and ``prange`` spreads the rows over the cores with no locking, because every face and cell
is written by exactly one row. ``cache=True`` keeps the compiled code on disk, so only the first run on a
machine pays the compile time.

The same scheme, written with numpy slices, is in :mod:`safecity.flood.reference`; the tests check that
the two agree to round-off, and ``bench/flood.py`` measures the ratio between them.

Layout (shared with the reference implementation): cell arrays are ``(ny, nx)``, row 0 first (north for
a raster). ``qx`` is ``(ny, nx + 1)``: face ``i`` lies between cells ``i - 1`` and ``i``, positive
towards increasing ``i`` (east). ``qy`` is ``(ny + 1, nx)``: face ``j`` lies between rows ``j - 1`` and
``j``, positive towards increasing ``j`` (south). Fluxes are discharges per unit width, m²/s.

The scheme (Bates et al. 2010, eq. 11; de Almeida et al. 2012, eq. 8 with the θ-weighting LISFLOOD-FP
uses), at a face between cells a and b::

    h_f      = max(η_a, η_b) − max(z_a, z_b)                (flow depth at the face)
    q_θ      = θ·q + (1 − θ)/2 · (q_left + q_right)          (neighbouring faces on the same line)
    q_new    = (q_θ − g·h_f·Δt·(η_b − η_a)/Δx) / (1 + g·Δt·n²·|q| / h_f^(7/3))

A face with ``h_f`` at or below the wet/dry threshold carries no flow. A free-outflow edge face uses
the same formula against a ghost cell whose surface continues the interior slope (never uphill), so
at steady state it gives Manning's normal flow. After the fluxes, outflows are scaled so that no
cell gives more water than it holds (the positivity limiter; it keeps depths ≥ 0 and mass exact).
"""

from __future__ import annotations

import math

import numba
import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]
U8 = npt.NDArray[np.uint8]

#: Columns of the per-row tally array written by :func:`update_depths`.
TALLY_RAIN, TALLY_INFILTRATION, TALLY_DRAINAGE, TALLY_OUTFLOW, TALLY_HMAX = 0, 1, 2, 3, 4
TALLY_COLUMNS = 5

#: Edge order in the ``edges`` array: 0 = closed wall, 1 = free outflow.
WEST, EAST, NORTH, SOUTH = 0, 1, 2, 3

#: Bed elevation given to cells outside the domain or blocked by buildings, m: every face touching one
#: then has zero flow depth exactly (max(η) − max(z) = BLOCKED − BLOCKED), so no loop needs a mask.
BLOCKED = 1.0e9


#: Magic constant of the bit-level cube-root seed for float64 (Kahan's B1 = 715094163 in the high
#: word, extended to 64 bits): dividing the bit pattern by 3 roughly divides the exponent by 3.
_CBRT_MAGIC = 0x2A9F7893782DA1CE


@numba.njit(inline="always", cache=True)
def _pow_7_3(v: float, buf: F64, bits: npt.NDArray[np.int64]) -> float:
    """``v ** (7/3)`` for v > 0, to ~1e-14 relative, about 5× faster than libm's ``pow`` here.

    ``v²·∛v``: the cube root is seeded from the float's bits (``buf``/``bits`` are a 1-element float64
    array and its int64 view, the only way to reinterpret a scalar in numba) and refined by two Halley
    steps, each cubing the relative error. The friction term needs it at every wet face, and ``pow``
    made the flux pass ~14× slower than without it (measured on 1 M cells).
    """
    buf[0] = v
    bits[0] = bits[0] // 3 + _CBRT_MAGIC
    y = buf[0]
    y3 = y * y * y
    y = y * (y3 + 2.0 * v) / (2.0 * y3 + v)
    y3 = y * y * y
    y = y * (y3 + 2.0 * v) / (2.0 * y3 + v)
    return float(v * v * y)


@numba.njit(inline="always", cache=True)
def _edge_flux(
    q: float, h: float, slope: float, sign: float, n2: float, dt: float, g: float, h_min: float
) -> float:
    """New flux at a free-outflow edge face (m²/s).

    ``slope`` is the fall of the water surface from the inner neighbour to the edge cell per metre;
    ``sign`` is +1 where outward is +x/+y, −1 otherwise.
    """
    if h <= h_min:
        return 0.0
    s = max(slope, 0.0)  # the ghost surface never rises outwards: a free edge lets water out only
    num = q + sign * g * h * dt * s
    den = 1.0 + g * dt * n2 * abs(q) / h ** (7.0 / 3.0)
    out = num / den
    if out * sign < 0.0:
        return 0.0
    return float(out)


@numba.njit(inline="always", cache=True)
def _row_dry(h: F64, j: int, h_min: float) -> bool:
    """True if no cell of row ``j`` holds more than ``h_min``."""
    for i in range(h.shape[1]):  # noqa: SIM110 (numba compiles this loop; a generator in all() it would not)
        if h[j, i] > h_min:
            return False
    return True


@numba.njit(parallel=True, cache=True)
def compute_fluxes(
    h: F64,
    z: F64,
    qx: F64,
    qy: F64,
    qx_new: F64,
    qy_new: F64,
    n2: F64,
    edges: npt.NDArray[np.int64],
    dt: float,
    dx: float,
    g: float,
    theta: float,
    h_min: float,
) -> None:
    """Pass 1: new face fluxes from the old ones (``qx``/``qy`` are read only, ``*_new`` written).

    ``z`` is the bed with inactive cells raised to :data:`BLOCKED` m, so every face touching one has no
    flow depth and the loops need no mask. The θ-weighting's neighbours of the first and last interior
    faces are the edge faces (0 on a closed edge).
    """
    ny, nx = h.shape
    w = (1.0 - theta) * 0.5
    for j in numba.prange(ny):
        buf = np.empty(1)
        bits = buf.view(np.int64)
        # A face between two cells holding at most h_min has h_f <= h_min, so no flow: rows that are dry
        # (with their northern neighbour, for the y faces) are zeroed without the flux arithmetic. The
        # scan stops at the first wet cell, so it costs a wet row almost nothing. Results are identical.
        dry = _row_dry(h, j, h_min)
        dry_up = dry and (j == 0 or _row_dry(h, j - 1, h_min))
        if dry:
            qx_new[j, 1:nx] = 0.0
        else:
            for i in range(1, nx):
                za = z[j, i - 1]
                zb = z[j, i]
                ea = za + h[j, i - 1]
                eb = zb + h[j, i]
                hf = max(ea, eb) - max(za, zb)
                if hf <= h_min:
                    qx_new[j, i] = 0.0
                    continue
                q = qx[j, i]
                qt = theta * q + w * (qx[j, i - 1] + qx[j, i + 1])
                nf = 0.5 * (n2[j, i - 1] + n2[j, i])
                qx_new[j, i] = (qt - g * hf * dt * (eb - ea) / dx) / (
                    1.0 + g * dt * nf * abs(q) / _pow_7_3(hf, buf, bits)
                )
        if j > 0 and dry_up:
            qy_new[j, :] = 0.0
        elif j > 0:
            for i in range(nx):
                za = z[j - 1, i]
                zb = z[j, i]
                ea = za + h[j - 1, i]
                eb = zb + h[j, i]
                hf = max(ea, eb) - max(za, zb)
                if hf <= h_min:
                    qy_new[j, i] = 0.0
                    continue
                q = qy[j, i]
                qt = theta * q + w * (qy[j - 1, i] + qy[j + 1, i])
                nf = 0.5 * (n2[j - 1, i] + n2[j, i])
                qy_new[j, i] = (qt - g * hf * dt * (eb - ea) / dx) / (
                    1.0 + g * dt * nf * abs(q) / _pow_7_3(hf, buf, bits)
                )
        # West and east edge faces of this row.
        qx_new[j, 0] = 0.0
        qx_new[j, nx] = 0.0
        if nx > 1:
            if edges[WEST] == 1:
                slope = ((z[j, 1] + h[j, 1]) - (z[j, 0] + h[j, 0])) / dx
                qx_new[j, 0] = _edge_flux(qx[j, 0], h[j, 0], slope, -1.0, n2[j, 0], dt, g, h_min)
            if edges[EAST] == 1:
                slope = ((z[j, nx - 2] + h[j, nx - 2]) - (z[j, nx - 1] + h[j, nx - 1])) / dx
                qx_new[j, nx] = _edge_flux(qx[j, nx], h[j, nx - 1], slope, 1.0, n2[j, nx - 1], dt, g, h_min)
        # North and south edge faces: rows 0 and ny-1 own them.
        if j == 0 or j == ny - 1:
            jj = 0 if j == 0 else ny
            qy_new[jj, :] = 0.0
            code = edges[NORTH] if j == 0 else edges[SOUTH]
            if code == 1 and ny > 1:
                inner = 1 if j == 0 else ny - 2
                sign = -1.0 if j == 0 else 1.0
                for i in range(nx):
                    slope = ((z[inner, i] + h[inner, i]) - (z[j, i] + h[j, i])) / dx
                    qy_new[jj, i] = _edge_flux(qy[jj, i], h[j, i], slope, sign, n2[j, i], dt, g, h_min)
            if ny == 1:
                qy_new[ny, :] = 0.0


@numba.njit(parallel=True, cache=True)
def limit_outflows(h: F64, qx: F64, qy: F64, ratio: F64, limited: U8, dt: float, dx: float) -> None:
    """Pass 2: per cell, the share of its outflows it can supply without going below zero depth.

    ``limited[j]`` is set to 1 where some cell of row ``j`` is limited (ratio < 1), so pass 3 can skip
    the neighbours' ratios on rows where all of them are 1 — most rows of a wet grid (measured: the
    ratio look-ups were 3/4 of pass 3's time).
    """
    ny, nx = h.shape
    c = dt / dx
    for j in numba.prange(ny):
        any_limited = 0
        for i in range(nx):
            out = c * (
                max(qx[j, i + 1], 0.0) + max(-qx[j, i], 0.0) + max(qy[j + 1, i], 0.0) + max(-qy[j, i], 0.0)
            )
            hv = h[j, i]
            if out > hv:
                ratio[j, i] = hv / out
                any_limited = 1
            else:
                ratio[j, i] = 1.0
        limited[j] = any_limited


@numba.njit(parallel=True, cache=True)
def update_depths(
    h: F64,
    qx: F64,
    qy: F64,
    qx_out: F64,
    qy_out: F64,
    ratio: F64,
    limited: U8,
    rain_factor: F64,
    rain_field: F64,
    rain_rate: float,
    use_field: bool,
    infiltration: F64,
    drainage: F64,
    tally: F64,
    dt: float,
    dx: float,
) -> None:
    """Pass 3: limited fluxes into ``qx_out``/``qy_out``, new depths in ``h``, per-row volumes in ``tally``.

    A face's flux is scaled by the limiter of the cell the water leaves (skipped on rows where
    ``limited`` says every ratio around is 1). Edge faces only ever carry outflow, so their scale is
    their one cell's. ``rain_rate`` (m/s) is used where ``use_field`` is
    false, else ``rain_field`` (m/s per cell); either is multiplied by ``rain_factor`` (runoff
    coefficient; 0 on blocked cells). ``infiltration`` and ``drainage`` are loss capacities in m/s,
    taken only from water the cell holds. ``tally[j]`` gets the row's rain, infiltration, drainage and
    edge-outflow volumes (m³) and its largest depth (m).
    """
    ny, nx = h.shape
    c = dt / dx
    area = dx * dx
    for j in numba.prange(ny):
        rain_v = 0.0
        inf_v = 0.0
        drn_v = 0.0
        hmax = 0.0
        scaled = limited[j] == 1 or (j > 0 and limited[j - 1] == 1) or (j < ny - 1 and limited[j + 1] == 1)
        for i in range(nx):
            qw = qx[j, i]
            qe = qx[j, i + 1]
            qn = qy[j, i]
            qs = qy[j + 1, i]
            if scaled:
                r = ratio[j, i]
                # ">" on the upstream side, ">=" on the downstream side: a zero or outward edge face
                # never reads the ratio of a cell beyond the grid.
                fw = qw * ratio[j, i - 1] if qw > 0.0 else qw * r
                fe = qe * r if qe >= 0.0 else qe * ratio[j, i + 1]
                fn = qn * ratio[j - 1, i] if qn > 0.0 else qn * r
                fs = qs * r if qs >= 0.0 else qs * ratio[j + 1, i]
            else:
                fw, fe, fn, fs = qw, qe, qn, qs
            qx_out[j, i] = fw
            qy_out[j, i] = fn
            hn = h[j, i] + c * (fw - fe + fn - fs)
            if hn < 0.0:  # round-off only: the limiter allows at most the water present
                hn = 0.0
            rain = (rain_field[j, i] if use_field else rain_rate) * rain_factor[j, i] * dt
            hn += rain
            li = min(hn, infiltration[j, i] * dt)
            hn -= li
            ld = min(hn, drainage[j, i] * dt)
            hn -= ld
            rain_v += rain
            inf_v += li
            drn_v += ld
            h[j, i] = hn
            if hn > hmax:
                hmax = hn
        qx_out[j, nx] = qx[j, nx] * ratio[j, nx - 1] if scaled else qx[j, nx]
        out_v = max(qx_out[j, nx], 0.0) + max(-qx_out[j, 0], 0.0)
        if j == ny - 1:
            for i in range(nx):
                qy_out[ny, i] = qy[ny, i] * ratio[ny - 1, i]
                out_v += max(qy_out[ny, i], 0.0)
        if j == 0:
            for i in range(nx):
                out_v += max(-qy_out[0, i], 0.0)
        tally[j, 0] = rain_v * area
        tally[j, 1] = inf_v * area
        tally[j, 2] = drn_v * area
        tally[j, 3] = out_v * dt * dx
        tally[j, 4] = hmax


def stable_dt(hmax: float, dx: float, alpha: float, g: float, dt_max: float) -> float:
    """The CFL-limited time step, s: ``α·Δx/√(g·h_max)`` (Bates et al. 2010, eq. 12), at most ``dt_max``."""
    if hmax <= 0.0:
        return dt_max
    return min(dt_max, alpha * dx / math.sqrt(g * hmax))
