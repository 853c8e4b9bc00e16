# SPDX-License-Identifier: Apache-2.0
"""A shaking field at every site: a rupture through a ground-motion model, conditioned on the stations'
observed peaks where there are any (a simplified ShakeMap), or a source fitted to the stations alone.

Conditioning follows Worden, Thompson, Baker, Bradley, Luco & Wald (2018), "Spatial and spectral
interpolation of ground-motion intensity measure observations", BSSA 108(2), simplified to one intensity
measure observed at a time:

1. residuals at the stations ``r = ln(obs) − ln(median)``;
2. the between-event (bias) term, the random-effects estimate ``δB = τ² Σr / (n τ² + φ²)`` (eq. 12 with
   one φ for all stations), its variance ``(n/φ² + 1/τ²)⁻¹``;
3. the within-event residuals ``ε = r − δB`` interpolated to every site by simple kriging with the
   Jayaram & Baker (2009) correlation ``ρ(h) = exp(−3h / b)``, b = 8.5 km for PGA and PGV and
   ``8.5 + 17.2·T`` km for SA(T < 1 s) (their case 1, no Vs30 clustering);
4. at each site: ``ln(median) + δB + kᵀK⁻¹ε``, with standard deviation
   ``√(φ²(1 − kᵀK⁻¹k) + var δB)``.

Intensity measures not observed keep the model's median shifted by nothing (the cross-IMT correlation of
the full method is left out: a limit stated in ``docs/earthquake-model.md``).

Distances use a local equirectangular frame around the epicentre (< 0.1 % off over a city). A point
source gives Rjb = epicentral distance; with a strike the rupture is a vertical line centred on the
epicentre, of the Wells & Coppersmith (1994) subsurface length ``log10 L = −2.44 + 0.59 M`` (all slip types).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from safecity.core.errors import BadRequest
from safecity.quake.gmm import BSSA14, Mechanism, Motion, sa_name
from safecity.quake.intensity import GAL_PER_G

FloatArray = npt.NDArray[np.float64]

KM_PER_DEG = 111.195
#: Chunk of sites per kriging step (sites × stations distances held at once).
CHUNK = 200_000


class OutOfModelRange(BadRequest):
    """The earthquake is outside what the ground-motion model covers; the message says which bound."""

    code = "quake_out_of_model_range"


class NotEnoughStations(BadRequest):
    """Too few station readings to place an earthquake from readings alone."""

    code = "quake_not_enough_stations"


@dataclass(frozen=True)
class Rupture:
    """An earthquake source: moment magnitude, epicentre (WGS84), hypocentral depth (km), mechanism and,
    optionally, the strike (degrees from north) of a vertical line rupture."""

    magnitude: float
    lon: float
    lat: float
    depth_km: float = 10.0
    mechanism: Mechanism = Mechanism.UNSPECIFIED
    strike_deg: float | None = None

    def __post_init__(self) -> None:
        if not 2.0 <= self.magnitude <= 9.5:
            raise ValueError(f"magnitude {self.magnitude} is outside 2.0-9.5")
        if not (-180 <= self.lon <= 180 and -90 <= self.lat <= 90):
            raise ValueError(f"epicentre ({self.lon}, {self.lat}) is not a lon/lat")
        if not 0 <= self.depth_km <= 700:
            raise ValueError(f"depth {self.depth_km} km is outside 0-700 km")

    @property
    def length_km(self) -> float:
        """Wells & Coppersmith (1994) subsurface rupture length (all slip types), km."""
        return float(10 ** (-2.44 + 0.59 * self.magnitude))

    def rjb_km(self, lon: FloatArray, lat: FloatArray) -> FloatArray:
        """Joyner-Boore distance (km) of each site."""
        kx = KM_PER_DEG * math.cos(math.radians(self.lat))
        x = (np.asarray(lon) - self.lon) * kx
        y = (np.asarray(lat) - self.lat) * KM_PER_DEG
        if self.strike_deg is None:
            out: FloatArray = np.hypot(x, y)
            return out
        s = math.radians(self.strike_deg)
        ux, uy = math.sin(s), math.cos(s)  # unit vector along strike (x east, y north)
        along = np.clip(x * ux + y * uy, -self.length_km / 2, self.length_km / 2)
        dist: FloatArray = np.hypot(x - along * ux, y - along * uy)
        return dist


@dataclass(frozen=True)
class Stations:
    """Observed peaks: station positions (WGS84), Vs30 (m/s) and the observed value per intensity measure
    (PGA in g, PGV in cm/s, ``SA(T)`` in g), each an array over stations (NaN where not observed)."""

    lon: FloatArray
    lat: FloatArray
    vs30: FloatArray
    observed: dict[str, FloatArray] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.lon)

    @classmethod
    def from_pga_gal(
        cls, lon: FloatArray, lat: FloatArray, pga_gal: FloatArray, vs30: FloatArray | float = 360.0
    ) -> Stations:
        """Accelerometer peaks as the platform's sensors report them (``peak_ground_acceleration`` in gal,
        cm/s²), converted to g; ``vs30`` per station or one value for all (m/s)."""
        lon_a = np.asarray(lon, dtype=np.float64)
        vs = np.broadcast_to(np.asarray(vs30, dtype=np.float64), lon_a.shape).copy()
        pga = np.asarray(pga_gal, dtype=np.float64) / GAL_PER_G
        return cls(lon_a, np.asarray(lat, dtype=np.float64), vs, {"PGA": pga})


@dataclass(frozen=True)
class Shaking:
    """The field at the sites: medians (conditioned where observed) and the log standard deviation of
    PGA; ``bias`` the between-event term applied per measure."""

    motion: Motion
    sigma_ln_pga: FloatArray
    bias: dict[str, float]
    rupture: Rupture
    conditioned_on: int = 0


def grid_cells(
    bounds: tuple[float, float, float, float], cell_m: float = 250.0
) -> tuple[FloatArray, FloatArray, tuple[int, int]]:
    """Centres (lon, lat arrays, row-major from the south-west) of a regular grid of ``cell_m`` cells
    over ``(min_lon, min_lat, max_lon, max_lat)``, and its (rows, cols): the grid of a shaking map, to
    pass to :func:`shake` like buildings (reshape the results to (rows, cols))."""
    min_lon, min_lat, max_lon, max_lat = bounds
    if not (min_lon < max_lon and min_lat < max_lat) or cell_m <= 0:
        raise ValueError(f"bounds {bounds} or cell size {cell_m} m make no grid")
    lat0 = (min_lat + max_lat) / 2
    dlon = cell_m / 1000 / (KM_PER_DEG * math.cos(math.radians(lat0)))
    dlat = cell_m / 1000 / KM_PER_DEG
    xs = np.arange(min_lon + dlon / 2, max_lon, dlon)
    ys = np.arange(min_lat + dlat / 2, max_lat, dlat)
    gx, gy = np.meshgrid(xs, ys)
    return gx.ravel(), gy.ravel(), (len(ys), len(xs))


def correlation_length_km(imt: str) -> float:
    """Jayaram & Baker (2009) range b (km) of within-event residual correlation, case 1."""
    if imt in ("PGA", "PGV"):
        return 8.5
    period = float(imt[3:-1])
    return 8.5 + 17.2 * min(period, 1.0)


def _xy_km(lon: FloatArray, lat: FloatArray, lat0: float) -> tuple[FloatArray, FloatArray]:
    kx = KM_PER_DEG * math.cos(math.radians(lat0))
    return np.asarray(lon) * kx, np.asarray(lat) * KM_PER_DEG


def shake(
    rupture: Rupture,
    lon: FloatArray,
    lat: FloatArray,
    vs30: FloatArray,
    *,
    stations: Stations | None = None,
    model: BSSA14 | None = None,
    periods: tuple[float, ...] = (0.3, 1.0),
) -> Shaking:
    """The shaking at every site (``lon``, ``lat``, ``vs30`` arrays), conditioned on ``stations``."""
    gmm = model or BSSA14()
    lo, hi = gmm.LIMITS["mag"]
    if not lo <= rupture.magnitude <= hi:
        raise OutOfModelRange(
            f"magnitude {rupture.magnitude} is outside the ground-motion model's range M {lo}-{hi} "
            f"({gmm.name}): below M {lo} no damage is expected; above M {hi} the model does not apply",
            where="magnitude",
            message_ko=f"규모 {rupture.magnitude}은(는) 지반운동 모델({gmm.name})의 적용 범위 M {lo}-{hi} 밖입니다",
        )
    motion = gmm.evaluate(rupture.magnitude, rupture.rjb_km(lon, lat), vs30, rupture.mechanism, periods)
    tau, phi = motion.ln_sd["PGA"]
    sigma = np.hypot(tau, phi)
    if stations is None or len(stations) == 0:
        return Shaking(motion, sigma, {}, rupture)
    at_st = gmm.evaluate(
        rupture.magnitude,
        rupture.rjb_km(stations.lon, stations.lat),
        stations.vs30,
        rupture.mechanism,
        periods,
    )
    values = {"PGA": motion.pga_g, "PGV": motion.pgv_cms, **{sa_name(p): v for p, v in motion.sa_g.items()}}
    bias: dict[str, float] = {}
    used = 0
    for imt, obs in stations.observed.items():
        if imt not in values:
            raise ValueError(f"observed {imt} is not computed: use PGA, PGV or SA at {periods}")
        ok = np.isfinite(obs) & (obs > 0)
        if not ok.any():
            continue
        st_tau, st_phi = at_st.ln_sd[imt]
        r = np.log(obs[ok]) - np.log(at_st.imt(imt)[ok])
        t2, p2 = float(np.mean(st_tau[ok])) ** 2, float(np.mean(st_phi[ok])) ** 2
        n = int(ok.sum())
        db = t2 * float(r.sum()) / (n * t2 + p2)
        var_db = 1.0 / (n / p2 + 1.0 / t2)
        eps = r - db
        mean_shift, reduction = _krige(
            lon, lat, stations.lon[ok], stations.lat[ok], eps, correlation_length_km(imt), rupture.lat
        )
        values[imt] = values[imt] * np.exp(db + mean_shift)
        bias[imt] = db
        used = max(used, n)
        if imt == "PGA":
            sigma = np.sqrt(np.maximum(phi**2 * (1.0 - reduction), 0.0) + var_db)
    conditioned = Motion(
        values["PGA"], values["PGV"], {p: values[sa_name(p)] for p in motion.sa_g}, motion.ln_sd
    )
    return Shaking(conditioned, sigma, bias, rupture, used)


def _krige(
    lon: FloatArray,
    lat: FloatArray,
    st_lon: FloatArray,
    st_lat: FloatArray,
    eps: FloatArray,
    b_km: float,
    lat0: float,
) -> tuple[FloatArray, FloatArray]:
    """Simple kriging of within-event residuals (unit variance, correlation exp(−3h/b)): the mean shift
    ``kᵀK⁻¹ε`` and the variance reduction ``kᵀK⁻¹k`` at every site, in chunks of :data:`CHUNK` sites."""
    sx, sy = _xy_km(st_lon, st_lat, lat0)
    dss = np.hypot(sx[:, None] - sx[None, :], sy[:, None] - sy[None, :])
    # a small nugget keeps K invertible when two stations share a place
    k_mat = np.exp(-3.0 * dss / b_km) + 1e-6 * np.eye(len(sx))
    k_inv = np.linalg.inv(k_mat)
    weights_eps = k_inv @ eps
    x, y = _xy_km(lon, lat, lat0)
    shift = np.empty(len(x))
    reduction = np.empty(len(x))
    # distances from |p - s|² = |p|² + |s|² - 2 p·s (one small matrix product instead of (n × m)
    # temporaries per coordinate), centred on the stations so the cancellation stays harmless in float64;
    # the kernel and the two products in float32 (rounding 1e-7, far below what the field can tell):
    # together ~3x faster than float64 hypot
    cx, cy = float(sx.mean()), float(sy.mean())
    st = np.stack([sx - cx, sy - cy], axis=1)
    st2 = (st**2).sum(axis=1)
    w32, kinv32 = weights_eps.astype(np.float32), k_inv.astype(np.float32)
    for a in range(0, len(x), CHUNK):
        sl = slice(a, a + CHUNK)
        p = np.stack([x[sl] - cx, y[sl] - cy], axis=1)
        d2 = (p**2).sum(axis=1)[:, None] + st2[None, :] - 2.0 * (p @ st.T)
        k = np.exp((-3.0 / b_km * np.sqrt(np.maximum(d2, 0.0))).astype(np.float32))
        shift[sl] = k @ w32
        reduction[sl] = ((k @ kinv32) * k).sum(axis=1)
    return shift, reduction


def fit_source(
    stations: Stations,
    *,
    depth_km: float = 10.0,
    step_km: float = 2.0,
    margin_km: float = 40.0,
    model: BSSA14 | None = None,
) -> Rupture:
    """The point source that best explains the stations' PGA alone (least squares in ln PGA over a grid
    of epicentres around the stations, ``step_km`` apart, and magnitudes 3.0-8.0 by 0.1): for accelerometer readings that
    arrive before (or without) a quake message. Needs at least 3 stations with PGA."""
    gmm = model or BSSA14()
    obs = stations.observed.get("PGA")
    ok = np.isfinite(obs) & (obs > 0) if obs is not None else np.zeros(len(stations), dtype=bool)
    if obs is None or ok.sum() < 3:
        n = int(ok.sum())
        raise NotEnoughStations(
            f"{n} station(s) with a PGA reading: at least 3 are needed to place the earthquake",
            where="stations",
            message_ko=f"최대지반가속도를 보고한 관측소가 {n}곳입니다. 지진 위치를 정하려면 3곳 이상이 필요합니다",
        )
    lon, lat, vs, ln_obs = stations.lon[ok], stations.lat[ok], stations.vs30[ok], np.log(obs[ok])
    lat0 = float(lat.mean())
    kx = KM_PER_DEG * math.cos(math.radians(lat0))
    gx = np.arange(lon.min() - margin_km / kx, lon.max() + margin_km / kx, step_km / kx)
    gy = np.arange(
        lat.min() - margin_km / KM_PER_DEG, lat.max() + margin_km / KM_PER_DEG, step_km / KM_PER_DEG
    )
    ex, ey = (a.ravel() for a in np.meshgrid(gx, gy))
    # Rjb of every station from every candidate epicentre (candidates × stations)
    rjb = np.hypot((ex[:, None] - lon[None, :]) * kx, (ey[:, None] - lat[None, :]) * KM_PER_DEG)
    flat_rjb, flat_vs = rjb.ravel(), np.tile(vs, len(ex))

    def best_for(mags: FloatArray) -> tuple[float, float, float, float]:
        best = (math.inf, 0.0, 0.0, 0.0)
        for m in mags:
            pred = np.log(gmm.evaluate(float(m), flat_rjb, flat_vs).pga_g).reshape(rjb.shape)
            misfit = ((pred - ln_obs[None, :]) ** 2).sum(axis=1)
            i = int(np.argmin(misfit))
            if misfit[i] < best[0]:
                best = (float(misfit[i]), float(m), float(ex[i]), float(ey[i]))
        return best

    # magnitudes by 0.5 first, then by 0.1 around the best (the misfit is smooth in M)
    coarse = best_for(np.arange(3.0, 8.01, 0.5))
    fine = best_for(np.round(np.arange(max(2.6, coarse[1] - 0.4), min(8.5, coarse[1] + 0.41), 0.1), 1))
    return Rupture(fine[1], fine[2], fine[3], depth_km)
