# SPDX-License-Identifier: Apache-2.0
"""Point-in-area lookups: ``geo.areas.area_at`` per request (one version query + STRtree) against a plain
scan of every dong's polygon (the baseline), on Seoul's 425 shipped dongs, both in this run.

    .venv/bin/python bench/areas.py [--lookups 2000]

Issue 4 budgeted 2 ms per lookup for per-request use (it was a timed test; figures belong here).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import shapely

from safecity.app import build_platform
from safecity.geo.areas import area_at, areas_of, geometry_of, locate
from safecity.geo.importer import import_layer
from safecity.geo.seoul import DISTRICTS_FILE, DONGS_FILE, boundary_file
from safecity.settings import MqttSettings, Settings

BUDGET_S = 0.002


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--lookups", type=int, default=2000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        platform = build_platform(Settings(data_dir=Path(tmp), mqtt=MqttSettings(enabled=False)))
        with boundary_file(DISTRICTS_FILE) as districts, boundary_file(DONGS_FILE) as dongs_file:
            import_layer(platform, districts, "districts")
            import_layer(platform, dongs_file, "dongs")
        rng = np.random.default_rng(7)
        lon = rng.uniform(126.85, 127.15, args.lookups)
        lat = rng.uniform(37.45, 37.65, args.lookups)
        with platform.store.engine.connect() as conn:
            area_at(conn, 126.978, 37.566)  # builds the cache
            t0 = time.perf_counter()
            found = [area_at(conn, float(x), float(y), kind="dong") for x, y in zip(lon, lat, strict=True)]
            per = (time.perf_counter() - t0) / args.lookups
            dongs = areas_of(conn, "dong")
            polygons = [geometry_of(conn, d.id) for d in dongs]
            n_scan = min(args.lookups, 300)
            t0 = time.perf_counter()
            for x, y in zip(lon[:n_scan], lat[:n_scan], strict=True):
                p = shapely.Point(float(x), float(y))
                next((d for d, g in zip(dongs, polygons, strict=True) if g is not None and g.covers(p)), None)
            per_scan = (time.perf_counter() - t0) / n_scan
            t0 = time.perf_counter()
            locate(conn, lon, lat)
            per_many = (time.perf_counter() - t0) / args.lookups
        platform.store.close()
    hits = sum(1 for f in found if f is not None)
    print(
        f"area_at: {per * 1e3:.3f} ms per lookup ({hits}/{args.lookups} inside Seoul); budget {BUDGET_S * 1e3:g} ms"
    )
    print(
        f"baseline, scanning every dong polygon: {per_scan * 1e3:.3f} ms per lookup; ratio {per_scan / per:.1f}x"
    )
    print(
        f"locate (many points at once): {per_many * 1e6:.1f} us per point; ratio to area_at {per / per_many:.1f}x"
    )


if __name__ == "__main__":
    main()
