# SPDX-License-Identifier: Apache-2.0
"""The same local-inertial step as :mod:`safecity.flood.kernel`, in plain numpy (whole-array slices).

It is the reference the compiled kernel is checked against (the two agree to round-off) and the
baseline ``bench/flood.py`` measures the kernel's speed-up over. Array layout, units and the scheme are
described in :mod:`safecity.flood.kernel`; the three functions here have the same signatures.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from safecity.flood.kernel import EAST, NORTH, SOUTH, WEST

F64 = npt.NDArray[np.float64]


def _faces(
    q: F64,
    q_theta: F64,
    eta_a: F64,
    eta_b: F64,
    z_a: F64,
    z_b: F64,
    n2: F64,
    dt: float,
    dx: float,
    g: float,
    h_min: float,
) -> F64:
    hf = np.maximum(eta_a, eta_b) - np.maximum(z_a, z_b)
    wet = hf > h_min
    hf_safe = np.where(wet, hf, 1.0)
    num = q_theta - g * hf_safe * dt * (eta_b - eta_a) / dx
    den = 1.0 + g * dt * n2 * np.abs(q) / hf_safe ** (7.0 / 3.0)
    return np.where(wet, num / den, 0.0)


def _edge(q: F64, h: F64, slope: F64, sign: float, n2: F64, dt: float, g: float, h_min: float) -> F64:
    wet = h > h_min
    h_safe = np.where(wet, h, 1.0)
    num = q + sign * g * h_safe * dt * np.maximum(slope, 0.0)
    den = 1.0 + g * dt * n2 * np.abs(q) / h_safe ** (7.0 / 3.0)
    out = num / den
    return np.where(wet & (out * sign >= 0.0), out, 0.0)


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
    """Pass 1, as :func:`safecity.flood.kernel.compute_fluxes`."""
    ny, nx = h.shape
    w = (1.0 - theta) * 0.5
    eta = z + h
    qx_new[:] = 0.0
    qy_new[:] = 0.0
    if nx > 1:
        q = qx[:, 1:-1]
        qx_new[:, 1:-1] = _faces(
            q,
            theta * q + w * (qx[:, :-2] + qx[:, 2:]),
            eta[:, :-1],
            eta[:, 1:],
            z[:, :-1],
            z[:, 1:],
            0.5 * (n2[:, :-1] + n2[:, 1:]),
            dt,
            dx,
            g,
            h_min,
        )
        if edges[WEST] == 1:
            slope = (eta[:, 1] - eta[:, 0]) / dx
            qx_new[:, 0] = _edge(qx[:, 0], h[:, 0], slope, -1.0, n2[:, 0], dt, g, h_min)
        if edges[EAST] == 1:
            slope = (eta[:, -2] - eta[:, -1]) / dx
            qx_new[:, nx] = _edge(qx[:, nx], h[:, -1], slope, 1.0, n2[:, -1], dt, g, h_min)
    if ny > 1:
        q = qy[1:-1, :]
        qy_new[1:-1, :] = _faces(
            q,
            theta * q + w * (qy[:-2, :] + qy[2:, :]),
            eta[:-1, :],
            eta[1:, :],
            z[:-1, :],
            z[1:, :],
            0.5 * (n2[:-1, :] + n2[1:, :]),
            dt,
            dx,
            g,
            h_min,
        )
        if edges[NORTH] == 1:
            slope = (eta[1, :] - eta[0, :]) / dx
            qy_new[0, :] = _edge(qy[0, :], h[0, :], slope, -1.0, n2[0, :], dt, g, h_min)
        if edges[SOUTH] == 1:
            slope = (eta[-2, :] - eta[-1, :]) / dx
            qy_new[ny, :] = _edge(qy[ny, :], h[-1, :], slope, 1.0, n2[-1, :], dt, g, h_min)


def limit_outflows(
    h: F64, qx: F64, qy: F64, ratio: F64, limited: npt.NDArray[np.uint8], dt: float, dx: float
) -> None:
    """Pass 2, as :func:`safecity.flood.kernel.limit_outflows`."""
    c = dt / dx
    out = c * (
        np.maximum(qx[:, 1:], 0.0)
        + np.maximum(-qx[:, :-1], 0.0)
        + np.maximum(qy[1:, :], 0.0)
        + np.maximum(-qy[:-1, :], 0.0)
    )
    big = out > h
    ratio[:] = np.where(big, h / np.where(big, out, 1.0), 1.0)
    limited[:] = big.any(axis=1)


def update_depths(
    h: F64,
    qx: F64,
    qy: F64,
    qx_out: F64,
    qy_out: F64,
    ratio: F64,
    limited: npt.NDArray[np.uint8],
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
    """Pass 3, as :func:`safecity.flood.kernel.update_depths`."""
    ny, nx = h.shape
    c = dt / dx
    area = dx * dx
    # interior faces scaled by the limiter of the cell the water leaves; edge faces by their one cell
    qx_out[:, 1:-1] = np.where(qx[:, 1:-1] > 0.0, qx[:, 1:-1] * ratio[:, :-1], qx[:, 1:-1] * ratio[:, 1:])
    qx_out[:, 0] = qx[:, 0] * ratio[:, 0]
    qx_out[:, nx] = qx[:, nx] * ratio[:, -1]
    qy_out[1:-1, :] = np.where(qy[1:-1, :] > 0.0, qy[1:-1, :] * ratio[:-1, :], qy[1:-1, :] * ratio[1:, :])
    qy_out[0, :] = qy[0, :] * ratio[0, :]
    qy_out[ny, :] = qy[ny, :] * ratio[-1, :]
    hn = h + c * (qx_out[:, :-1] - qx_out[:, 1:] + qy_out[:-1, :] - qy_out[1:, :])
    hn = np.maximum(hn, 0.0)
    rain = (rain_field if use_field else rain_rate) * rain_factor * dt
    hn = hn + rain
    li = np.minimum(hn, infiltration * dt)
    hn = hn - li
    ld = np.minimum(hn, drainage * dt)
    h[:] = hn - ld
    out = np.maximum(qx_out[:, nx], 0.0) + np.maximum(-qx_out[:, 0], 0.0)
    out[-1] += float(np.sum(np.maximum(qy_out[ny, :], 0.0)))
    out[0] += float(np.sum(np.maximum(-qy_out[0, :], 0.0)))
    tally[:, 0] = np.broadcast_to(rain, h.shape).sum(axis=1) * area
    tally[:, 1] = li.sum(axis=1) * area
    tally[:, 2] = ld.sum(axis=1) * area
    tally[:, 3] = out * dt * dx
    tally[:, 4] = h.max(axis=1)
