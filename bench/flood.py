# SPDX-License-Identifier: Apache-2.0
"""Flood model speed: cell updates per second, and a Gangnam–Seocho-sized catchment against real time.

Part 1 — kernel throughput. One wet grid (``--side``² cells of 2 m, 5–50 cm of water over hummocky
ground, Manning 0.03, rain) is stepped by the numba kernel on one thread, on every thread, and by the
plain numpy implementation of the same scheme (:mod:`safecity.flood.reference`), in the same run, in
interleaved rounds so that a change of the machine's load hits all three alike. Prints cell updates per
second (cells × steps / wall seconds, median of the rounds) and the ratios. Goal (issue 18): numba ≥ 6×
numpy.

Part 2 — a catchment the size of Gangnam and Seocho districts: 5 × 5 km at 2 m (2500 × 2500 = 6.25 M
cells). **The DEM is synthetic** (no Seoul DEM at 2 m is available offline): ground rising from the Han
(north edge, free outflow) at 10 m to 60 m in the south, smooth hills (Gaussian-filtered noise, ±15 m), a
street grid every 100 m cut 0.3 m below the blocks, 30 % of the cells buildings (blocked). Rain: 141.5
mm/h (신대방동's hour on 8 August 2022), runoff coefficient 0.9, the sewer taking 0.9 × 100 mm/h (Seoul's
design rainfall). It starts mid-storm (``--wet-start`` m of water everywhere, default 5 cm) so the time step
is a flood's, not a dry grid's. Runs ``--minutes`` of simulated time on all threads and prints the simulated/real-time
ratio, the steps and their mean Δt, and the volume error. Goal (issue 18): ≥ 60× real time and ≥ 30 M
cell updates/s on this 2-core machine.

The machine is shared: the load average (``uptime``) is printed before and after, and every figure
should be read with it.

    .venv/bin/python bench/flood.py [--side 1000] [--steps 20] [--rounds 5] [--minutes 10] [--catchment-km 5]
                                    [--catchment-dx 2] [--wet-start 0.05] [--skip-catchment]
"""

from __future__ import annotations

import argparse
import os
import time

import numba
import numpy as np
from scipy.ndimage import gaussian_filter  # type: ignore[import-untyped]

from safecity.flood import Domain, Edges, FloodModel, Forcing, Grid, RainSeries, SolverOptions
from safecity.flood.drainage import sewer_capacity_mm_h
from safecity.flood.model import MAX_THREADS


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f}, {five:.2f}, {fifteen:.2f} on {os.cpu_count()} cores"


def wet_grid(side: int, seed: int = 1) -> tuple[Domain, np.ndarray]:
    rng = np.random.default_rng(seed)
    g = Grid(nx=side, ny=side, dx=2.0)
    z = gaussian_filter(rng.normal(0.0, 1.0, (side, side)), 8.0) * 3.0
    h0 = np.clip(0.3 - (z - z.mean()) * 0.5, 0.05, 0.5)
    return Domain(grid=g, dem=z, manning=0.03, edges=Edges(north="free")), h0


def timed_steps(m: FloodModel, steps: int) -> float:
    """Cell updates per second of ``steps`` steps of ``m``."""
    t0 = time.perf_counter()
    for _ in range(steps):
        m.step(1e12)
    return m.domain.grid.cells * steps / (time.perf_counter() - t0)


def catchment(side: int = 2500, dx: float = 2.0, seed: int = 7) -> Domain:
    """The synthetic Gangnam–Seocho-sized catchment described in the module docstring (``side`` cells of ``dx`` m)."""
    rng = np.random.default_rng(seed)
    g = Grid(nx=side, ny=side, dx=dx)
    y = np.linspace(0.0, 1.0, side)[:, None]
    hills = gaussian_filter(rng.normal(0.0, 1.0, (side, side)), 120.0 / dx)
    z = 10.0 + 50.0 * y + 7.5 * hills / hills.std()
    rows = np.arange(side)
    street_r = (rows * dx) % 100.0 < max(12.0, dx)
    street_c = street_r
    street = street_r[:, None] | street_c[None, :]
    z = z - 0.3 * street
    # buildings: whole 8 × 8-cell footprints on 30 % of each block's area, placed on a coarse lattice
    k = max(1, round(16.0 / dx))
    lattice = rng.random((side // k + 1, side // k + 1)) < 0.3
    bld = np.kron(lattice, np.ones((k, k), dtype=bool))[:side, :side] & ~street
    return Domain(
        grid=g,
        dem=z,
        manning=np.where(street, 0.015, 0.05),
        runoff_coefficient=0.9,
        drainage_mm_h=sewer_capacity_mm_h("citywide", 0.9),
        buildings=bld,
        building_mode="blocked",
        edges=Edges(north="free"),
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--side", type=int, default=1000, help="side of the throughput grid, cells")
    ap.add_argument("--steps", type=int, default=20, help="numba steps timed per round (numpy: an eighth)")
    ap.add_argument("--rounds", type=int, default=5, help="rounds interleaving the engines")
    ap.add_argument("--minutes", type=float, default=10.0, help="simulated minutes of the catchment run")
    ap.add_argument(
        "--wet-start",
        type=float,
        default=0.05,
        help="initial depth on every active cell, m: start mid-storm, where the time step is what it is in a flood",
    )
    ap.add_argument("--catchment-km", type=float, default=5.0, help="catchment side, km (5 km: 25 km²)")
    ap.add_argument("--catchment-dx", type=float, default=2.0, help="catchment cell size, m")
    ap.add_argument("--skip-catchment", action="store_true")
    args = ap.parse_args()
    print(f"before: {load()}")
    print(f"numba {numba.__version__}, threading layer default, {MAX_THREADS} threads available")

    dom, h0 = wet_grid(args.side)
    cells = dom.grid.cells
    rain = RainSeries.uniform([0.0, 1e7], [50.0])
    engines = {
        "numba, 1 thread ": SolverOptions(engine="numba", threads=1),
        f"numba, {MAX_THREADS} threads": SolverOptions(engine="numba", threads=MAX_THREADS),
        "numpy reference ": SolverOptions(engine="numpy"),
    }
    models = {k: FloodModel(dom, Forcing(rain=rain), o, h0=h0) for k, o in engines.items()}
    for m in models.values():
        m.step(1e12)  # warm-up: compiles or loads the kernel
    ref_steps = max(2, args.steps // 8)
    print(
        f"\n[1] kernel throughput, {args.side} × {args.side} = {cells / 1e6:.2f} M wet cells; {args.rounds} rounds "
        f"interleaving the engines ({args.steps} steps numba, {ref_steps} numpy per round), medians"
    )
    rates: dict[str, list[float]] = {k: [] for k in engines}
    for _ in range(args.rounds):
        for k, m in models.items():
            rates[k].append(timed_steps(m, ref_steps if "numpy" in k else args.steps))
    med = {k: float(np.median(v)) for k, v in rates.items()}
    for k, v in med.items():
        print(
            f"  {k}: {v / 1e6:8.1f} M cell-updates/s  (rounds: {', '.join(f'{x / 1e6:.1f}' for x in rates[k])})"
        )
    one, two, base = med["numba, 1 thread "], med[f"numba, {MAX_THREADS} threads"], med["numpy reference "]
    print(f"  ratio numba 1 thread / numpy : {one / base:5.1f}x   (goal >= 6x)")
    print(f"  ratio numba {MAX_THREADS} threads / numpy: {two / base:5.1f}x")
    print(f"  thread scaling {MAX_THREADS} / 1        : {two / one:5.2f}x")
    m1, m2 = models["numba, 1 thread "], models[f"numba, {MAX_THREADS} threads"]
    print(
        f"  1- and {MAX_THREADS}-thread runs identical after {m1.steps} steps: {np.array_equal(m1.h, m2.h)}"
    )
    print(f"after part 1: {load()}")

    if args.skip_catchment:
        return
    km, cdx = args.catchment_km, args.catchment_dx
    print(
        f"\n[2] Gangnam–Seocho-sized catchment: {km:g} × {km:g} km at {cdx:g} m, SYNTHETIC DEM (see the docstring)"
    )
    t0 = time.perf_counter()
    cat = catchment(round(args.catchment_km * 1000 / args.catchment_dx), args.catchment_dx)
    rain = RainSeries.uniform([0.0, 3600.0], [141.5])
    h0 = np.where(cat.solver_fields().active == 1, args.wet_start, 0.0)
    model = FloodModel(cat, Forcing(rain=rain), SolverOptions(), h0=h0)
    print(
        f"  {cat.grid.cells / 1e6:.2f} M cells ({int(model.fields.active.sum()) / 1e6:.2f} M active), set up in {time.perf_counter() - t0:.1f} s"
    )
    model.step(1e12)  # warm-up: loads the compiled kernel
    t_sim0, steps0 = model.t, model.steps
    t0 = time.perf_counter()
    target = t_sim0 + args.minutes * 60.0
    while model.t < target:
        model.step(target)
    wall = time.perf_counter() - t0
    sim = model.t - t_sim0
    steps = model.steps - steps0
    rate = cat.grid.cells * steps / wall
    print(f"  simulated {sim / 60:.1f} min in {wall:.1f} s wall: {sim / wall:.2f}x real time   (goal >= 60x)")
    print(f"  {steps} steps, mean dt {sim / steps:.2f} s, last dt limited by h_max = {model.hmax:.3f} m")
    print(f"  {rate / 1e6:.1f} M cell-updates/s on {MAX_THREADS} threads   (goal >= 30 M)")
    print(
        f"  volume error {model.ledger.volume_error():.3e} m³ (relative {model.ledger.relative_error():.1e})"
    )
    wet = model.h > 0.15
    print(f"  cells deeper than 15 cm: {int(wet.sum()):,} ({wet.sum() * cat.grid.cell_area / 1e6:.3f} km²)")
    per_hour = cat.grid.cells * 3600.0 / (sim / steps)
    print(
        f"  at this mean dt a simulated hour is {per_hour / 1e9:.1f} G cell-updates: 60x real time would need "
        f"{per_hour / 60 / 1e6:,.0f} M cell-updates/s"
    )
    print(f"after: {load()}")


if __name__ == "__main__":
    main()
