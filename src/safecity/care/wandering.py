# SPDX-License-Identifier: Apache-2.0
"""Wandering detection for people with dementia, from their own history.

A window of recent fixes (30 minutes by default) is scored against the person's usual places (the
100 m cells their history visits) with three measures:

* **loops** θ_WD: the net winding of the path, |Σ turning angles| / 2π, on the path resampled every
  20 m (so that GPS jitter while standing still turns nothing). Circling is the wandering pattern
  Lin et al. (2012, "Detecting wandering behavior based on GPS traces for elders with dementia",
  ICARCV) measure by accumulated turning angles; this is our reading of their θ_WD loop measure (the
  paper's exact normalisation is UNCONFIRMED here).
* **pacing**: direction reversals (turns over 150°) per 100 m walked, for back-and-forth walking that
  does not wind.
* **aimlessness**: 1 − straightness (net displacement / path length).

Each is weighted by how unfamiliar the window's cells are, so that a daily walk round the park (a loop
in a usual place) is not wandering while the same loop in streets the person never visits is. The
weights and the threshold are fixed from a calibration set generated with one seed; the verification
(:func:`verify`) reports AUC and the false-alarm rate on a set generated with another seed
(``safecity care verify-wandering``; the figures are in docs/care.md). Both sets are GENERATED.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

EARTH_M = 6_371_008.8
CELL_M = 100.0
RESAMPLE_M = 20.0
REVERSAL_RAD = math.radians(150)
#: fixes averaged before measuring (a 1.5-minute moving average at one fix per 30 s: longer would fold pacing into one spot)
SMOOTH_FIXES = 3
#: a window in which the person walked less than this is not scored
MIN_WALK_M = 150.0
#: the weights of the score (fixed by reasoning, not fitted: each measure saturates at a value a
#: normal walk does not reach)
W_LOOPS, W_PACING, W_AIMLESS = 0.35, 0.40, 0.25
#: the alarm threshold: ``wandering_data.calibrate(seed=1, false_alarms=0.02)`` (a 2 % target on the
#: calibration set leaves a margin under the 5 % the issue allows on the verification set)
THRESHOLD = 0.095


@dataclass(frozen=True)
class Track:
    """A window of fixes in metres on a local plane around ``origin`` (lon, lat)."""

    x: NDArray[np.float64]
    y: NDArray[np.float64]


def to_plane(lons: Sequence[float], lats: Sequence[float], origin: tuple[float, float]) -> Track:
    lon0, lat0 = origin
    k = math.pi / 180 * EARTH_M
    x = (np.asarray(lons, dtype=np.float64) - lon0) * k * math.cos(math.radians(lat0))
    y = (np.asarray(lats, dtype=np.float64) - lat0) * k
    return Track(x, y)


def familiar_cells(history: Track, min_fixes: int = 3) -> set[tuple[int, int]]:
    """The 100 m cells the person's history visits at least ``min_fixes`` times, and their
    neighbours (a usual route is a band, not a line)."""
    cx = np.floor(history.x / CELL_M).astype(np.int64)
    cy = np.floor(history.y / CELL_M).astype(np.int64)
    cells, counts = np.unique(np.stack([cx, cy], axis=1), axis=0, return_counts=True)
    out: set[tuple[int, int]] = set()
    for (a, b), n in zip(cells.tolist(), counts.tolist(), strict=True):
        if n >= min_fixes:
            out.update((a + i, b + j) for i in (-1, 0, 1) for j in (-1, 0, 1))
    return out


def resample(t: Track, step: float = RESAMPLE_M) -> NDArray[np.float64]:
    """Points every ``step`` metres along the path (jitter below ``step`` collapses to one point)."""
    pts = [(float(t.x[0]), float(t.y[0]))]
    for x, y in zip(t.x[1:].tolist(), t.y[1:].tolist(), strict=True):
        px, py = pts[-1]
        d = math.hypot(x - px, y - py)
        while d >= step:
            px, py = px + (x - px) * step / d, py + (y - py) * step / d
            pts.append((px, py))
            d -= step
    return np.asarray(pts, dtype=np.float64)


@dataclass(frozen=True)
class Measures:
    loops: float  # θ_WD: net full turns
    pacing: float  # reversals per 100 m
    aimless: float  # 1 - straightness
    unfamiliar: float  # share of fixes outside the usual cells
    score: float


def smooth(t: Track, k: int = SMOOTH_FIXES) -> Track:
    """A moving average over ``k`` fixes: GPS jitter while standing still is not walking."""
    if len(t.x) < k:
        return t
    kernel = np.ones(k) / k
    return Track(np.convolve(t.x, kernel, mode="valid"), np.convolve(t.y, kernel, mode="valid"))


def measure(window: Track, familiar: set[tuple[int, int]]) -> Measures:
    pts = resample(smooth(window))
    cells = zip(
        np.floor(window.x / CELL_M).astype(np.int64).tolist(),
        np.floor(window.y / CELL_M).astype(np.int64).tolist(),
        strict=True,
    )
    unfamiliar = float(np.mean([c not in familiar for c in cells])) if len(window.x) else 0.0
    if len(pts) < 4 or RESAMPLE_M * (len(pts) - 1) < MIN_WALK_M:
        return Measures(0.0, 0.0, 0.0, unfamiliar, 0.0)  # hardly moving: not wandering
    d = np.diff(pts, axis=0)
    heading = np.arctan2(d[:, 1], d[:, 0])
    turn = (np.diff(heading) + math.pi) % (2 * math.pi) - math.pi
    length = RESAMPLE_M * len(d)
    loops = abs(float(turn.sum())) / (2 * math.pi)
    pacing = float(np.sum(np.abs(turn))) / (length / 100.0)
    straight = math.hypot(*(pts[-1] - pts[0])) / length
    aimless = 1.0 - straight
    # each measure counts only beyond what walking a city's streets gives (a corner is a quarter turn
    # and leaves a straightness of 0.7; two corners, half a turn): a normal errand scores 0
    pattern = (
        W_LOOPS * _ramp(loops, 0.6, 1.6)
        + W_PACING * _ramp(pacing, 0.5, 1.5)
        + W_AIMLESS * _ramp(aimless, 0.45, 0.85)
    )
    # a pattern in usual places counts little (the park's exercise loop); in unfamiliar ones, fully
    score = pattern * (0.1 + 0.9 * math.sqrt(unfamiliar))
    return Measures(loops, pacing, aimless, unfamiliar, score)


def _ramp(value: float, zero: float, full: float) -> float:
    """0 up to ``zero``, 1 from ``full``, linear between."""
    return min(max((value - zero) / (full - zero), 0.0), 1.0)


def auc(scores: Sequence[float], labels: Sequence[bool]) -> float:
    """Area under the ROC curve (the Mann-Whitney U statistic, ties counted half)."""
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(labels, dtype=bool)
    pos, neg = s[y], s[~y]
    if len(pos) == 0 or len(neg) == 0:
        raise ValueError("AUC needs both wandering and normal windows")
    greater = (pos[:, None] > neg[None, :]).sum()
    ties = (pos[:, None] == neg[None, :]).sum()
    return float((greater + 0.5 * ties) / (len(pos) * len(neg)))
