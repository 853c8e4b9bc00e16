# SPDX-License-Identifier: Apache-2.0
"""Lifelines: Hazus power-facility fragilities (PGA) and the pipeline repair rate (PGV)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from safecity.quake.lifelines import facility_damage, pipe_repairs, power_fragility


def test_substation_by_hand() -> None:
    # EP.S.L.A (low-voltage substation, anchored): slight median 0.15 g, beta 0.70 (Hazus 5.1 via DLML)
    p = facility_damage(["EP.S.L.A"], np.array([0.15]))[0]
    assert p.sum() == pytest.approx(1.0)
    assert 1.0 - p[0] == pytest.approx(0.5)  # at the slight median, P(DS >= slight) = 1/2
    frag = power_fragility()
    assert frag.beta[frag.index(["EP.S.L.A"])[0]].tolist() == [0.7, 0.55, 0.45, 0.45]


def test_pipe_repairs_follow_the_hazus_rate() -> None:
    leaks, breaks = pipe_repairs(np.array([30.0, 30.0]), np.array([2.0, 2.0]), np.array([False, True]))
    brittle = 0.0001 * 30.0**2.25 * 2.0
    assert leaks[0] + breaks[0] == pytest.approx(brittle)
    assert leaks[1] + breaks[1] == pytest.approx(0.3 * brittle)
    assert leaks[0] / (leaks[0] + breaks[0]) == pytest.approx(0.8)
    assert math.isclose(float(pipe_repairs(np.array([0.0]), np.array([5.0]), np.array([False]))[0][0]), 0.0)
