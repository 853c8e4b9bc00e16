# SPDX-License-Identifier: Apache-2.0
"""The shaking field: distances, conditioning on stations (ShakeMap-style) and a source fitted to the
stations alone."""

from __future__ import annotations

import numpy as np
import pytest

from safecity.quake.gmm import BSSA14, Mechanism
from safecity.quake.shakemap import (
    NotEnoughStations,
    OutOfModelRange,
    Rupture,
    Stations,
    fit_source,
    grid_cells,
    shake,
)

#: 25 stations on a 5 × 5 grid over Seoul (lon 126.85-127.15, lat 37.45-37.65).
LON, LAT = (a.ravel() for a in np.meshgrid(np.linspace(126.85, 127.15, 5), np.linspace(37.45, 37.65, 5)))
VS = np.full(25, 360.0)


def test_rupture_validates_and_gives_rjb() -> None:
    with pytest.raises(ValueError, match="magnitude"):
        Rupture(11.0, 127.0, 37.5)
    r = Rupture(6.5, 127.0, 37.5)
    assert r.rjb_km(np.array([127.0]), np.array([37.6]))[0] == pytest.approx(11.12, abs=0.01)
    # a north-south line rupture: a site due north within half its length is at Rjb 0
    line = Rupture(6.5, 127.0, 37.5, strike_deg=0.0)
    assert line.length_km == pytest.approx(10 ** (-2.44 + 0.59 * 6.5))
    assert line.rjb_km(np.array([127.0]), np.array([37.55]))[0] == pytest.approx(0.0, abs=1e-9)


def test_without_stations_the_field_is_the_model_median() -> None:
    r = Rupture(6.0, 127.0, 37.5, mechanism=Mechanism.REVERSE)
    s = shake(r, LON, LAT, VS)
    direct = BSSA14().evaluate_direct(6.0, r.rjb_km(LON, LAT), VS, Mechanism.REVERSE)
    assert s.motion.pga_g == pytest.approx(direct.pga_g)
    assert s.conditioned_on == 0 and not s.bias


def test_conditioning_honours_stations_and_fades_away_from_them() -> None:
    r = Rupture(5.8, 127.0, 37.33)
    median = shake(r, LON, LAT, VS).motion.pga_g
    observed = median * np.exp(np.random.default_rng(3).normal(0.4, 0.2, 25))  # a hotter event than the model
    st = Stations(LON, LAT, VS, {"PGA": observed})
    at_stations = shake(r, LON, LAT, VS, stations=st)
    assert at_stations.motion.pga_g == pytest.approx(observed, rel=1e-4)
    assert at_stations.bias["PGA"] > 0.2
    assert (at_stations.sigma_ln_pga < 0.2).all()
    # 60 km from every station only the event bias remains and the uncertainty returns to the model's
    far_lon, far_lat = np.array([127.0]), np.array([36.9])
    far = shake(r, far_lon, far_lat, np.array([360.0]), stations=st)
    model = shake(r, far_lon, far_lat, np.array([360.0]))
    assert far.motion.pga_g[0] == pytest.approx(model.motion.pga_g[0] * np.exp(far.bias["PGA"]), rel=1e-3)
    assert far.sigma_ln_pga[0] < model.sigma_ln_pga[0]  # the bias is known now: only phi remains


def test_source_fitted_from_readings_alone() -> None:
    truth = Rupture(5.5, 126.95, 37.52)
    obs = shake(truth, LON, LAT, VS).motion.pga_g * np.exp(np.random.default_rng(5).normal(0.0, 0.15, 25))
    # as the demo's accelerometers report it: peak_ground_acceleration in gal
    fitted = fit_source(Stations.from_pga_gal(LON, LAT, obs * 980.665, 360.0))
    assert abs(fitted.magnitude - 5.5) <= 0.3
    assert np.hypot((fitted.lon - 126.95) * 88.2, (fitted.lat - 37.52) * 111.2) < 6.0
    with pytest.raises(NotEnoughStations, match="at least 3"):
        fit_source(Stations(LON[:2], LAT[:2], VS[:2], {"PGA": obs[:2]}))


def test_grid_cells_take_the_same_field() -> None:
    lon, lat, (rows, cols) = grid_cells((126.76, 37.41, 127.19, 37.71), 500.0)
    assert len(lon) == rows * cols and rows > 60 and cols > 70
    s = shake(Rupture(6.0, 127.0, 37.5), lon, lat, np.full(len(lon), 360.0))
    field = s.motion.pga_g.reshape(rows, cols)
    # strongest near the epicentre, and PGV and SA at every cell too
    r, c = np.unravel_index(np.argmax(field), field.shape)
    assert (
        abs(lon.reshape(rows, cols)[r, c] - 127.0) < 0.01 and abs(lat.reshape(rows, cols)[r, c] - 37.5) < 0.01
    )
    assert s.motion.pgv_cms.shape == s.motion.sa_g[1.0].shape == (rows * cols,)
    with pytest.raises(ValueError):
        grid_cells((127.0, 37.0, 126.0, 38.0))


def test_a_magnitude_outside_the_model_is_a_clear_4xx() -> None:
    with pytest.raises(OutOfModelRange) as err:
        shake(Rupture(2.5, 127.0, 37.5), LON, LAT, VS)
    assert err.value.status == 400 and "3.0-8.5" in err.value.message and err.value.message_ko
