# SPDX-License-Identifier: Apache-2.0
"""The generated Seoul inventory reproduces the published totals, stays inside the district polygons it
is given, matches each district's population and is the same for the same seed."""

from __future__ import annotations

from functools import cache

import numpy as np
import shapely

from safecity.demo.city import DemoCity, build_city
from safecity.quake.generate import DistrictArea, generate_seoul
from safecity.quake.inventory import Inventory, TimeOfDay, catalogue

#: Published figures the inventory must reproduce (data/seoul_inventory.toml).
TOTAL = 592_463
SEISMIC_SHARE = 0.199


@cache
def _city() -> DemoCity:
    return build_city()


def _districts() -> list[DistrictArea]:
    return [DistrictArea(d.code, d.polygon, d.population) for d in _city().districts]


@cache
def _seoul() -> Inventory:
    return generate_seoul(_districts())


def test_totals_are_the_published_ones() -> None:
    inv = _seoul()
    assert len(inv) == TOTAL
    assert inv.generated and "synthetic" in inv.source
    # 19.9 % to the published precision, and exactly the rounded count
    assert int(inv.seismic_design.sum()) == round(SEISMIC_SHARE * TOTAL)
    assert round(100 * inv.seismic_design.mean(), 1) == 19.9


def test_shares_by_use_follow_the_data_file() -> None:
    inv = _seoul()
    groups = np.array([u.group for u in catalogue().uses])[inv.use - 1]
    share = {str(g): float((groups == g).mean()) for g in np.unique(groups)}
    assert abs(share["residential_detached"] - 0.40) < 0.005
    assert abs(share["residential_multi"] - 0.34) < 0.005
    assert abs(share["commercial"] - 0.19) < 0.005


def test_buildings_lie_in_their_districts_and_residents_match_population() -> None:
    inv = _seoul()
    residential = np.isin(inv.use, [1, 2])
    for d in _city().districts:
        sel = inv.district == d.code
        assert sel.any()
        assert shapely.contains_xy(d.polygon, inv.lon[sel], inv.lat[sel]).all(), d.code
        residents = inv.occupants[sel & residential, TimeOfDay.NIGHT].sum()
        assert abs(residents - d.population) < 1e-6 * d.population, d.code


def test_same_seed_same_inventory() -> None:
    a = generate_seoul(_districts(), total=3000, seed=7)
    b = generate_seoul(_districts(), total=3000, seed=7)
    c = generate_seoul(_districts(), total=3000, seed=8)
    assert np.array_equal(a.lon, b.lon) and np.array_equal(a.hazus_type, b.hazus_type)
    assert not np.array_equal(a.lon, c.lon)
    assert int(a.seismic_design.sum()) == round(SEISMIC_SHARE * 3000)
