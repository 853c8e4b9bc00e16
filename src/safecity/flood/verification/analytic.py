# SPDX-License-Identifier: Apache-2.0
"""Exact solutions of the frictionless shallow-water equations the model is checked against.

Formulas as restated in ``shared/data/flood/analytic.md``: Ritter (1892) dry dam break, Stoker (1957)
wet dam break, Thacker (1981) planar surface in a paraboloid; parameter sets after Delestre et al.
(2013, SWASHES). Units SI; ``g`` = 9.81 m/s².
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.optimize import brentq  # type: ignore[import-untyped]

F64 = npt.NDArray[np.float64]
G = 9.81


def ritter_depth(x: F64, t: float, h_l: float, x0: float, g: float = G) -> F64:
    """Depth (m) at ``x`` (m), time ``t`` > 0 s, after a dam at ``x0`` holding ``h_l`` m breaks onto a dry bed."""
    c0 = math.sqrt(g * h_l)
    xi = (x - x0) / t
    fan = (4.0 / (9.0 * g)) * (c0 - xi / 2.0) ** 2
    return np.where(xi <= -c0, h_l, np.where(xi <= 2.0 * c0, fan, 0.0))


def ritter_front(t: float, h_l: float, x0: float, g: float = G) -> float:
    """Position (m) of the wet front: ``x0 + 2·√(g·h_l)·t``."""
    return x0 + 2.0 * math.sqrt(g * h_l) * t


@dataclass(frozen=True)
class StokerState:
    """The intermediate state of the wet dam break: celerity, depth, velocity, bore speed (SI)."""

    c_m: float
    h_m: float
    u_m: float
    bore_speed: float


def stoker_state(h_l: float, h_r: float, g: float = G) -> StokerState:
    """Solve Stoker's equation for the state between the rarefaction and the bore (Brent root)."""
    if not 0.0 < h_r < h_l:
        raise ValueError("Stoker's solution needs 0 < h_r < h_l")
    c_l = math.sqrt(g * h_l)
    c_r = math.sqrt(g * h_r)

    def f(c: float) -> float:
        return -8.0 * g * h_r * c * c * (c_l - c) ** 2 + (c * c - g * h_r) ** 2 * (c * c + g * h_r)

    c_m = float(brentq(f, c_r * (1 + 1e-12), c_l * (1 - 1e-12), xtol=1e-14))
    h_m = c_m * c_m / g
    u_m = 2.0 * (c_l - c_m)
    s = 2.0 * c_m * c_m * (c_l - c_m) / (c_m * c_m - g * h_r)
    return StokerState(c_m=c_m, h_m=h_m, u_m=u_m, bore_speed=s)


def stoker_depth(x: F64, t: float, h_l: float, h_r: float, x0: float, g: float = G) -> F64:
    """Depth (m) at ``x`` (m), time ``t`` > 0 s, of the dam break from ``h_l`` onto still water ``h_r``."""
    st = stoker_state(h_l, h_r, g)
    c_l = math.sqrt(g * h_l)
    x_a = x0 - c_l * t
    x_b = x0 + (2.0 * c_l - 3.0 * st.c_m) * t
    x_c = x0 + st.bore_speed * t
    fan = (4.0 / (9.0 * g)) * (c_l - (x - x0) / (2.0 * t)) ** 2
    return np.where(x <= x_a, h_l, np.where(x <= x_b, fan, np.where(x <= x_c, st.h_m, h_r)))


@dataclass(frozen=True)
class Paraboloid:
    """Thacker's planar-surface case: bowl depth ``h0`` (m), rest radius ``a`` (m), amplitude ``eps`` (m), box ``L``."""

    h0: float = 0.1
    a: float = 1.0
    eps: float = 0.5
    length: float = 4.0
    g: float = G

    @property
    def omega(self) -> float:
        """Angular frequency, 1/s: ``√(2·g·h0)/a``."""
        return math.sqrt(2.0 * self.g * self.h0) / self.a

    @property
    def period(self) -> float:
        return 2.0 * math.pi / self.omega

    def bed(self, x: F64, y: F64) -> F64:
        r2 = (x - self.length / 2) ** 2 + (y - self.length / 2) ** 2
        return -self.h0 * (1.0 - r2 / self.a**2)

    def depth(self, x: F64, y: F64, t: float) -> F64:
        """Exact depth (m) at time ``t`` (s); the wet region is a disc of radius ``a``."""
        X = x - self.length / 2
        Y = y - self.length / 2
        w = self.omega
        eta = (self.eps * self.h0 / self.a**2) * (
            2 * X * math.cos(w * t) + 2 * Y * math.sin(w * t) - self.eps
        )
        return np.maximum(0.0, eta - self.bed(x, y))

    def centre(self, t: float) -> tuple[float, float]:
        """Centre (x, y) of the wet disc at ``t``: it circles ``(L/2, L/2)`` at radius ``eps``."""
        w = self.omega
        return (self.length / 2 + self.eps * math.cos(w * t), self.length / 2 + self.eps * math.sin(w * t))


@dataclass(frozen=True)
class InertialDamBreak:
    """Exact dam break of the *local-inertial* equations on a flat frictionless bed (h_r ≥ 0).

    Dropping the advection term (as LISFLOOD-FP's scheme does) changes the Riemann problem: on a flat
    bed the system is ``h_t + q_x = 0``, ``q_t + (g·h²/2)_x = 0``, whose characteristic speeds are
    ``±√(g·h)``. The dam break is a rarefaction from ``h_l`` down to ``h*`` (along it
    ``q = (2/3)·√g·(h_l^1.5 − h^1.5)``, the Riemann invariant), a constant state ``(h*, q*)`` and a
    shock into the water ahead, even when that is a dry bed (Cozzolino et al. 2019, "Flood propagation
    modelling with the Local Inertia Approximation", arXiv:1904.12564: a wet/dry front is always a
    shock). The shock obeys Rankine–Hugoniot ``s·(h* − h_r) = q*``, ``s·q* = g·(h*² − h_r²)/2``.
    Derived here from those conditions; the model converges to this solution, not to Ritter's or
    Stoker's, and the difference between the two is the approximation's error.
    """

    h_l: float
    h_r: float
    x0: float
    g: float = G

    @property
    def state(self) -> tuple[float, float, float]:
        """``(h*, q*, s)``: middle depth (m), unit discharge (m²/s), shock speed (m/s)."""
        g, hl, hr = self.g, self.h_l, self.h_r

        def f(h: float) -> float:
            q_rare = (2.0 / 3.0) * math.sqrt(g) * (hl**1.5 - h**1.5)
            q_shock = math.sqrt(0.5 * g * (h + hr)) * (h - hr)
            return float(q_rare - q_shock)

        hs = float(brentq(f, hr, hl, xtol=1e-14))
        qs = (2.0 / 3.0) * math.sqrt(g) * (hl**1.5 - hs**1.5)
        s = qs / (hs - hr) if hs > hr else 0.0
        return hs, qs, s

    def depth(self, x: F64, t: float) -> F64:
        hs, _, s = self.state
        xi = (x - self.x0) / t
        c_l = math.sqrt(self.g * self.h_l)
        c_s = math.sqrt(self.g * hs)
        fan = xi * xi / self.g
        return np.where(xi <= -c_l, self.h_l, np.where(xi <= -c_s, fan, np.where(xi <= s, hs, self.h_r)))

    def front(self, t: float) -> float:
        """Position (m) of the shock at ``t``."""
        return self.x0 + self.state[2] * t
