# SPDX-License-Identifier: Apache-2.0
"""The surface model's contracts: the compiled kernel equals the numpy reference, volumes balance with
every source and sink switched on, buildings block or shed water, bad input is refused by name."""

from __future__ import annotations

import numpy as np
import pytest

from safecity.flood import (
    Domain,
    DomainError,
    Edges,
    FloodModel,
    Forcing,
    ForcingError,
    Grid,
    Hydrograph,
    Inflow,
    RainSeries,
    SolverOptions,
    line_cells,
)
from safecity.flood.model import stable_alpha


def _catchment(buildings: np.ndarray | None = None, mode: str = "blocked") -> Domain:
    """A 40 × 30 tilted street grid with a depression, rough and smooth cells, soil and sewer sinks."""
    g = Grid(nx=40, ny=30, dx=2.0, x_min=0.0, y_max=60.0)
    x, y = np.meshgrid(g.centres_x(), g.centres_y())
    z = (
        0.01 * x
        + 0.3 * np.exp(-((x - 40) ** 2 + (y - 30) ** 2) / 50.0)
        - 0.4 * np.exp(-((x - 20) ** 2 + (y - 20) ** 2) / 30.0)
    )
    n = np.where((x > 30) & (x < 36), 0.015, 0.05)
    return Domain(
        grid=g,
        dem=z,
        manning=n,
        runoff_coefficient=np.where(x > 60, 0.3, 0.9),
        infiltration_mm_h=np.where(x > 60, 10.0, 0.0),
        drainage_mm_h=np.where(x < 20, 30.0, 0.0),
        buildings=buildings,
        building_mode=mode,  # type: ignore[arg-type]
        edges=Edges(west="free", south="free"),
    )


def _forcing(dom: Domain) -> Forcing:
    rain = RainSeries.uniform([0.0, 120.0, 300.0, 420.0], [80.0, 140.0, 20.0])
    inflow = Inflow(
        "culvert", ((5, 35),), Hydrograph(np.array([0.0, 60.0, 200.0, 400.0]), np.array([0.0, 0.5, 0.5, 0.0]))
    )
    line = Inflow(
        "line",
        line_cells(dom.grid, "N", 10.0, 30.0),
        Hydrograph(np.array([100.0, 300.0]), np.array([0.2, 0.2])),
    )
    return Forcing(rain=rain, inflows=(inflow, line))


def test_numba_kernel_equals_numpy_reference() -> None:
    b = np.zeros((30, 40), dtype=bool)
    b[12:16, 25:29] = True
    dom = _catchment(b)
    runs = []
    for engine in ("numba", "numpy"):
        m = FloodModel(dom, _forcing(dom), SolverOptions(engine=engine))
        m.advance(600.0)
        runs.append(m)
    a, r = runs
    assert a.steps == r.steps > 50
    np.testing.assert_allclose(a.h, r.h, rtol=0, atol=1e-12)
    np.testing.assert_allclose(a.qx, r.qx, rtol=0, atol=1e-12)
    np.testing.assert_allclose(a.qy, r.qy, rtol=0, atol=1e-12)
    assert a.ledger.outflow == pytest.approx(r.ledger.outflow, rel=1e-10)


def test_volumes_balance_with_every_source_and_sink() -> None:
    dom = _catchment()
    m = FloodModel(dom, _forcing(dom))
    m.advance(900.0)
    led = m.ledger
    # every term is exercised, so a term booked wrongly would show in the error
    assert min(led.rain, led.inflow, led.infiltration, led.drainage, led.outflow) > 1.0
    assert abs(led.relative_error()) < 1e-12
    assert np.all(m.h >= 0.0)
    # the rain booked is the rain given: depth × runoff coefficient × area
    rc = np.asarray(dom.runoff_coefficient)
    expected = (80 * 120 + 140 * 180 + 20 * 120) / 3.6e6 * float(rc.sum()) * dom.grid.cell_area
    assert led.rain == pytest.approx(expected, rel=1e-12)
    assert led.inflow == pytest.approx(0.5 * 60 / 2 + 0.5 * 140 + 0.5 * 200 / 2 + 0.2 * 200, rel=1e-12)


def test_blocked_buildings_stay_dry_and_raised_ones_shed_their_rain() -> None:
    b = np.zeros((30, 40), dtype=bool)
    b[12:16, 25:29] = True
    blocked = FloodModel(_catchment(b, "blocked"), Forcing(rain=RainSeries.uniform([0, 300], [100.0])))
    blocked.advance(300.0)
    assert np.all(blocked.h[b] == 0.0)
    raised = FloodModel(_catchment(b, "raised"), Forcing(rain=RainSeries.uniform([0, 300], [100.0])))
    raised.advance(600.0)
    # roofs 5 m up drain onto the street: less than a film stays on them, and the ledger still closes
    assert raised.h[b].max() < 2e-3
    assert raised.ledger.rain > blocked.ledger.rain
    assert abs(raised.ledger.relative_error()) < 1e-12


def test_gridded_rain_falls_where_it_is_given() -> None:
    g = Grid(nx=20, ny=10, dx=5.0)
    frames = np.zeros((1, 10, 20))
    frames[0, :, :10] = 60.0  # rain on the western half only
    m = FloodModel(
        Domain(grid=g, dem=np.zeros((10, 20)), manning=0.05),
        Forcing(rain=RainSeries(np.array([0.0, 60.0]), frames)),
    )
    m.advance(60.0)
    assert m.ledger.rain == pytest.approx(60 / 3.6e6 * 60 * 100 * 25.0)
    assert m.h[:, :5].mean() > 10 * m.h[:, 15:].mean()


def test_free_edge_lets_water_out_and_closed_edge_does_not() -> None:
    g = Grid(nx=30, ny=3, dx=1.0)
    z = np.tile(np.linspace(0.3, 0.0, 30), (3, 1))
    h0 = np.full((3, 30), 0.1)
    closed = FloodModel(Domain(grid=g, dem=z, manning=0.03), h0=h0)
    closed.advance(60.0)
    free = FloodModel(Domain(grid=g, dem=z, manning=0.03, edges=Edges(east="free")), h0=h0)
    free.advance(60.0)
    assert closed.ledger.outflow == 0.0
    assert free.ledger.outflow > 0.5
    assert abs(free.ledger.relative_error()) < 1e-12


def test_stability_limit_of_the_theta_scheme() -> None:
    assert stable_alpha(1.0, two_d=True) == pytest.approx(2**-0.5)
    assert stable_alpha(0.7, two_d=True) == pytest.approx(0.5916, abs=1e-4)
    assert stable_alpha(0.7, two_d=False) == pytest.approx(0.8367, abs=1e-4)


def test_bad_input_is_refused_by_name() -> None:
    g = Grid(nx=4, ny=3, dx=1.0)
    with pytest.raises(DomainError, match="manning: shape"):
        Domain(grid=g, dem=np.zeros((3, 4)), manning=np.zeros((4, 3)))
    with pytest.raises(DomainError, match="runoff_coefficient: must be ≤ 1"):
        Domain(grid=g, dem=np.zeros((3, 4)), runoff_coefficient=1.5)
    with pytest.raises(DomainError, match="dem: has NaN"):
        Domain(grid=g, dem=np.full((3, 4), np.nan))
    with pytest.raises(ForcingError, match="rain: 3 times need 2 rates"):
        RainSeries.uniform([0, 1, 2], [1.0])
    with pytest.raises(ForcingError, match="intensities must be finite and ≥ 0"):
        RainSeries.uniform([0, 1], [-1.0])
    with pytest.raises(ForcingError, match="edge 'X'"):
        line_cells(g, "X", 0, 1)
    with pytest.raises(DomainError, match="outside the grid"):
        g.cell_of(10.0, 10.0)


def test_land_cover_sets_the_ground_and_the_park_soaks_up_what_the_road_sheds() -> None:
    from safecity.flood.landcover import ground_fields, land_cover_table

    table = land_cover_table()
    assert table["road"].manning == 0.02 and table["park"].infiltration_mm_h > 0
    classes = np.array([["road"] * 10 + ["park"] * 10] * 5)
    gf = ground_fields(classes)
    assert (
        gf.manning[0, 0] == table["road"].manning
        and gf.runoff_coefficient[0, 15] == table["park"].runoff_coefficient
    )
    g = Grid(nx=20, ny=5, dx=2.0)
    dom = Domain(
        grid=g,
        dem=np.zeros((5, 20)),
        manning=gf.manning,
        runoff_coefficient=gf.runoff_coefficient,
        infiltration_mm_h=gf.infiltration_mm_h,
    )
    m = FloodModel(dom, Forcing(rain=RainSeries.uniform([0, 1800], [60.0])))
    m.advance(1800.0)
    assert m.ledger.infiltration > 0.0 and abs(m.ledger.relative_error()) < 1e-12
    assert m.h[:, :10].mean() > m.h[:, 10:].mean()
    with pytest.raises(KeyError, match="'lava'"):
        ground_fields(np.array([["lava"]]))
