# SPDX-License-Identifier: Apache-2.0
"""Alert targeting at city scale: which of 10 million subscribed points lie in one district?

Points are spread over Seoul's 25 real district polygons (MOIS 2015,
../shared/data/boundaries/seoulmaps_juso_2015_seoul_municipalities_geo.geojson), each district getting a
share proportional to its registered population (2021 Q2, ../shared/data/population/), uniformly inside
the district (rejection sampling in its bounding box; seeded). The alert area is one real district
polygon (동작구 by default).

Times :meth:`safecity.warning.targeting.TargetIndex.recipients` (median of several runs, after one warm-up;
the index build is printed separately) and a naive loop, ``polygon.contains(Point(x, y))`` per point with
shapely on the unprepared polygon. The naive loop over 10 million points would take minutes, so it is
timed on a random sample (200,000 by default) and scaled linearly to the full count; the script says so.
It also checks that the index finds exactly the points the naive loop finds in the sample.
Targets (issue 5): recipients <= 0.5 s, ratio >= 20x.

    .venv/bin/python bench/targeting.py [--points 10000000] [--district 11590] [--sample 200000] [--runs 7]
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import time
from pathlib import Path

import numpy as np
import shapely
from shapely.geometry import Point, shape
from shapely.geometry.base import BaseGeometry

from safecity.warning.targeting import TargetIndex

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
DISTRICTS = DATA / "boundaries" / "seoulmaps_juso_2015_seoul_municipalities_geo.geojson"
POPULATION = DATA / "population" / "seoul_population_by_admdong_2021Q2.tsv"


def load_districts() -> dict[str, tuple[str, BaseGeometry]]:
    doc = json.loads(DISTRICTS.read_text(encoding="utf-8"))
    return {
        f["properties"]["SIG_CD"]: (f["properties"]["SIG_KOR_NM"], shape(f["geometry"]))
        for f in doc["features"]
    }


def district_population() -> dict[str, int]:
    """Registered residents per district name (the 소계 rows)."""
    out = {}
    with POPULATION.open(encoding="utf-8") as f:
        for row in csv.reader(f, delimiter="\t"):
            if len(row) > 4 and row[2] == "소계":
                out[row[1]] = int(row[4].replace(",", ""))
    return out


def sample_points(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    districts = load_districts()
    pop = district_population()
    names = [name for name, _ in districts.values()]
    weights = np.array([pop.get(name, 0) for name in names], dtype=np.float64)
    if weights.sum() == 0:  # population file unreadable: fall back to uniform by area
        weights = np.array([g.area for _, g in districts.values()])
    counts = np.floor(n * weights / weights.sum()).astype(np.int64)
    counts[: n - int(counts.sum())] += 1
    rng = np.random.default_rng(seed)
    lons, lats = [], []
    for (_, geom), k in zip(districts.values(), counts, strict=True):
        shapely.prepare(geom)
        minx, miny, maxx, maxy = geom.bounds
        got_x: list[np.ndarray] = []
        got_y: list[np.ndarray] = []
        have = 0
        while have < k:
            m = int((k - have) * 2.5) + 1000
            x, y = rng.uniform(minx, maxx, m), rng.uniform(miny, maxy, m)
            keep = shapely.contains_xy(geom, x, y)
            got_x.append(x[keep])
            got_y.append(y[keep])
            have += int(keep.sum())
        lons.append(np.concatenate(got_x)[:k])
        lats.append(np.concatenate(got_y)[:k])
    lon, lat = np.concatenate(lons), np.concatenate(lats)
    order = rng.permutation(len(lon))  # no district order left in the arrays
    return lon[order], lat[order]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--points", type=int, default=10_000_000)
    ap.add_argument("--district", default="11590", help="MOIS code of the alert district (11590 동작구)")
    ap.add_argument("--sample", type=int, default=200_000, help="points timed in the naive loop")
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--seed", type=int, default=5)
    args = ap.parse_args()

    name, area = load_districts()[args.district]
    t0 = time.perf_counter()
    lon, lat = sample_points(args.points, args.seed)
    ids = np.arange(1, len(lon) + 1, dtype=np.int64)
    t1 = time.perf_counter()
    index = TargetIndex(lon, lat, ids)
    t2 = time.perf_counter()
    print(
        f"{len(lon):,} points over Seoul's 25 districts (by 2021 Q2 population); alert area {name} "
        f"({args.district}, {len(shapely.get_coordinates(area)):,} vertices)"
    )
    print(f"  generate {t1 - t0:.1f} s, index build {t2 - t1:.2f} s")

    index.recipients(area)  # warm-up
    times = []
    found = np.empty(0, dtype=np.int64)
    for _ in range(args.runs):
        s = time.perf_counter()
        found = index.recipients(area)
        times.append(time.perf_counter() - s)
    med = statistics.median(times)
    print(f"  recipients(): median {med * 1000:.1f} ms over {args.runs} runs -> {len(found):,} subscriptions")

    rng = np.random.default_rng(args.seed + 1)
    k = min(args.sample, len(lon))
    pick = rng.choice(len(lon), size=k, replace=False)
    s = time.perf_counter()
    naive = [int(ids[i]) for i in pick if area.contains(Point(lon[i], lat[i]))]
    naive_s = time.perf_counter() - s
    scaled = naive_s * len(lon) / k
    same = set(naive) == set(np.intersect1d(found, ids[pick]).tolist())
    print(
        f"  naive loop (Point + polygon.contains per point): {naive_s:.2f} s for a sample of {k:,} points, "
        f"scaled linearly to {len(lon):,}: {scaled:.1f} s"
    )
    print(f"  the index and the naive loop agree on the sample: {same}")
    print(f"  RESULT recipients {med:.3f} s (target <= 0.5 s), ratio {scaled / med:.0f}x (target >= 20x)")


if __name__ == "__main__":
    main()
