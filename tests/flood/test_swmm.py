# SPDX-License-Identifier: Apache-2.0
"""The sewer coupling with the real SWMM engine: the exchange equations' regimes, and a surcharging
culvert (EA Test 8B's network) spilling onto a street and draining back, with every volume booked."""

from __future__ import annotations

import numpy as np
import pytest

from safecity.flood import Domain, FloodModel, Grid
from safecity.flood.drainage import design_rainfall, sewer_capacity_mm_h
from safecity.flood.swmm import Manhole, SewerNetwork, SwmmError, exchange_flow
from tests.conftest import SHARED

INP_8B = SHARED / "data" / "flood" / "ea_test8b" / "test8b_drainage_ponding.inp"


def test_exchange_regimes() -> None:
    mh = Manhole("J", (0, 0))
    # shallow ponding over a free-draining manhole: the weir governs (it is smaller)
    weir = 0.54 * 4.0 * 0.02 * np.sqrt(2 * 9.81 * 0.02)
    assert exchange_flow(0.02, 10.0, 8.0, mh) == pytest.approx(weir)
    # deep ponding: the orifice governs
    assert exchange_flow(0.5, 10.0, 8.0, mh) == pytest.approx(0.167 * np.sqrt(2 * 9.81 * 0.5))
    # head between rim and surface: submerged orifice on the difference
    assert exchange_flow(0.5, 10.0, 10.3, mh) == pytest.approx(0.167 * np.sqrt(2 * 9.81 * 0.2))
    # surcharge: the flow reverses, onto the street
    assert exchange_flow(0.1, 10.0, 10.6, mh) == pytest.approx(-0.167 * np.sqrt(2 * 9.81 * 0.5))
    assert exchange_flow(0.0, 10.0, 9.0, mh) == 0.0


def test_design_rainfall_is_seoul_2022_and_sets_the_sink() -> None:
    table = design_rainfall()
    assert table["citywide"].mm_per_1h == 100.0
    assert table["gangnam_station"].mm_per_1h == 110.0
    assert sewer_capacity_mm_h("gangnam_station", 0.9) == pytest.approx(99.0)
    with pytest.raises(KeyError, match="'busan' unknown"):
        sewer_capacity_mm_h("busan", 0.9)


def test_surcharging_culvert_spills_onto_the_street_and_drains_back() -> None:
    # A 40 × 40 street of 2 m cells around manhole J1, at its rim (29.46 + 2.0 m), falling gently away.
    g = Grid(nx=40, ny=40, dx=2.0)
    x, y = np.meshgrid(g.centres_x(), g.centres_y())
    z = 31.46 + 0.002 * np.hypot(x - 41.0, y + 41.0)
    surface = FloodModel(Domain(grid=g, dem=z, manning=0.02))
    mh = Manhole("J1", (20, 20), orifice_coefficient=1.0)
    net = SewerNetwork(INP_8B, [mh])
    try:
        with net:
            peak_spill = 0.0
            while surface.t < 3.0 * 3600:  # the inflow peaks at ~2 h
                net.couple(surface, surface.t + 60.0)
                peak_spill = max(peak_spill, -net.last_flow("J1"))
        cont = net.continuity()
    finally:
        net.cleanup()
    led = net.ledger
    assert peak_spill > 0.5  # m³/s onto the street at the peak
    assert led.onto_street > 1000.0  # m³
    assert led.into_sewer > 10.0  # some of it drains back as the culvert recedes
    assert led.mismatch == pytest.approx(0.0, abs=1e-6 * led.onto_street)
    # the surface booked exactly what the coupling moved, and its own ledger closes
    s = surface.ledger
    assert s.exchange_in == pytest.approx(led.onto_street, rel=1e-9)
    assert s.exchange_out == pytest.approx(led.into_sewer, rel=1e-9)
    assert abs(s.relative_error()) < 1e-10
    assert abs(cont["Flow Routing Continuity"]) < 1.0


def test_unknown_manhole_is_refused_by_name() -> None:
    with pytest.raises(SwmmError, match="manhole 'J99' is not a node"):
        SewerNetwork(INP_8B, [Manhole("J99", (0, 0))])


def test_sewer_sink_takes_the_design_rain_and_ponds_the_excess() -> None:
    """On a flat closed street with C = 0.9 and Seoul's 100 mm/h sewer: 90 mm/h of rain never ponds; the
    8 August 2022 hour at 신대방동 (141.5 mm/h) ponds exactly by its excess, 0.9 × 41.5 mm."""
    from safecity.flood import Forcing, RainSeries

    g = Grid(nx=10, ny=10, dx=2.0)
    dom = Domain(
        grid=g,
        dem=np.zeros((10, 10)),
        manning=0.02,
        runoff_coefficient=0.9,
        drainage_mm_h=sewer_capacity_mm_h("citywide", 0.9),
    )
    below = FloodModel(dom, Forcing(rain=RainSeries.uniform([0, 3600], [100.0])))
    below.advance(3600.0)
    assert below.h.max() == pytest.approx(0.0, abs=1e-12)
    storm = FloodModel(dom, Forcing(rain=RainSeries.uniform([0, 3600], [141.5])))
    storm.advance(3600.0)
    np.testing.assert_allclose(storm.h, 0.9 * 0.0415, rtol=1e-9)
    assert storm.ledger.drainage == pytest.approx(0.090 * 400.0, rel=1e-9)  # 90 mm over 400 m²
    assert abs(storm.ledger.relative_error()) < 1e-12
