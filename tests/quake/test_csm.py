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
