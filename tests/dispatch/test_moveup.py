# SPDX-License-Identifier: Apache-2.0
"""Coverage and move-up, checked against cases computed by hand (below each test)."""

from __future__ import annotations

import numpy as np
import pytest

from safecity.dispatch.moveup import _pair, expected_coverage, move_up

# Demand points A, B, C, D (weights 10, 6, 5, 3); sites S1 covers A B, S2 covers B C, S3 covers C D.
COVERS = np.array(
    [
        [1, 0, 0],  # A
        [1, 1, 0],  # B
        [0, 1, 1],  # C
        [0, 0, 1],  # D
    ],
    dtype=bool,
)
DEMAND = np.array([10.0, 6.0, 5.0, 3.0])


def test_mclp_one_unit_moves_to_the_site_covering_most() -> None:
    # S1 covers 10 + 6 = 16, S2 6 + 5 = 11, S3 5 + 3 = 8: the unit at S3 moves to S1
    p = move_up(COVERS, DEMAND, np.array([0, 0, 1]), busy=0.0, max_moves=2)
    assert p.counts.tolist() == [1, 0, 0] and p.moves == [(2, 0)]
    assert p.before == 8.0 and p.objective == 16.0


def test_mclp_restores_full_coverage_with_the_fewest_moves() -> None:
    # two units at S3: S1 + S3 covers all 24 with one move; S1 + S2 (21) or two moves would be worse
    p = move_up(COVERS, DEMAND, np.array([0, 0, 2]), busy=0.0, max_moves=2)
    assert p.counts.tolist() == [1, 0, 1] and p.moves == [(2, 0)] and p.objective == 24.0


def test_no_move_allowed_means_no_move() -> None:
    p = move_up(COVERS, DEMAND, np.array([0, 0, 2]), busy=0.0, max_moves=0)
    assert p.counts.tolist() == [0, 0, 2] and p.moves == [] and p.objective == 8.0


def test_dmexclp_counts_the_second_unit_by_the_busy_probability() -> None:
    # q = 0.4: the first covering unit adds 0.6 d, the second 0.24 d.
    #   S1+S3: every point once: 24 x 0.6 = 14.4
    #   S1+S2: A once, B twice, C once: 6 + 6 x 0.84 + 3 = 14.04;  S1+S1: 16 x 0.84 = 13.44
    p = move_up(COVERS, DEMAND, np.array([0, 0, 2]), busy=0.4, levels=2, max_moves=2)
    assert p.counts.tolist() == [1, 0, 1]
    assert p.objective == pytest.approx(14.4)
    assert expected_coverage(COVERS, DEMAND, np.array([1, 1, 0]), 0.4, 2) == pytest.approx(14.04)
    assert expected_coverage(COVERS, DEMAND, np.array([2, 0, 0]), 0.4, 2) == pytest.approx(13.44)


def test_moves_pair_the_sites_with_the_least_driving() -> None:
    # units leave sites 0 and 2 for sites 1 and 3: 0->1 + 2->3 drives 60 + 100 s, 0->3 + 2->1 900 + 500 s
    cost = np.array(
        [[0, 60, 600, 900], [60, 0, 500, 300], [600, 500, 0, 100], [900, 300, 100, 0]], dtype=float
    )
    assert sorted(_pair(np.array([1, 0, 1, 0]), np.array([0, 1, 0, 1]), cost)) == [(0, 1), (2, 3)]
