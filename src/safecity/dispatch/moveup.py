# SPDX-License-Identifier: Apache-2.0
"""Move-up: where the idle units should stand so that the city stays covered, with the fewest moves.

The model is DMEXCLP (Jagtenberg, van der Mei & Bhulai 2017, the dynamic form of Daskin's MEXCLP): a
demand point covered by k units is served in time with probability 1 - q^k, q the chance a unit is busy,
so the k-th covering unit adds d_i (1 - q) q^(k-1). With q = 0 and one level it is Church and ReVelle's
MCLP. It is solved as a mixed-integer program with HiGHS through ``scipy.optimize.milp`` (the solver
the platform already uses for evacuation plans; exact, and fast at city size):

    max  sum_i sum_k d_i (1-q) q^(k-1) y_ik  -  eps * sum_j m_j
    s.t. sum_k y_ik <= sum_j a_ij x_j          (a point is covered k times only by k units in reach)
         sum_j x_j = number of idle units        x_j <= cap_j,  x_j integer
         m_j >= x_j - c_j,  sum_j m_j <= max_moves  (m_j: units moved into site j; c_j: there now)

``eps`` is below the smallest coverage gain, so among the placements with the best coverage the one with
the fewest moves wins (the lexicographic order the dispatcher wants: coverage first, then few moves).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.optimize import Bounds, LinearConstraint, linear_sum_assignment, milp  # type: ignore[import-untyped]
from scipy.sparse import csr_matrix, hstack, vstack  # type: ignore[import-untyped]

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Placement:
    counts: I64  # units per site after the moves
    moves: list[tuple[int, int]]  # (from site, to site), one per unit moved
    objective: float  # expected covered demand (DMEXCLP) after the moves
    before: float  # the same before
    status: str


def expected_coverage(
    covers: npt.NDArray[np.bool_], demand: F64, counts: I64, q: float, levels: int
) -> float:
    """DMEXCLP's objective for a placement: sum_i d_i (1 - q^min(k_i, levels)) (q=0: covered demand)."""
    k = np.minimum(covers.astype(np.int64) @ counts, levels)
    return float((demand * (1 - q**k)).sum()) if q > 0 else float(demand[k > 0].sum())


def move_up(
    covers: npt.NDArray[np.bool_],
    demand: F64,
    current: I64,
    *,
    busy: float = 0.3,
    levels: int = 3,
    max_moves: int = 2,
    capacity: I64 | None = None,
    move_cost: F64 | None = None,
    time_limit_s: float = 5.0,
) -> Placement:
    """The best placement of the idle units ``current`` (count per site) over the sites.

    ``covers[i, j]``: site j reaches demand point i within the target time. ``move_cost[j_from, j_to]``
    (seconds) pairs the units that leave a site with the sites that receive one (fewest total driving).
    """
    n_dem, n_site = covers.shape
    current = np.asarray(current, dtype=np.int64)
    total = int(current.sum())
    cap = np.full(n_site, max(total, 1), dtype=np.int64) if capacity is None else np.asarray(capacity)
    q = busy
    gains = (
        np.array([(1 - q) * q**k for k in range(levels)]) if q > 0 else np.array([1.0] + [0.0] * (levels - 1))
    )
    levels_used = levels if q > 0 else 1
    gains = gains[:levels_used]
    before = expected_coverage(covers, demand, current, q, levels_used)
    if total == 0 or n_dem == 0:
        return Placement(current.copy(), [], before, before, "nothing to place")
    # keep only demand points some site covers (the others add nothing whatever we do)
    useful = covers.any(axis=1) & (demand > 0)
    a = covers[useful].astype(np.float64)
    d = demand[useful]
    n_i = a.shape[0]
    smallest = float((d.min() if d.size else 1.0) * gains[-1]) or 1.0
    eps = smallest / (2.0 * (max_moves + 1))
    # variables: x (n_site), m (n_site), y (n_i * levels_used), y index = i * L + k
    n_x, n_m, n_y = n_site, n_site, n_i * levels_used
    c = np.concatenate([np.zeros(n_x), np.full(n_m, eps), -np.repeat(d, levels_used) * np.tile(gains, n_i)])
    # sum_k y_ik - sum_j a_ij x_j <= 0
    rows_y = csr_matrix(
        (np.ones(n_y), (np.repeat(np.arange(n_i), levels_used), np.arange(n_y))), shape=(n_i, n_y)
    )
    cover_rows = hstack([csr_matrix(-a), csr_matrix((n_i, n_m)), rows_y])
    conserve = hstack([csr_matrix(np.ones((1, n_x))), csr_matrix((1, n_m + n_y))])
    moved = hstack([csr_matrix(np.eye(n_x)), csr_matrix(-np.eye(n_m)), csr_matrix((n_x, n_y))])  # x - m <= c
    budget = hstack([csr_matrix((1, n_x)), csr_matrix(np.ones((1, n_m))), csr_matrix((1, n_y))])
    constraints = [
        LinearConstraint(vstack([cover_rows]).tocsr(), -np.inf, 0.0),
        LinearConstraint(conserve.tocsr(), total, total),
        LinearConstraint(moved.tocsr(), -np.inf, current.astype(np.float64)),
        LinearConstraint(budget.tocsr(), 0.0, float(max_moves)),
    ]
    lower = np.zeros(n_x + n_m + n_y)
    upper = np.concatenate([cap.astype(np.float64), np.full(n_m, float(total)), np.ones(n_y)])
    integrality = np.concatenate([np.ones(n_x), np.zeros(n_m), np.ones(n_y)])
    res = milp(
        c,
        constraints=constraints,
        bounds=Bounds(lower, upper),
        integrality=integrality,
        options={"time_limit": time_limit_s, "disp": False},
    )
    if res.x is None:
        return Placement(current.copy(), [], before, before, f"no solution ({res.message})")
    counts = np.rint(res.x[:n_x]).astype(np.int64)
    after = expected_coverage(covers, demand, counts, q, levels_used)
    if after <= before + 1e-9:  # no gain: nobody moves
        return Placement(current.copy(), [], before, before, "optimal (no move helps)")
    return Placement(
        counts,
        _pair(current, counts, move_cost),
        after,
        before,
        "optimal" if res.status == 0 else str(res.message),
    )


def _pair(current: I64, counts: I64, cost: F64 | None) -> list[tuple[int, int]]:
    """Which surplus site sends a unit to which deficit site (least total driving when costs are given)."""
    givers = [j for j in range(current.shape[0]) for _ in range(max(0, int(current[j] - counts[j])))]
    takers = [j for j in range(current.shape[0]) for _ in range(max(0, int(counts[j] - current[j])))]
    if not givers:
        return []
    if cost is None:
        return list(zip(givers, takers, strict=True))
    m = cost[np.ix_(givers, takers)]
    r, c = linear_sum_assignment(np.where(np.isfinite(m), m, 1e9))
    return [(givers[i], takers[j]) for i, j in zip(r, c, strict=True)]
