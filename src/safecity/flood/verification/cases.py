# SPDX-License-Identifier: Apache-2.0
"""Runners of the analytic verification cases: each builds a model, runs it, and returns its measures.

A runner returns ``{measure: Measured}``; the table in ``cases.csv`` says, per measure, the reference,
the tolerance and how they compare. Grids are the coarsest the tolerances allow, so each case runs in
seconds (see ``docs/flood-model.md``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from safecity.flood.forcing import Forcing, Hydrograph, Inflow, RainSeries
from safecity.flood.grid import Domain, Edges, Grid
from safecity.flood.model import FloodModel, SolverOptions
from safecity.flood.verification import analytic as an

F64 = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Measured:
    """A measured value, with the reference when the case computes it from its data (else the table's)."""

    value: float
    reference: float | None = None


class CaseSkipped(Exception):
    """The case cannot run here (its data is absent); the message says what is missing and where to get it."""


# --- lake at rest -------------------------------------------------------------------------------------


def lake_at_rest(data: Path) -> dict[str, Measured]:
    """Still water over a bumpy bed with dry islands and a blocked building: nothing may move.

    50 × 50 cells of 1 m; the surface at 1.0 m; bumps up to 1.6 m rise above it; 200 steps.
    """
    g = Grid(nx=50, ny=50, dx=1.0, x_min=0.0, y_max=50.0)
    x, y = np.meshgrid(g.centres_x(), g.centres_y())
    z = 0.3 * np.sin(x / 4.0) * np.cos(y / 5.0) + 1.3 * np.exp(-((x - 20) ** 2 + (y - 30) ** 2) / 20.0)
    buildings = np.zeros_like(z, dtype=bool)
    buildings[10:15, 35:42] = True
    dom = Domain(grid=g, dem=z, manning=0.03, buildings=buildings)
    h0 = np.maximum(1.0 - z, 0.0)
    m = FloodModel(dom, options=SolverOptions(), h0=h0)
    for _ in range(200):
        m.step(1e9)
    wet = m.h > 1e-9
    eta0 = np.where(wet, z + h0, 0.0)
    eta = np.where(wet, z + m.h, 0.0)
    hx = np.maximum(m.h[:, :-1], m.h[:, 1:])
    vmax = float(np.max(np.abs(m.qx[:, 1:-1]) / np.maximum(hx, 1e-3)))
    hy = np.maximum(m.h[:-1, :], m.h[1:, :])
    vmax = max(vmax, float(np.max(np.abs(m.qy[1:-1, :]) / np.maximum(hy, 1e-3))))
    return {
        "max_velocity": Measured(vmax),
        "max_surface_change": Measured(float(np.max(np.abs(eta - eta0)))),
        "volume_error": Measured(abs(m.ledger.relative_error())),
    }


# --- dam breaks ---------------------------------------------------------------------------------------

DAM_X0 = 50.0
DAM_HL = 1.0
DAM_T = 6.0
DAM_DX = 0.5


def _dam_break(h_r: float) -> tuple[F64, F64, FloodModel]:
    g = Grid(nx=int(100.0 / DAM_DX), ny=1, dx=DAM_DX, x_min=0.0, y_max=DAM_DX)
    x = g.centres_x()
    h0 = np.where(x < DAM_X0, DAM_HL, h_r)[None, :]
    m = FloodModel(Domain(grid=g, dem=np.zeros((1, g.nx)), manning=0.0), options=SolverOptions(), h0=h0)
    m.advance(DAM_T)
    return x, m.h[0].copy(), m


def _front(x: F64, h: F64, level: float) -> float:
    """Where the depth, going downstream from the dam, first falls below ``level`` (linear interpolation)."""
    right = np.nonzero((x > DAM_X0) & (h < level))[0]
    if len(right) == 0:
        return float(x[-1])
    k = int(right[0])
    if k == 0 or h[k - 1] == h[k]:
        return float(x[k])
    return float(x[k - 1] + (h[k - 1] - level) / (h[k - 1] - h[k]) * (x[k] - x[k - 1]))


def dambreak_dry(data: Path) -> dict[str, Measured]:
    """Ritter's dam break (h_l = 1 m onto a dry bed), and the local-inertial equations' own exact solution."""
    x, h, m = _dam_break(0.0)
    exact = an.InertialDamBreak(DAM_HL, 0.0, DAM_X0)
    h_star = exact.state[0]
    front = _front(x, h, 0.5 * h_star)
    return {
        "inertial_depth_l1": Measured(float(np.mean(np.abs(h - exact.depth(x, DAM_T))))),
        "inertial_front": Measured(front, exact.front(DAM_T)),
        "ritter_depth_l1": Measured(float(np.mean(np.abs(h - an.ritter_depth(x, DAM_T, DAM_HL, DAM_X0))))),
        "ritter_front": Measured(front, an.ritter_front(DAM_T, DAM_HL, DAM_X0)),
        "froude_max": Measured(m.froude_max()),
        "volume_error": Measured(abs(m.ledger.relative_error())),
    }


def _stoker(h_r: float) -> dict[str, Measured]:
    x, h, m = _dam_break(h_r)
    exact = an.InertialDamBreak(DAM_HL, h_r, DAM_X0)
    st = an.stoker_state(DAM_HL, h_r)
    front = _front(x, h, 0.5 * (exact.state[0] + h_r))
    c_l = math.sqrt(an.G * DAM_HL)
    x_b = DAM_X0 + (2.0 * c_l - 3.0 * st.c_m) * DAM_T
    x_c = DAM_X0 + st.bore_speed * DAM_T
    plateau = (x > x_b + 2.0) & (x < x_c - 2.0)
    return {
        "inertial_depth_l1": Measured(float(np.mean(np.abs(h - exact.depth(x, DAM_T))))),
        "inertial_bore": Measured(front, exact.front(DAM_T)),
        "stoker_depth_l1": Measured(
            float(np.mean(np.abs(h - an.stoker_depth(x, DAM_T, DAM_HL, h_r, DAM_X0))))
        ),
        "stoker_bore": Measured(_front(x, h, 0.5 * (st.h_m + h_r)), x_c),
        "stoker_plateau": Measured(float(np.mean(h[plateau])) if plateau.any() else math.nan, st.h_m),
        "froude_max": Measured(m.froude_max()),
        "volume_error": Measured(abs(m.ledger.relative_error())),
    }


def dambreak_wet(data: Path) -> dict[str, Measured]:
    """Stoker's wet dam break with SWASHES' depth ratio (h_r/h_l = 0.2)."""
    return _stoker(0.2)


def dambreak_weak(data: Path) -> dict[str, Measured]:
    """Stoker's wet dam break as a weak bore (h_r/h_l = 0.8), inside the approximation's Froude range."""
    return _stoker(0.8)


# --- Thacker ------------------------------------------------------------------------------------------

THACKER = an.Paraboloid(h0=0.1, a=1.0, eps=0.1, length=2.6)
THACKER_DX = 0.02


def thacker_planar(data: Path) -> dict[str, Measured]:
    """Thacker's planar surface oscillating in a paraboloid, compared after half a period."""
    p = THACKER
    n = round(p.length / THACKER_DX)
    g = Grid(nx=n, ny=n, dx=THACKER_DX, x_min=0.0, y_max=p.length)
    x, y = np.meshgrid(g.centres_x(), g.centres_y())
    h0 = p.depth(x, y, 0.0)
    hf = np.zeros((n + 1, n))
    hf[1:-1] = 0.5 * (h0[:-1] + h0[1:])
    # v = ε·ω northwards at t = 0; qy is positive southwards (increasing row).
    qy0 = -p.eps * p.omega * hf
    m = FloodModel(Domain(grid=g, dem=p.bed(x, y), manning=0.0), options=SolverOptions(), h0=h0, qy0=qy0)
    t = 0.5 * p.period
    m.advance(t)
    exact = p.depth(x, y, t)
    cx, cy = float((x * m.h).sum() / m.h.sum()), float((y * m.h).sum() / m.h.sum())
    ex, ey = float((x * exact).sum() / exact.sum()), float((y * exact).sum() / exact.sum())
    disc = exact > 0
    rmse = float(np.sqrt(np.mean((m.h - exact)[disc] ** 2)))
    return {
        "centroid_error": Measured(math.hypot(cx - ex, cy - ey)),
        "depth_rmse_rel": Measured(rmse / p.h0),
        "volume_error": Measured(abs(m.ledger.relative_error())),
    }


# --- MacDonald ----------------------------------------------------------------------------------------


def _macdonald(data: Path, name: str, q_in: float, rain_m_s: float, t_end: float) -> dict[str, Measured]:
    path = data / "flood" / "analytic_macdonald" / f"{name}.csv"
    if not path.exists():
        raise CaseSkipped(f"{path} is missing (see shared/data/flood/PROVENANCE.md)")
    d = np.genfromtxt(path, delimiter=",", names=True)
    dx = float(d["dx"][1] - d["dx"][0])
    g = Grid(nx=len(d), ny=1, dx=dx, x_min=0.0, y_max=dx)
    dom = Domain(grid=g, dem=d["topo"][None, :], manning=0.033, edges=Edges(east="free"))
    # q (m²/s) over one cell's width enters the first cell, as itzi's test does.
    inflow = Inflow(
        "upstream", ((0, 0),), Hydrograph(np.array([0.0, t_end]), np.array([q_in * dx, q_in * dx]))
    )
    rain = RainSeries.uniform([0.0, t_end], [rain_m_s * 3.6e6]) if rain_m_s > 0 else None
    m = FloodModel(dom, Forcing(rain=rain, inflows=(inflow,)), SolverOptions())
    m.advance(t_end)
    wse = d["topo"] + m.h[0]
    q_expected = q_in + rain_m_s * g.nx * dx
    return {
        "wse_mae": Measured(float(np.mean(np.abs(wse - d["wse"])))),
        "outflow_q": Measured(float(m.qx[0, -1]), q_expected),
        "volume_error": Measured(abs(m.ledger.relative_error())),
    }


def macdonald_norain(data: Path) -> dict[str, Measured]:
    """MacDonald's subcritical long channel, q = 2 m²/s, steady state after 20 min (itzi's rule)."""
    return _macdonald(data, "mcdo_norain", 2.0, 0.0, 1200.0)


def macdonald_rain(data: Path) -> dict[str, Measured]:
    """MacDonald's channel with rain 0.001 m/s and q = 1 m²/s, steady after 40 min (itzi's rule)."""
    return _macdonald(data, "mcdo_rain", 1.0, 0.001, 2400.0)
