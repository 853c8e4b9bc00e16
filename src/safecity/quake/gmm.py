# SPDX-License-Identifier: Apache-2.0
"""Ground-motion models, vectorised over sites.

The models come from **pygmm** (A. Kottke, MIT licence; a maintained collection of published
ground-motion models): the coefficient tables are pygmm's own and the scalar pygmm model is the
reference this module is verified against (``tests/quake/test_gmm.py``, ``safecity quake verify``).

Why not call pygmm per site: a pygmm model evaluates one scenario (one magnitude, one distance, one
Vs30) at a time, about 1.6 ms for BSSA14 here, i.e. 16 minutes for 600,000 buildings. The published
equations are closed form, so this module evaluates them with numpy over every site at once with pygmm's
coefficients (BSSA14: Boore, Stewart, Seyhan & Atkinson 2014, Earthquake Spectra 30(3) 1057-1085; the
equation numbers below are the paper's).

Other NGA-West2 models (ASK14, CB14, CY14) need more rupture geometry than a quake message carries (top
of rupture, dip, width, hanging-wall side); :class:`BinnedModel` evaluates any pygmm model on a grid of
distance and Vs30 and interpolates in log space, verified against pygmm at off-grid points.

Units: distances km, Vs30 m/s, PGA and SA in g, PGV in cm/s; logs are natural logs.
"""

from __future__ import annotations

import importlib.util
import logging
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

#: Period used for PGV in pygmm's coefficient tables, and for PGA.
PGV_PERIOD = -1.0
PGA_PERIOD = 0.0


class Mechanism(StrEnum):
    """Fault mechanism as in pygmm/NGA-West2: strike-slip, normal, reverse, unspecified."""

    STRIKE_SLIP = "SS"
    NORMAL = "NS"
    REVERSE = "RS"
    UNSPECIFIED = "U"


@dataclass(frozen=True)
class Motion:
    """Median ground motion and its log standard deviations at every site (arrays of one length).

    ``sa_g`` maps a period (s) to its 5 %-damped pseudo-spectral acceleration. ``ln_sd`` maps the
    intensity-measure name (``"PGA"``, ``"PGV"``, ``"SA(0.3)"``…) to ``(tau, phi)``: between-event and
    within-event standard deviations of the natural log.
    """

    pga_g: FloatArray
    pgv_cms: FloatArray
    sa_g: Mapping[float, FloatArray]
    ln_sd: Mapping[str, tuple[FloatArray, FloatArray]] = field(default_factory=dict)

    def imt(self, name: str) -> FloatArray:
        """The array for an intensity-measure name: ``PGA``, ``PGV`` or ``SA(T)``."""
        if name == "PGA":
            return self.pga_g
        if name == "PGV":
            return self.pgv_cms
        if name.startswith("SA(") and name.endswith(")"):
            return self.sa_g[float(name[3:-1])]
        raise KeyError(f"unknown intensity measure {name!r}: use PGA, PGV or SA(T)")


def sa_name(period: float) -> str:
    """The name of a spectral acceleration, ``SA(0.3)``."""
    return f"SA({period:g})"


def pygmm_data(name: str) -> Path:
    """A coefficient file of the installed pygmm, found without importing pygmm.

    Why not ``import pygmm``: its ``__init__`` imports every model, and with them pandas and
    scipy.interpolate: 3-13 s on this machine, more than a whole damage run. The table is the same file
    pygmm reads (``pygmm/data``), so the coefficients stay the maintained library's.
    """
    spec = importlib.util.find_spec("pygmm")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("pygmm is not installed: pip install 'pygmm>=0.8'")
    return Path(next(iter(spec.submodule_search_locations))) / "data" / name


@cache
def _bssa14_rows() -> dict[float, dict[str, float]]:
    """BSSA14 coefficients per period, from pygmm's table (period -1 is PGV, 0 is PGA); read as pygmm's
    ``load_data_file(…, skip_header=2)`` does."""
    c = np.genfromtxt(
        pygmm_data("boore_stewart_seyhan_atkinson-2014.csv"),
        skip_header=2,
        delimiter=",",
        names=True,
        case_sensitive=True,
    )
    names = c.dtype.names or ()
    return {float(row["period"]): {n: float(row[n]) for n in names} for row in c}


def bssa14_periods() -> tuple[float, ...]:
    """Spectral periods (s) BSSA14 has coefficients for (0.01 to 10 s)."""
    return tuple(p for p in _bssa14_rows() if p > 0)


class BSSA14:
    """Boore, Stewart, Seyhan & Atkinson (2014) for active crustal regions, vectorised over sites.

    Validity (paper, section "Limits"): M 3-8.5 (strike-slip, reverse; 3-7 normal), Rjb 0-400 km
    (pygmm checks 300), Vs30 150-1500 m/s. Inputs outside are clipped to those bounds for Vs30 and
    rejected for the magnitude (:class:`ValueError`). The basin term is left out (no Z1.0 in a quake
    message: the paper's default ``δz1 = 0``), as pygmm does when ``depth_1_0`` is not given.
    """

    name = "BSSA14"
    #: Reference rock velocity, m/s (eq. 8).
    V_REF = 760.0
    LIMITS: ClassVar[dict[str, tuple[float, float]]] = {
        "mag": (3.0, 8.5),
        "dist_jb": (0.0, 400.0),
        "v_s30": (150.0, 1500.0),
    }

    def __init__(self, region: str = "global") -> None:
        if region not in (
            "global",
            "california",
            "china",
            "turkey",
            "italy",
            "japan",
            "new_zealand",
            "taiwan",
        ):
            raise ValueError(f"BSSA14 region {region!r} is not one of the paper's regions")
        self.region = region

    def _dc3(self, c: Mapping[str, float]) -> float:
        # regional anelastic-attenuation adjustment (eq. 3, table of Δc3)
        if self.region in ("china", "turkey"):
            return c["dc_3ct"]
        if self.region in ("italy", "japan"):
            return c["dc_3ij"]
        return c["dc_3global"]

    def _ln_rock(self, period: float, mag: float, mech: Mechanism, rjb: FloatArray) -> FloatArray:
        """ln of the response on reference rock (Vs30 760 m/s), eqs. 2-4: event (source) + path terms."""
        c = _bssa14_rows()[period]
        event = {
            Mechanism.STRIKE_SLIP: c["e_1"],
            Mechanism.NORMAL: c["e_2"],
            Mechanism.REVERSE: c["e_3"],
            Mechanism.UNSPECIFIED: c["e_0"],
        }[mech]
        dm = mag - c["M_h"]
        event += c["e_4"] * dm + c["e_5"] * dm**2 if mag <= c["M_h"] else c["e_6"] * dm
        r = np.sqrt(rjb**2 + c["h"] ** 2)
        path = (c["c_1"] + c["c_2"] * (mag - c["M_ref"])) * np.log(r / c["R_ref"]) + (
            c["c_3"] + self._dc3(c)
        ) * (r - c["R_ref"])
        out: FloatArray = event + path
        return out

    @staticmethod
    def _site(period: float, vs30: FloatArray, pga_rock: FloatArray) -> FloatArray:
        """Site amplification F_S = F_lin + F_nl (eqs. 6-8), the basin term F_δz1 = 0."""
        c = _bssa14_rows()[period]
        f_lin = c["c"] * np.log(np.minimum(vs30, c["V_c"]) / c["V_ref"])
        f_2 = c["f_4"] * (np.exp(c["f_5"] * (np.minimum(vs30, 760.0) - 360.0)) - np.exp(c["f_5"] * 400.0))
        f_nl = c["f_1"] + f_2 * np.log((pga_rock + c["f_3"]) / c["f_3"])
        out: FloatArray = f_lin + f_nl
        return out

    @staticmethod
    def _sd(period: float, mag: float, rjb: FloatArray, vs30: FloatArray) -> tuple[FloatArray, FloatArray]:
        """(tau, phi) of ln response, eqs. 13-15."""
        c = _bssa14_rows()[period]
        m = min(max(mag, 4.5), 5.5) - 4.5
        tau = np.full_like(rjb, c["tau_1"] + (c["tau_2"] - c["tau_1"]) * m)
        phi = c["phi_1"] + (c["phi_2"] - c["phi_1"]) * m
        phi = phi + c["dphi_R"] * np.clip(
            np.log(np.maximum(rjb, 0.1) / c["R_1"]) / np.log(c["R_2"] / c["R_1"]), 0.0, 1.0
        )
        phi = phi - c["dphi_V"] * np.clip(np.log(c["V_2"] / vs30) / np.log(c["V_2"] / c["V_1"]), 0.0, 1.0)
        return tau, np.asarray(phi, dtype=np.float64)

    def evaluate(
        self,
        mag: float,
        rjb_km: FloatArray,
        vs30: FloatArray,
        mechanism: Mechanism = Mechanism.UNSPECIFIED,
        periods: tuple[float, ...] = (0.3, 1.0),
    ) -> Motion:
        """Median PGA, PGV and SA at ``periods`` (each one of :func:`bssa14_periods`) for every site,
        with (tau, phi) per intensity measure.

        Many sites on few Vs30 values (site classes: the usual case for an inventory) go through
        :func:`_on_distance_grid`: the exact equations on :data:`GRID_NODES` distances per Vs30 value,
        then linear interpolation in ln(1 + Rjb), within :data:`GRID_REL_ERROR` of the direct evaluation
        (checked in the tests). Otherwise every site is evaluated directly.
        """
        rjb = np.asarray(rjb_km, dtype=np.float64)
        vs = np.asarray(vs30, dtype=np.float64)
        if rjb.size >= GRID_MIN_SITES:
            uniq, inverse = np.unique(vs, return_inverse=True)
            if len(uniq) <= GRID_MAX_VS30:
                return _on_distance_grid(
                    lambda r, v: self.evaluate_direct(mag, r, v, mechanism, periods), rjb, uniq, inverse
                )
        return self.evaluate_direct(mag, rjb, vs, mechanism, periods)

    def evaluate_direct(
        self,
        mag: float,
        rjb_km: FloatArray,
        vs30: FloatArray,
        mechanism: Mechanism = Mechanism.UNSPECIFIED,
        periods: tuple[float, ...] = (0.3, 1.0),
    ) -> Motion:
        """As :meth:`evaluate`, every site by the equations (no grid)."""
        lo, hi = self.LIMITS["mag"]
        if not lo <= mag <= hi:
            raise ValueError(f"magnitude {mag} is outside BSSA14's range {lo}-{hi}")
        rjb = np.asarray(rjb_km, dtype=np.float64)
        vs = np.clip(np.asarray(vs30, dtype=np.float64), *self.LIMITS["v_s30"])
        rows = _bssa14_rows()
        for p in periods:
            if p not in rows or p <= 0:
                raise ValueError(
                    f"BSSA14 has no coefficients for period {p} s: use one of {bssa14_periods()}"
                )
        mech = Mechanism(mechanism)
        # the nonlinear site term is driven by PGA on reference rock (eq. 8, PGAr)
        pga_rock = np.exp(self._ln_rock(PGA_PERIOD, mag, mech, rjb))

        def median(period: float) -> FloatArray:
            return np.exp(self._ln_rock(period, mag, mech, rjb) + self._site(period, vs, pga_rock))

        sds = {"PGA": self._sd(PGA_PERIOD, mag, rjb, vs), "PGV": self._sd(PGV_PERIOD, mag, rjb, vs)}
        sds.update({sa_name(p): self._sd(p, mag, rjb, vs) for p in periods})
        return Motion(median(PGA_PERIOD), median(PGV_PERIOD), {p: median(p) for p in periods}, sds)


#: Below this many sites the direct evaluation is as fast as the grid.
GRID_MIN_SITES = 20_000
#: At most this many distinct Vs30 values for the grid path (site classes give a handful).
GRID_MAX_VS30 = 32
#: Distance nodes of the grid, evenly spaced in ln(1 + Rjb) from 0 to 400 km (step 0.01).
GRID_NODES = 600
#: Worst relative difference between the grid path and the direct one (measured 3e-5 for PGA, PGV and
#: SA 0.3/1.0 s over M 3-8.5; the tests hold it to this bound).
GRID_REL_ERROR = 1e-4


def _on_distance_grid(
    direct: Callable[[FloatArray, FloatArray], Motion],
    rjb: FloatArray,
    vs_values: FloatArray,
    vs_index: npt.NDArray[np.intp],
) -> Motion:
    """Evaluate ``direct`` on a (Vs30 value × distance node) grid and interpolate every array of the
    resulting :class:`Motion` to the sites. ``vs_index`` gives each site's row in ``vs_values``."""
    u_nodes = np.linspace(0.0, np.log1p(400.0), GRID_NODES)
    nv = len(vs_values)
    grid = direct(np.tile(np.expm1(u_nodes), nv), np.repeat(vs_values, GRID_NODES))
    u = np.clip(np.log1p(rjb), 0.0, u_nodes[-1])
    step = u_nodes[1] - u_nodes[0]
    j = np.minimum((u / step).astype(np.intp), GRID_NODES - 2)
    w = (u - u_nodes[j]) / step
    flat = vs_index * GRID_NODES + j

    def interp(values: FloatArray, log: bool) -> FloatArray:
        g = np.log(values) if log else values
        out: FloatArray = g[flat] * (1.0 - w) + g[flat + 1] * w
        return np.exp(out) if log else out

    return Motion(
        interp(grid.pga_g, True),
        interp(grid.pgv_cms, True),
        {p: interp(v, True) for p, v in grid.sa_g.items()},
        {k: (interp(t, False), interp(f, False)) for k, (t, f) in grid.ln_sd.items()},
    )


class BinnedModel:
    """Any pygmm ground-motion model on a grid of Joyner-Boore distance and Vs30, interpolated.

    pygmm evaluates one scenario at a time; here it is called once per grid node (``n_dist`` log-spaced
    distances × ``n_vs30`` log-spaced velocities) and ln(response) is interpolated bilinearly in
    (ln R, ln Vs30). Finite-rupture parameters are derived for a vertical rupture whose top is at
    ``depth_tor`` km: Rrup = √(Rjb² + Ztor²), Rx = Rjb (footwall side). Accuracy is checked against
    direct pygmm calls in the tests (:data:`safecity.quake.verify` case ``gmm-binned``).
    """

    def __init__(
        self,
        model: Callable[[Any], Any],
        name: str,
        *,
        depth_tor: float = 0.0,
        dip: float = 90.0,
        n_dist: int = 48,
        n_vs30: int = 12,
    ) -> None:
        self.model = model
        self.name = name
        self.depth_tor = depth_tor
        self.dip = dip
        self.dist = np.geomspace(0.1, 400.0, n_dist)
        self.vs30 = np.geomspace(150.0, 1500.0, n_vs30)

    def scenario(self, mag: float, rjb: float, vs30: float, mechanism: Mechanism) -> Any:
        pygmm = import_pygmm()
        return pygmm.Scenario(
            mag=mag,
            dist_jb=rjb,
            dist_rup=float(np.hypot(rjb, self.depth_tor)),
            dist_x=rjb,
            dist_y0=0.0,
            v_s30=vs30,
            mechanism=str(mechanism),
            dip=self.dip,
            depth_tor=self.depth_tor,
            depth_hyp=self.depth_tor + 5.0,
            width=10.0,
            region="global",
            on_hanging_wall=False,
        )

    def evaluate(
        self,
        mag: float,
        rjb_km: FloatArray,
        vs30: FloatArray,
        mechanism: Mechanism = Mechanism.UNSPECIFIED,
        periods: tuple[float, ...] = (0.3, 1.0),
    ) -> Motion:
        """As :meth:`BSSA14.evaluate`: medians at every site (no standard deviations)."""
        nd, nv = len(self.dist), len(self.vs30)
        grids = {"PGA": np.empty((nd, nv)), "PGV": np.empty((nd, nv))}
        grids.update({sa_name(p): np.empty((nd, nv)) for p in periods})
        with quiet_pygmm():
            for i, d in enumerate(self.dist):
                for j, v in enumerate(self.vs30):
                    m = self.model(self.scenario(mag, float(d), float(v), Mechanism(mechanism)))
                    grids["PGA"][i, j] = np.log(m.pga)
                    grids["PGV"][i, j] = np.log(m.pgv)
                    for p in periods:
                        grids[sa_name(p)][i, j] = float(m.interp_ln_spec_accels([p])[0])
        x = np.log(np.clip(np.asarray(rjb_km, dtype=np.float64), self.dist[0], self.dist[-1]))
        y = np.log(np.clip(np.asarray(vs30, dtype=np.float64), self.vs30[0], self.vs30[-1]))
        lx, ly = np.log(self.dist), np.log(self.vs30)
        ix = np.clip(np.searchsorted(lx, x) - 1, 0, nd - 2)
        iy = np.clip(np.searchsorted(ly, y) - 1, 0, nv - 2)
        tx = (x - lx[ix]) / (lx[ix + 1] - lx[ix])
        ty = (y - ly[iy]) / (ly[iy + 1] - ly[iy])

        def interp(g: FloatArray) -> FloatArray:
            v: FloatArray = (
                g[ix, iy] * (1 - tx) * (1 - ty)
                + g[ix + 1, iy] * tx * (1 - ty)
                + g[ix, iy + 1] * (1 - tx) * ty
                + g[ix + 1, iy + 1] * tx * ty
            )
            return np.exp(v)

        return Motion(
            interp(grids["PGA"]), interp(grids["PGV"]), {p: interp(grids[sa_name(p)]) for p in periods}
        )


@contextmanager
def quiet_pygmm() -> Iterator[None]:
    """pygmm warns (``warnings`` and the root logger) for every input near its models' limits; the callers
    here check the limits themselves, so those messages are muted while pygmm runs."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        previous = logging.root.manager.disable
        logging.disable(logging.WARNING)
        try:
            yield
        finally:
            logging.disable(previous)


def import_pygmm() -> Any:
    """``import pygmm``, quietly: two of its modules leave a JSON file open at import (ResourceWarning)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        import pygmm

    return pygmm


def nga_west2_models() -> dict[str, BSSA14 | BinnedModel]:
    """The NGA-West2 models offered: BSSA14 (exact, vectorised) and CY14, ASK14, CB14 (binned)."""
    pygmm = import_pygmm()
    return {
        "BSSA14": BSSA14(),
        "CY14": BinnedModel(pygmm.ChiouYoungs2014, "CY14"),
        "ASK14": BinnedModel(pygmm.AbrahamsonSilvaKamai2014, "ASK14"),
        "CB14": BinnedModel(pygmm.CampbellBozorgnia2014, "CB14"),
    }
