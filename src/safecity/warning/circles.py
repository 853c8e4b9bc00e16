# SPDX-License-Identifier: Apache-2.0
"""Circles around the places a targeted warning aims at (:mod:`safecity.warning.targeted`), merged so
that an alert carries few: neighbouring spots' circles become one circle enclosing them."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

#: Most circles one alert carries (judgement: a few dozen shapes is what CAP consumers and broadcast
#: centres are known to take; the Korean 재난문자 centre targets base stations, not shapes at all).
MAX_CIRCLES = 50


@dataclass(frozen=True)
class TargetSpot:
    """One place at risk: a circle of ``radius_km`` around (lon, lat), WGS 84."""

    lon: float
    lat: float
    radius_km: float


def merge_circles(spots: Sequence[TargetSpot], max_circles: int = MAX_CIRCLES) -> list[TargetSpot]:
    """Circles covering every spot's circle, at most ``max_circles``: spots whose circles overlap (or,
    while there are too many, lie within a growing gap of each other) become one circle around their
    centroid, wide enough to enclose each member's circle."""
    if not spots:
        return []
    lat0 = sum(s.lat for s in spots) / len(spots)
    kx = 111.32 * math.cos(math.radians(lat0))  # km per degree of longitude here
    x = np.array([s.lon * kx for s in spots])
    y = np.array([s.lat * 111.32 for s in spots])
    r = np.array([s.radius_km for s in spots])
    d = np.hypot(x[:, None] - x[None, :], y[:, None] - y[None, :])
    gap = 0.0
    while True:
        groups = _components(d <= r[:, None] + r[None, :] + gap)
        if len(groups) <= max_circles:
            break
        gap = max(0.25, 2 * gap)
    out = []
    for g in groups:
        cx, cy = float(x[g].mean()), float(y[g].mean())
        radius = float(np.max(np.hypot(x[g] - cx, y[g] - cy) + r[g]))
        out.append(TargetSpot(cx / kx, cy / 111.32, math.ceil(radius * 100 - 1e-9) / 100))
    return out


def _components(adjacent: np.ndarray[Any, Any]) -> list[list[int]]:
    n = len(adjacent)
    seen = np.zeros(n, dtype=bool)
    groups = []
    for i in range(n):
        if seen[i]:
            continue
        stack, group = [i], []
        seen[i] = True
        while stack:
            k = stack.pop()
            group.append(k)
            for j in np.flatnonzero(adjacent[k] & ~seen):
                seen[j] = True
                stack.append(int(j))
        groups.append(sorted(group))
    return groups
