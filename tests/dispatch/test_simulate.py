# SPDX-License-Identifier: Apache-2.0
"""The simulated day: the same calls for every policy, the move-up enumeration equal to the MILP, and the
judged figure: recommender + move-up leaves at least 10 % fewer calls over 7 minutes than closest-idle."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from functools import cache
from pathlib import Path

import numpy as np
import pytest

from safecity.dispatch.city import SimCity, seoul_city
from safecity.dispatch.moveup import expected_coverage, move_up
from safecity.dispatch.simulate import best_single_move, make_calls, simulate

ROOT = Path(__file__).resolve().parents[2]


@cache
def city() -> SimCity:
    return seoul_city()


def test_the_city_is_seoul_sized_and_labelled_generated() -> None:
    c = city()
    assert 110 <= len(c.stations) <= 135  # one 119 safety centre per ~80,000 residents
    assert int(c.ambulances_at.sum()) == 165
    assert c.demand.weight.sum() == pytest.approx(9_795_426, rel=1e-6)  # 2021 Q2 residents
    assert (c.demand.node >= 0).all()
    assert "generated" in c.label


def test_every_policy_sees_the_same_calls() -> None:
    a, b = make_calls(city(), 5), make_calls(city(), 5)
    assert a == b and 1_450 < sum(1 for x in a if x.kind == "ems") < 1_600
    assert make_calls(city(), 6) != a


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_single_move_enumeration_equals_the_milp(seed: int) -> None:
    rng = np.random.default_rng(seed)
    pts, sites = rng.uniform(0, 10, (60, 2)), rng.uniform(0, 10, (15, 2))
    covers = np.linalg.norm(pts[:, None] - sites[None], axis=2) < 2.5
    demand = rng.uniform(1, 10, 60)
    counts = rng.integers(0, 3, 15)
    move = best_single_move(covers, demand, counts, 0.3, levels=3)
    milp = move_up(covers, demand, counts, busy=0.3, levels=3, max_moves=1)
    if move is None:
        assert milp.moves == []
    else:
        after = counts.copy()
        after[move[0]] -= 1
        after[move[1]] += 1
        assert expected_coverage(covers, demand, after, 0.3, 3) == pytest.approx(milp.objective, rel=1e-9)


def test_recommender_with_move_up_beats_closest_idle_by_ten_percent() -> None:
    results = {p: simulate(city(), p, 1) for p in ("closest", "recommend", "moveup")}
    assert {r["calls"] for r in results.values()} == {results["closest"]["calls"]}
    over = {p: r["over_7min"] for p, r in results.items()}
    assert over["moveup"] <= 0.9 * over["closest"], over
    assert over["recommend"] < over["closest"], over
    assert results["moveup"]["moves"] > 0 and results["closest"]["moves"] == 0


def test_the_command_prints_json() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "safecity",
            "dispatch",
            "simulate",
            "--policy",
            "closest",
            "--seed",
            "1",
            "--json",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert 0 < out["within_7min_share"] < 1 and out["p90_response_min"] > out["mean_response_min"] > 0
    assert 0 < out["utilisation"] < 1 and out["policy"] == "closest"
    bad = subprocess.run(
        [sys.executable, "-m", "safecity", "dispatch", "simulate", "--policy", "fastest"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert bad.returncode == 2 and "--policy" in bad.stderr
