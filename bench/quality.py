# SPDX-License-Identifier: Apache-2.0
"""Quality control throughput: one batch of 100,000 readings from 1,000 streams through
``QualityControl.check_batch`` against the same readings checked one call per row (the baseline), both
in this run.

    .venv/bin/python bench/quality.py [--rows 100000] [--streams 1000]

The budget (30 µs a row) only catches an accidental O(n²); it was a timed test, figures belong here.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from safecity.sensing.quality import QCConfig, QualityControl, StreamRules

T0 = 1_750_000_000_000_000  # µs since epoch
MIN = 60_000_000  # one minute in µs
BUDGET_S = 30e-6


def _warmed(n_streams: int, rng: np.random.Generator) -> QualityControl:
    qc = QualityControl(QCConfig())
    for s in range(n_streams):
        qc.warm(s, (20 + rng.normal(0, 1, 30)).tolist(), last_time_us=T0)
    return qc


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--streams", type=int, default=1000)
    args = ap.parse_args()
    n, n_streams = args.rows, args.streams
    rng = np.random.default_rng(0)
    ids = np.tile(np.arange(n_streams), n // n_streams).tolist()
    times = (T0 + (np.arange(len(ids)) // n_streams + 1) * MIN).tolist()
    vals = (20 + rng.normal(0, 1, len(ids))).round(1).tolist()
    rules = {s: StreamRules(mad_floor=0.2) for s in range(n_streams)}

    batched = _warmed(n_streams, np.random.default_rng(1))
    start = time.perf_counter()
    batched.check_batch(ids, times, vals, times[-1], {}, rules=rules)
    per_row_batched = (time.perf_counter() - start) / len(ids)

    single = _warmed(n_streams, np.random.default_rng(1))
    start = time.perf_counter()
    for i, t, v in zip(ids, times, vals, strict=True):
        single.check_batch([i], [t], [v], times[-1], {}, rules=rules)
    per_row_single = (time.perf_counter() - start) / len(ids)

    print(f"quality control, {len(ids):,} rows from {n_streams:,} streams")
    print(f"  batched:          {per_row_batched * 1e6:8.2f} µs/row")
    print(f"  one row per call: {per_row_single * 1e6:8.2f} µs/row (baseline)")
    print(f"  ratio baseline/batched: {per_row_single / per_row_batched:.1f}x")
    verdict = "within" if per_row_batched <= BUDGET_S else "OVER"
    print(f"  budget {BUDGET_S * 1e6:.0f} µs/row: {verdict}")


if __name__ == "__main__":
    main()
