# SPDX-License-Identifier: Apache-2.0
"""Quality control flags: each flag fires on a constructed series and stays quiet on a normal one."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from safecity.sensing.catalogue import load_catalogue
from safecity.sensing.quality import (
    QCConfig,
    QCFlag,
    QualityControl,
    StreamRules,
    flags_to_quality,
    quality_to_flags,
)

T0 = 1_750_000_000_000_000  # µs since epoch
MIN = 60_000_000  # one minute in µs
OOR, SPIKE, FLAT, FUTURE, LATE = (
    int(QCFlag.OUT_OF_RANGE),
    int(QCFlag.SPIKE),
    int(QCFlag.FLATLINE),
    int(QCFlag.FUTURE),
    int(QCFlag.LATE),
)
NOISE = [20.0, 20.3, 19.8, 20.1, 20.4, 19.9, 20.2, 19.7, 20.0, 20.5, 19.6, 20.1]


def run_series(
    qc: QualityControl,
    values: Sequence[float | None],
    *,
    stream: int = 1,
    ranges: Mapping[int, tuple[float, float] | None] | None = None,
    zero_ok: Mapping[int, bool] | None = None,
    rules: Mapping[int, StreamRules] | None = None,
    start_min: int = 0,
    one_by_one: bool = False,
) -> list[int]:
    """Check ``values`` of one stream at 1-min steps; flags per value.

    ``one_by_one``: one row per call (the Python path). Otherwise chunks of 55 rows (the numpy path for
    ≥ 32 rows), each received 1 s after its last row, so that no row is LATE.
    """
    times = [T0 + (start_min + i) * MIN for i in range(len(values))]
    ranges = {} if ranges is None else ranges
    size = 1 if one_by_one else 55
    flags: list[int] = []
    for a in range(0, len(values), size):
        ts, vs = times[a : a + size], list(values[a : a + size])
        flags += qc.check_batch([stream] * len(ts), ts, vs, ts[-1] + 1_000_000, ranges, zero_ok, rules=rules)
    return flags


@pytest.fixture
def qc() -> QualityControl:
    return QualityControl(QCConfig())


def noise(n: int) -> list[float]:
    return [NOISE[i % len(NOISE)] for i in range(n)]


# Both the small-batch (Python) and large-batch (numpy) paths must give these outcomes.
BOTH = pytest.mark.parametrize("one_by_one", [True, False], ids=["python-path", "numpy-path"])


# --- OUT_OF_RANGE --------------------------------------------------------------------------------------


@BOTH
def test_out_of_range(qc: QualityControl, one_by_one: bool) -> None:
    vals: list[float | None] = [*noise(40), 61.0, -90.5, math.nan, math.inf, None, 60.0, -90.0, 20.0]
    rules = {1: StreamRules(spike=False)}  # 60 and -90 after a 20 °C history would be spikes
    flags = run_series(qc, vals, ranges={1: (-90.0, 60.0)}, rules=rules, one_by_one=one_by_one)
    assert flags[:40] == [0] * 40
    assert flags[40:44] == [OOR] * 4
    assert flags[44:] == [0, 0, 0, 0]  # None: no value check; the bounds are inclusive


def test_without_range_only_non_finite_is_out_of_range(qc: QualityControl) -> None:
    flags = run_series(qc, [1e9, -1e9, math.nan, -math.inf], rules={1: StreamRules(spike=False)})
    assert flags == [0, 0, OOR, OOR]


# --- SPIKE ---------------------------------------------------------------------------------------------


@BOTH
def test_spike_fires_on_a_glitch_and_not_on_noise(qc: QualityControl, one_by_one: bool) -> None:
    vals = [*noise(40), 35.0, *noise(40)]
    flags = run_series(qc, vals, ranges={1: (-90.0, 60.0)}, one_by_one=one_by_one)
    assert flags[40] == SPIKE
    assert sum(1 for f in flags if f) == 1


@BOTH
def test_spike_needs_min_history(qc: QualityControl, one_by_one: bool) -> None:
    # 9 values of history (< spike_min_history = 10): no test yet; the 11th value is tested.
    assert run_series(qc, [*noise(9), 35.0], one_by_one=one_by_one)[-1] == 0
    assert run_series(qc, [*noise(10), 35.0], stream=2, one_by_one=one_by_one)[-1] == SPIKE


@BOTH
def test_out_of_range_values_stay_out_of_the_spike_history(qc: QualityControl, one_by_one: bool) -> None:
    # Half the readings are an error code; were they in the history, the median would move to 999.
    vals: list[float | None] = []
    for x in noise(60):
        vals += [x, 999.0]
    flags = run_series(qc, vals, ranges={1: (-90.0, 60.0)}, one_by_one=one_by_one)
    assert flags[0::2] == [0] * 60
    assert flags[1::2] == [OOR] * 60  # not SPIKE: an out-of-range value is not spike-tested


def test_spike_can_be_switched_off(qc: QualityControl) -> None:
    flags = run_series(qc, [*noise(40), 35.0], rules={1: StreamRules(spike=False)})
    assert flags[-1] == 0


def test_mad_floor_from_range_lets_one_sensor_step_pass(qc: QualityControl) -> None:
    flat: list[float | None] = [12.3] * 11
    # Flat history, MAD 0. Floor = 0.001 * span(110) = 0.11, so 6 * 1.4826 * 0.11 ≈ 0.98.
    assert run_series(qc, [*flat, 12.4], ranges={1: (-50.0, 60.0)})[-1] == 0
    assert run_series(qc, [*flat, 13.5], stream=2, ranges={2: (-50.0, 60.0)})[-1] == SPIKE
    # Without a range or rules the floor is tiny and one step is a spike.
    assert run_series(qc, [*flat, 12.4], stream=3)[-1] == SPIKE


def test_relative_mad_floor_scales_with_the_median(qc: QualityControl) -> None:
    rules = {1: StreamRules(mad_floor=0.05, mad_floor_rel=0.1)}
    # Median 1000, floor 100, threshold ≈ 889: a jump to 1500 is fine, to 3000 is a spike.
    base: list[float | None] = [1000.0, 1001.0, 999.0, 1000.0, 1002.0, 998.0] * 3
    assert run_series(qc, [*base, 1500.0], rules=rules)[-1] == 0
    assert run_series(qc, [*base, 3000.0], stream=2, rules={2: rules[1]})[-1] == SPIKE


def test_genuine_step_is_flagged_until_the_median_moves(qc: QualityControl) -> None:
    # Documented limitation: a level shift looks like a spike for about half a window.
    flags = run_series(qc, [*noise(40), *[30.0 + x - 20.0 for x in noise(40)]], ranges={1: (-90.0, 60.0)})
    shifted = flags[40:]
    assert shifted[0] == SPIKE
    assert 10 <= sum(1 for f in shifted if f == SPIKE) <= 16
    assert shifted[-10:] == [0] * 10


# --- rain: the onset of heavy rain is not a spike --------------------------------------------------------

RAIN = [0.0] * 60 + [2.5, 8.0, 15.0, 12.0, 3.0, 0.0, 0.0, 0.5, 0.5, 0.0] + [0.0] * 30


@BOTH
def test_rain_onset_with_catalogue_rules_raises_nothing(qc: QualityControl, one_by_one: bool) -> None:
    spec = load_catalogue().by_key("rainfall_10min")
    flags = run_series(
        qc,
        RAIN,
        ranges={1: spec.valid_range},
        zero_ok={1: spec.qc.flatline_ignores_zero},
        rules={1: StreamRules.from_spec(spec)},
        one_by_one=one_by_one,
    )
    assert flags == [0] * len(RAIN)


def test_why_rain_has_no_spike_test(qc: QualityControl) -> None:
    # With the spike test on, a zero history (median 0, MAD 0) flags the onset: any floor small enough
    # to catch glitches also catches 15 mm in 10 minutes. Hence spike_check = false for rainfall.
    flags = run_series(qc, RAIN, ranges={1: (0.0, 200.0)}, zero_ok={1: True})
    assert flags[60:63] == [SPIKE, SPIKE, SPIKE]


# --- FLATLINE ------------------------------------------------------------------------------------------


@BOTH
def test_flatline_from_the_nth_repeat(qc: QualityControl, one_by_one: bool) -> None:
    rules = {1: StreamRules(spike=False)}
    flags = run_series(qc, [*noise(12), *[17.0] * 15, 18.0], rules=rules, one_by_one=one_by_one)
    run = flags[12:27]
    assert run[:11] == [0] * 11
    assert run[11:] == [FLAT] * 4
    assert flags[27] == 0  # the run is broken
    assert flags[:12] == [0] * 12


def test_flatline_run_continues_across_batches(qc: QualityControl) -> None:
    rules = {1: StreamRules(spike=False)}
    assert run_series(qc, [5.0] * 8, rules=rules) == [0] * 8
    assert run_series(qc, [5.0] * 6, rules=rules, start_min=8) == [0, 0, 0, FLAT, FLAT, FLAT]


def test_flatline_run_continues_across_large_batches(qc: QualityControl) -> None:
    # Chunks of 55 rows: the run starts at row 50 of the first chunk and goes on in the second.
    flags = run_series(qc, [*noise(50), *[5.0] * 15, *noise(40)], rules={1: StreamRules(spike=False)})
    assert flags[50:61] == [0] * 11
    assert flags[61:65] == [FLAT] * 4
    assert flags[65:] == [0] * 40


def test_flatline_at_zero_is_fine_when_zero_is_the_resting_state(qc: QualityControl) -> None:
    zeros: list[float | None] = [0.0] * 40
    assert run_series(qc, zeros, zero_ok={1: True}) == [0] * 40
    assert run_series(qc, zeros, stream=2, zero_ok={2: False}).count(FLAT) == 40 - 11
    # A stuck non-zero value is still stuck.
    assert (
        run_series(qc, [1.5] * 20, stream=3, zero_ok={3: True}, rules={3: StreamRules(spike=False)})[-1]
        == FLAT
    )


def test_flatline_count_per_stream(qc: QualityControl) -> None:
    assert run_series(qc, [3.0] * 100, rules={1: StreamRules(flatline_count=0)}) == [0] * 100
    flags = run_series(qc, [3.0] * 100, stream=2, rules={2: StreamRules(flatline_count=60)})
    assert flags.index(FLAT) == 59


def test_flatline_counts_out_of_range_repeats(qc: QualityControl) -> None:
    flags = run_series(qc, [-999.0] * 12, ranges={1: (-90.0, 60.0)})
    assert flags[-1] == OOR | FLAT


# --- FUTURE and LATE -----------------------------------------------------------------------------------


@pytest.mark.parametrize("n_rows", [1, 64])
def test_future_and_late(qc: QualityControl, n_rows: int) -> None:
    received = T0 + 10_000 * MIN
    offsets_s = [0, 300, 301, -3600, -3601, -86_400]
    expected = [0, 0, FUTURE, 0, LATE, LATE]
    ids, times, vals, want = [], [], [], []
    for k in range(n_rows):  # one stream per row, so sequence rules do not interfere
        for j, (off, exp) in enumerate(zip(offsets_s, expected, strict=True)):
            ids.append(k * 10 + j)
            times.append(received + off * 1_000_000)
            vals.append(1.0)
            want.append(exp)
    assert qc.check_batch(ids, times, vals, received, {}) == want


def test_future_row_does_not_freeze_the_stream(qc: QualityControl) -> None:
    ranges = {1: (-90.0, 60.0)}
    run_series(qc, noise(30), ranges=ranges)
    bad_clock = T0 + 10 * 365 * 24 * 60 * MIN
    received = T0 + 31 * MIN
    assert qc.check_batch([1], [bad_clock], [20.0], received, ranges) == [FUTURE]
    # Later rows with a correct clock are still in sequence and still tested.
    assert run_series(qc, [35.0], ranges=ranges, start_min=31) == [SPIKE]


def test_non_numeric_rows_get_time_checks_only(qc: QualityControl) -> None:
    received = T0
    flags = qc.check_batch(
        [1, 1], [T0 - 2 * 3600 * 1_000_000, T0 - MIN], [None, None], received, {1: (0.0, 1.0)}
    )
    assert flags == [LATE, 0]


# --- sequence, gaps, state -----------------------------------------------------------------------------


def test_resends_and_old_backfill_do_not_touch_the_state(qc: QualityControl) -> None:
    rules = {1: StreamRules(spike=False)}
    assert run_series(qc, [7.0] * 11, rules=rules) == [0] * 11
    # The same last observation resent five times: not counted as further repeats.
    last = T0 + 10 * MIN
    assert qc.check_batch([1] * 5, [last] * 5, [7.0] * 5, last + 1, {}, rules=rules) == [0] * 5
    assert run_series(qc, [7.0], rules=rules, start_min=11) == [FLAT]  # the 12th real repeat


def test_backfill_is_not_spike_tested_against_newer_values(qc: QualityControl) -> None:
    run_series(qc, noise(40), ranges={1: (-90.0, 60.0)}, start_min=100)
    # Yesterday's values (much colder) arrive late: LATE, but not SPIKE.
    old = [T0 + i * MIN for i in range(5)]
    flags = qc.check_batch([1] * 5, old, [5.0] * 5, T0 + 140 * MIN, {1: (-90.0, 60.0)})
    assert flags == [LATE] * 5


def test_stale_history_is_dropped_after_a_gap(qc: QualityControl) -> None:
    ranges = {1: (-90.0, 60.0)}
    run_series(qc, noise(40), ranges=ranges)
    # Four hours later it is 10 degrees colder: not a spike, the old history is stale.
    later = run_series(qc, [10.0, 10.1, 9.9], ranges=ranges, start_min=40 + 240)
    assert later == [0, 0, 0]


def test_warm_seeds_history_flatline_and_time(qc: QualityControl) -> None:
    ranges = {1: (-90.0, 60.0)}
    qc.warm(1, [*noise(30), 18.0, 18.0, 18.0], last_time_us=T0 - MIN)
    assert qc.has_state(1)
    assert run_series(qc, [35.0], ranges=ranges) == [SPIKE]
    qc.warm(2, [*noise(20), 4.0, 4.0, 4.0, 4.0, 4.0, 4.0, 4.0, 4.0, 4.0, 4.0, 4.0], last_time_us=T0)
    assert run_series(qc, [4.0], stream=2, rules={2: StreamRules(spike=False)}, start_min=1) == [FLAT]
    # A resend of the last stored observation is out of order.
    assert qc.check_batch([2], [T0], [4.0], T0, {}) == [0]


def test_forget(qc: QualityControl) -> None:
    run_series(qc, noise(40))
    assert qc.has_state(1)
    qc.forget(1)
    assert not qc.has_state(1)
    qc.forget(1)  # idempotent
    assert run_series(qc, [35.0], start_min=41) == [0]  # no history any more


def test_many_streams_grow_the_state(qc: QualityControl) -> None:
    n = 1000
    for minute in range(15):
        flags = qc.check_batch(
            list(range(n)), [T0 + minute * MIN] * n, [20.0 + (minute % 3) * 0.1] * n, T0 + minute * MIN, {}
        )
        assert flags == [0] * n
    assert all(qc.has_state(s) for s in range(n))
    flags = qc.check_batch(list(range(n)), [T0 + 15 * MIN] * n, [35.0] * n, T0 + 15 * MIN, {})
    assert flags == [SPIKE] * n


def test_length_mismatch(qc: QualityControl) -> None:
    with pytest.raises(ValueError, match="same length"):
        qc.check_batch([1, 2], [T0], [1.0, 2.0], T0, {})
    assert qc.check_batch([], [], [], T0, {}) == []


@pytest.mark.parametrize(
    "kwargs",
    [
        {"spike_window": 2},
        {"spike_min_history": 31},
        {"spike_k": 0},
        {"flatline_count": 1},
        {"late_after_s": -1},
        {"mad_floor": 0},
    ],
)
def test_config_validation(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="QCConfig"):
        QCConfig(**kwargs)  # type: ignore[arg-type]


# --- batching does not change the outcome ----------------------------------------------------------------


def _random_batches(
    seed: int, n_streams: int, n_batches: int
) -> list[tuple[list[int], list[int], list[float | None], int]]:
    """Batches with noise, glitches, error codes, NaN, None and stuck runs; half of them also "dirty"
    (resends, backfill, gaps, future rows), which sends those streams to the Python fallback."""
    rng = np.random.default_rng(seed)
    clock = [T0] * n_streams
    last = [20.0] * n_streams
    stuck = [False] * n_streams
    batches = []
    for _ in range(n_batches):
        dirty = rng.random() < 0.5
        ids: list[int] = []
        times: list[int] = []
        vals: list[float | None] = []
        for _ in range(int(rng.integers(1, 200))):
            s = int(rng.integers(0, n_streams))
            r = rng.random() if dirty else 1.0
            if r < 0.03:
                t = clock[s] - int(rng.integers(0, 5)) * MIN  # resend / backfill
            elif r < 0.04:
                t = clock[s] + 5 * 3600 * 1_000_000  # gap (or future, depending on received)
                clock[s] = t
            else:
                clock[s] += MIN
                t = clock[s]
            if rng.random() < 0.08:
                stuck[s] = not stuck[s]
            u = rng.random()
            v: float | None
            if stuck[s]:
                v = last[s]  # a stuck sensor; runs often span batches
            elif u < 0.03:
                v = None
            elif u < 0.05:
                v = math.nan
            elif u < 0.08:
                v = 999.0
            elif u < 0.12:
                v = 0.0
            elif u < 0.28:
                v = float(rng.normal(20, 15))  # glitch
            else:
                v = round(float(rng.normal(20, 1)), 1)
            if v is not None and not math.isnan(v):
                last[s] = v
            ids.append(s)
            times.append(t)
            vals.append(v)
        lag_h = int(rng.integers(0, 3)) if dirty else 0
        batches.append((ids, times, vals, max(times) - lag_h * 3600 * 1_000_000))
    return batches


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n_streams=st.integers(1, 6))
def test_result_does_not_depend_on_batching(seed: int, n_streams: int) -> None:
    """Whole batches (numpy path when ≥ 32 rows) and row-by-row calls (Python path) agree exactly."""
    ranges: dict[int, tuple[float, float] | None] = {s: (-50.0, 60.0) for s in range(0, n_streams, 2)}
    zero_ok = {s: s % 3 == 0 for s in range(n_streams)}
    rules = {
        s: StreamRules(mad_floor=0.2 if s % 2 else None, mad_floor_rel=0.02 * (s % 3), flatline_count=4 + s)
        for s in range(n_streams)
    }
    config = QCConfig(spike_window=8, spike_min_history=4, stale_after_s=3600)
    whole, rows = QualityControl(config), QualityControl(config)
    for ids, times, vals, received in _random_batches(seed, n_streams, 6):
        got = whole.check_batch(ids, times, vals, received, ranges, zero_ok, rules=rules)
        want = [
            rows.check_batch([i], [t], [v], received, ranges, zero_ok, rules=rules)[0]
            for i, t, v in zip(ids, times, vals, strict=True)
        ]
        assert got == want


# --- resultQuality ---------------------------------------------------------------------------------------


def test_flags_to_quality() -> None:
    assert flags_to_quality(0) is None
    assert flags_to_quality(OOR | SPIKE) == ["out_of_range", "spike"]
    assert flags_to_quality(LATE | FLAT) == ["flatline", "late"]
    assert flags_to_quality(64) is None  # unknown bits are ignored


def test_quality_round_trip() -> None:
    for mask in range(32):
        assert quality_to_flags(flags_to_quality(mask)) == mask


@pytest.mark.parametrize(
    ("quality", "mask"),
    [
        (None, 0),
        (True, 0),
        (3, OOR | SPIKE),
        (64 | 4, FLAT),
        ("spike", SPIKE),
        ("Out-Of-Range, LATE", OOR | LATE),
        ("QCFlag.FUTURE", FUTURE),
        (["flatline", "nonsense", 1], FLAT | OOR),
        ({"DQ_Element": "whatever"}, 0),
        (2.0, 0),
    ],
)
def test_quality_to_flags_is_tolerant(quality: object, mask: int) -> None:
    assert quality_to_flags(quality) == mask
