# SPDX-License-Identifier: Apache-2.0
"""The capacity-spectrum method's behaviour beyond its hand-computed points (those are in
``safecity quake verify``, case csm-hand, run by tests/quake/test_verify.py): more hysteretic damping
means less displacement, a weak demand stays elastic, a demand past the curve is refused."""

from __future__ import annotations

import pytest

from safecity.quake.csm import CapacityCurve, hazus_sd, modal_height_m, performance_point

CURVE = CapacityCurve(dy=0.01, ay=0.15, du=0.15, au=0.3)


def test_more_hysteretic_damping_less_displacement() -> None:
    points = [performance_point(CURVE, 1.0, 0.4, kappa=k) for k in (0.0, 0.3, 0.6, 1.0)]
    assert all(p.sd > CURVE.dy for p in points)  # this demand yields the building
    assert [p.sd for p in points] == sorted((p.sd for p in points), reverse=True)
    assert points[0].damping == pytest.approx(5.0) and points[-1].damping > points[1].damping > 5.0
    for p in points:  # the point lies on the curve
        assert p.sa == pytest.approx(CURVE.acceleration(p.sd), rel=1e-12)


def test_a_weak_demand_stays_elastic_and_a_strong_one_is_refused() -> None:
    weak = performance_point(CURVE, 0.2, 0.05, kappa=0.5)
    assert weak.sd < CURVE.dy and weak.damping == pytest.approx(5.0)
    with pytest.raises(ValueError, match="exceeds the capacity"):
        performance_point(CapacityCurve(0.001, 0.01, 0.002, 0.01), 3.0, 3.0, kappa=0.0)
    with pytest.raises(ValueError, match="dy < du"):
        CapacityCurve(0.1, 0.1, 0.05, 0.2)
    with pytest.raises(ValueError, match="kappa"):
        performance_point(CURVE, 1.0, 0.4, kappa=2.0)


def test_the_sd_tables_are_all_there() -> None:
    frag = hazus_sd()
    assert len(frag.keys) == 176 and frag.imt == "Sd"
    i = frag.index(["C1L/high"])[0]
    # Table 5-19, C1L high code: Sd 0.90 / 1.80 / 5.40 / 14.40 in over a modal height of 180 in
    assert list(frag.median[i]) == pytest.approx([0.02286, 0.04572, 0.13716, 0.36576])
    assert modal_height_m("C1L", "high") == pytest.approx(180 * 0.0254)


def test_the_chain_uses_the_capacity_spectrum_where_a_curve_exists() -> None:
    import numpy as np

    from safecity.quake.csm import assess_csm, curve_rows, hazus_capacity
    from safecity.quake.damage import assess
    from safecity.quake.inventory import TimeOfDay
    from safecity.quake.register import read_register
    from tests.quake.test_damage import CSV

    inv = read_register(CSV)  # URML pre-code, C2M moderate code, C3H low code
    rows, frag_rows = curve_rows(inv.hazus_type, inv.code_level)
    curves = hazus_capacity()
    assert rows[0] == -1 and frag_rows[0] == -1  # pre-code: no curve shipped, PGA it stays
    assert curves.keys[rows[1]] == "C2M/moderate"
    # C3 has a low-code curve but the shipped Sd tables (Hazus 6.1) give it at pre-code only: PGA too
    assert "C3H/low" in curves.keys and "C3H/low" not in hazus_sd().keys and rows[2] == -1
    pga, sas, sa1 = np.full(3, 0.4), np.full(3, 0.9), np.full(3, 0.5)
    by_pga = assess(inv, pga, time_of_day=TimeOfDay.DAY)
    by_csm = assess(inv, pga, method="csm", spectra=(sas, sa1), magnitude=6.5)
    assert by_csm.csm_buildings == 1 and by_pga.csm_buildings == 0
    for i in (0, 2):  # the others: unchanged
        assert by_csm.probabilities[i] == pytest.approx(by_pga.probabilities[i])
    assert by_csm.probabilities.sum(axis=1) == pytest.approx(np.ones(3))
    # the C2M's states are those of its performance point on the Sd fragilities
    mask, ex = assess_csm(inv.hazus_type, inv.code_level, sas, sa1, 6.5)
    assert list(mask) == [False, True, False]
    point = performance_point(curves.curve("C2M/moderate"), 0.9, 0.5, kappa=0.4, elastic_pct=8.5)
    frag = hazus_sd()
    want = frag.exceedance(np.array([point.sd]), frag.index(["C2M/moderate"]))[0]
    assert ex[0] == pytest.approx(want, rel=1e-8)
    assert by_csm.probabilities[1, 4] == pytest.approx(want[3], rel=1e-8)
    # stronger shaking, more damage; no shaking, none
    worse = assess(inv, pga, method="csm", spectra=(2 * sas, 2 * sa1), magnitude=6.5)
    assert worse.probabilities[1, 4] > by_csm.probabilities[1, 4]
    calm = assess(inv, np.zeros(3), method="csm", spectra=(np.zeros(3), np.zeros(3)), magnitude=6.5)
    assert calm.probabilities[:, 0] == pytest.approx(np.ones(3))
    with pytest.raises(ValueError, match="SA"):
        assess(inv, pga, method="csm")
    with pytest.raises(ValueError, match="method"):
        assess(inv, pga, method="hazus")
