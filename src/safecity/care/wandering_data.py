# SPDX-License-Identifier: Apache-2.0
"""A GENERATED, labelled set of walks of older people for verifying wandering detection.

Nothing here is observed data. Each generated person has a home, three usual places and a park, and a
history of 14 days of trips between them (walking 1.2 m/s, a fix every 30 s, GPS noise σ = 6 m). Each
30-minute window is labelled:

* normal: a trip to a usual place and staying there; staying home; exercise loops round the usual
  park (known loops in a usual place); a trip by a parallel street; an errand straight to a new place;
* wandering: circling (loops) in streets the person does not use; pacing back and forth; an aimless
  walk (a correlated random walk with large turns) drifting away from the usual places.

The proportions and shapes are our assumptions about what a tracker would show, not measurements.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.random import Generator

from safecity.care.wandering import Track, auc, familiar_cells, measure

WALK_MS = 1.2
FIX_S = 30.0
NOISE_M = 6.0
WINDOW_FIXES = 60  # 30 minutes


@dataclass(frozen=True)
class Window:
    person: int
    kind: str
    wandering: bool
    track: Track


def _route(a: np.ndarray, b: np.ndarray, x_first: bool) -> np.ndarray:
    corner = np.array([b[0], a[1]]) if x_first else np.array([a[0], b[1]])
    return np.array([a, corner, b], dtype=np.float64)


def _walk(poly: np.ndarray, n: int, rng: Generator, start_s: float = 0.0) -> np.ndarray:
    """``n`` fixes walking along a polyline (then standing at its end), with GPS noise."""
    seg = np.diff(poly, axis=0)
    lengths = np.hypot(seg[:, 0], seg[:, 1])
    cum = np.concatenate([[0.0], np.cumsum(lengths)])
    dist = np.minimum(start_s + WALK_MS * FIX_S * np.arange(n), cum[-1])
    idx = np.clip(np.searchsorted(cum, dist, side="right") - 1, 0, len(seg) - 1)
    frac = np.where(lengths[idx] > 0, (dist - cum[idx]) / np.where(lengths[idx] > 0, lengths[idx], 1), 0)
    pts: np.ndarray = poly[idx] + seg[idx] * frac[:, None]
    return pts + rng.normal(0, NOISE_M, pts.shape)


def _circle(
    center: np.ndarray, radius: float, laps: float, n: int, rng: Generator, drift: np.ndarray
) -> np.ndarray:
    total = 2 * math.pi * laps
    ang = np.linspace(0, total, n) * rng.choice([-1, 1])
    pts = center + radius * np.stack([np.cos(ang), np.sin(ang)], axis=1)
    pts += np.linspace(0, 1, n)[:, None] * drift
    return pts + rng.normal(0, NOISE_M, pts.shape)


def _track(pts: np.ndarray) -> Track:
    return Track(pts[:, 0].copy(), pts[:, 1].copy())


def person(pid: int, rng: Generator) -> tuple[Track, list[Window]]:
    home = np.zeros(2)
    places = [
        rng.uniform(300, 1200) * np.array([math.cos(a), math.sin(a)]) for a in rng.uniform(0, 2 * math.pi, 3)
    ]
    park = places[0]
    routes = [(p, bool(rng.integers(2))) for p in places]
    history: list[np.ndarray] = []
    for _ in range(14):
        for p, xf in routes:
            there = _walk(_route(home, p, xf), 60, rng)
            back = _walk(_route(p, home, not xf), 60, rng)
            history += [there, back]
        history.append(_circle(park, 80, 2, 60, rng, np.zeros(2)))
    windows: list[Window] = []

    def add(kind: str, wandering: bool, pts: np.ndarray) -> None:
        windows.append(Window(pid, kind, wandering, _track(pts[:WINDOW_FIXES])))

    for p, xf in routes:
        add("trip to a usual place", False, _walk(_route(home, p, xf), WINDOW_FIXES, rng))
        add("trip home", False, _walk(_route(p, home, not xf), WINDOW_FIXES, rng))
    add("staying home", False, _walk(np.array([home, home]), WINDOW_FIXES, rng))
    add("staying at a usual place", False, _walk(np.array([places[1], places[1]]), WINDOW_FIXES, rng))
    for laps in (1.5, 2.5):
        add(
            "exercise loops in the usual park",
            False,
            _circle(park, rng.uniform(60, 100), laps, WINDOW_FIXES, rng, np.zeros(2)),
        )
    p, xf = routes[2]
    offset = np.array([0.0, 100.0]) if xf else np.array([100.0, 0.0])
    add(
        "trip by a parallel street",
        False,
        _walk(_route(home, p, xf) + offset * np.array([0, 1, 0])[:, None], WINDOW_FIXES, rng),
    )
    for _ in range(2):
        far = rng.uniform(800, 1500) * np.array([math.cos(a := rng.uniform(0, 2 * math.pi)), math.sin(a)])
        add("errand straight to a new place", False, _walk(np.array([home, far]), WINDOW_FIXES, rng))
        add(
            "errand to a new place round a corner",
            False,
            _walk(_route(home, far, bool(rng.integers(2))), WINDOW_FIXES, rng),
        )
        mid = far * rng.uniform(0.3, 0.7)
        two = np.array([home, [mid[0], 0.0], [mid[0], far[1]], far])
        add("errand to a new place round two corners", False, _walk(two, WINDOW_FIXES, rng))
    # wandering
    for _ in range(2):
        start = rng.uniform(400, 1400) * np.array([math.cos(a := rng.uniform(0, 2 * math.pi)), math.sin(a)])
        add(
            "circling in unused streets",
            True,
            _circle(
                start, rng.uniform(40, 120), rng.uniform(1.5, 3), WINDOW_FIXES, rng, rng.normal(0, 150, 2)
            ),
        )
    for _ in range(2):
        start = rng.uniform(300, 1200) * np.array([math.cos(a := rng.uniform(0, 2 * math.pi)), math.sin(a)])
        end = start + rng.uniform(80, 200) * np.array(
            [math.cos(b := rng.uniform(0, 2 * math.pi)), math.sin(b)]
        )
        add(
            "pacing back and forth",
            True,
            _walk(np.array([start, end, start, end, start, end, start, end, start]), WINDOW_FIXES, rng),
        )
    for _ in range(2):
        heading = rng.uniform(0, 2 * math.pi)
        pos = places[int(rng.integers(3))].copy()
        pts = []
        for _ in range(WINDOW_FIXES):
            heading += rng.normal(0, 0.7)
            pos = pos + WALK_MS * FIX_S * rng.uniform(0.6, 1.0) * np.array(
                [math.cos(heading), math.sin(heading)]
            )
            pts.append(pos.copy())
        add("aimless walk", True, np.array(pts) + rng.normal(0, NOISE_M, (WINDOW_FIXES, 2)))
    return _track(np.concatenate(history)), windows


@dataclass(frozen=True)
class Verification:
    seed: int
    people: int
    windows: int
    wandering: int
    auc: float
    false_alarm_rate: float
    detection_rate: float
    by_kind: dict[str, tuple[int, int]]  # kind -> (windows, alarms)


def verify(seed: int = 2, people: int = 20, threshold: float | None = None) -> Verification:
    """Score every window of a generated set against its person's own history."""
    from safecity.care.wandering import THRESHOLD

    limit = THRESHOLD if threshold is None else threshold
    rng = np.random.default_rng(seed)
    scores: list[float] = []
    labels: list[bool] = []
    by_kind: dict[str, tuple[int, int]] = {}
    for pid in range(people):
        history, windows = person(pid, rng)
        familiar = familiar_cells(history)
        for w in windows:
            s = measure(w.track, familiar).score
            scores.append(s)
            labels.append(w.wandering)
            n, alarms = by_kind.get(w.kind, (0, 0))
            by_kind[w.kind] = (n + 1, alarms + int(s >= limit))
    arr, lab = np.asarray(scores), np.asarray(labels)
    return Verification(
        seed,
        people,
        len(scores),
        int(lab.sum()),
        auc(scores, labels),
        float(np.mean(arr[~lab] >= limit)),
        float(np.mean(arr[lab] >= limit)),
        by_kind,
    )


def calibrate(seed: int = 1, people: int = 20, false_alarms: float = 0.02) -> float:
    """The lowest threshold giving at most ``false_alarms`` on the calibration set (seed 1)."""
    rng = np.random.default_rng(seed)
    normal: list[float] = []
    for pid in range(people):
        history, windows = person(pid, rng)
        familiar = familiar_cells(history)
        normal += [measure(w.track, familiar).score for w in windows if not w.wandering]
    return float(np.quantile(normal, 1 - false_alarms))
