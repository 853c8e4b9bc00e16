# SPDX-License-Identifier: Apache-2.0
"""Sliding windows on observation time: boundaries, expiry without mutation, late inserts, pruning."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from safecity.situation.rules import SignalDef
from safecity.situation.windows import (
    Age,
    Daily,
    Last,
    Rate,
    Series,
    WindowExtreme,
    WindowMean,
    WindowSum,
    local_day,
)


def utc(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def test_window_sum_is_over_the_half_open_window() -> None:
    s = Series(7200.0)
    w = WindowSum(s, 3600.0)
    s.add(w)
    assert w.value(0.0) is None  # no sample yet
    s.append(0.0, 1.0)
    s.append(1800.0, 2.0)
    assert w.value(1800.0) == 3.0  # (−1800, 1800] holds both
    s.append(3600.0, 4.0)
    # (0, 3600]: the sample at 0 is exactly one window old and is OUT: 2 + 4
    assert w.value(3600.0) == 6.0
    assert (w.total, w.count) == (6.0, 2)


def test_window_sum_value_later_than_the_last_sample_expires_without_mutating() -> None:
    s = Series(7200.0)
    w = WindowSum(s, 3600.0)
    s.add(w)
    for t, v in ((0.0, 1.0), (1800.0, 2.0), (3600.0, 4.0)):
        s.append(t, v)
    assert w.value(5399.0) == 6.0  # (1799, 5399]: 2 + 4
    assert w.value(5400.0) == 4.0  # (1800, 5400]: the 1800 sample is out
    assert w.value(7199.0) == 4.0
    assert w.value(7200.0) == 0.0  # (3600, 7200]: empty, exactly 0 (not float dust)
    # asking changed nothing: the running state still describes t = 3600
    assert (w.total, w.count, w.left) == (6.0, 2, 1)
    assert w.value(3600.0) == 6.0
    # and a new sample continues from the real state: (1900, 5500] = 4 + 8
    s.append(5500.0, 8.0)
    assert w.value(5500.0) == 12.0


def test_window_sum_of_an_emptied_window_is_exactly_zero() -> None:
    s = Series(7200.0)
    w = WindowSum(s, 60.0)
    s.add(w)
    s.append(0.0, 0.1)
    s.append(1.0, 0.2)
    s.append(200.0, 0.3)
    assert w.value(200.0) == pytest.approx(0.3)
    s.append(300.0, 0.0)
    # (240, 300] holds only the 0.0 ... and (400, 460] nothing at all
    assert w.value(460.0) == 0.0


def test_window_sum_of_only_zeros_is_exactly_zero() -> None:
    s = Series(7200.0)
    w = WindowSum(s, 60.0)
    s.add(w)
    s.append(0.0, 0.1)
    s.append(1.0, 0.2)
    s.append(200.0, 0.0)
    # (140, 200] holds only the 0.0: 0.1 + 0.2 + 0 − 0.1 − 0.2 leaves ~2.8e-17 in floating point
    assert w.value(200.0) == 0.0


def test_window_mean() -> None:
    s = Series(7200.0)
    m = WindowMean(s, 600.0)
    s.add(m)
    assert m.value(0.0) is None
    for t, v in ((0.0, 10.0), (300.0, 20.0), (600.0, 60.0)):
        s.append(t, v)
    assert m.value(600.0) == 40.0  # (0, 600]: (20 + 60) / 2
    assert m.value(900.0) == 60.0  # (300, 900]: 60 / 1
    assert m.value(1200.0) is None  # (600, 1200]: empty


def test_window_extreme_max_and_min() -> None:
    s = Series(7200.0)
    hi, lo = WindowExtreme(120.0, True), WindowExtreme(120.0, False)
    s.add(hi)
    s.add(lo)
    for t, v in ((0.0, 5.0), (60.0, 3.0), (120.0, 4.0)):
        s.append(t, v)
    # (0, 120]: 5 at t=0 is exactly one window old and OUT
    assert hi.value(120.0) == 4.0
    assert lo.value(120.0) == 3.0
    assert hi.value(180.0) == 4.0  # (60, 180]: only 4
    assert lo.value(180.0) == 4.0  # the 3 at 60 left
    assert hi.value(240.0) is None and lo.value(240.0) is None  # (120, 240]: empty
    s.append(130.0, -1.0)
    assert (hi.value(130.0), lo.value(130.0)) == (4.0, -1.0)  # (10, 130]: 3, 4, −1


def test_rate_per_hour_and_none_until_half_the_window_is_covered() -> None:
    s = Series(7200.0)
    r = Rate(s, 3600.0, 3600.0)
    per_min = Rate(s, 3600.0, 60.0)
    s.add(r)
    s.add(per_min)
    s.append(0.0, 10.0)
    assert r.value(0.0) is None  # one sample
    s.append(1200.0, 12.0)
    assert r.value(1200.0) is None  # spans 1200 s < 1800 s (half of 1 h)
    s.append(1800.0, 13.0)
    # spans exactly 1800 s: (13 − 10) / 1800 s × 3600 s/h = 6 per hour
    assert r.value(1800.0) == pytest.approx(6.0)
    assert per_min.value(1800.0) == pytest.approx(0.1)  # 3 / 1800 × 60
    s.append(3600.0, 16.0)
    # (0, 3600]: the sample at 0 is out; oldest is 1200 (12): (16 − 12) / 2400 × 3600 = 6
    assert r.value(3600.0) == pytest.approx(6.0)
    # later than the last sample: (1200, 4800] holds 1800 (13) and 3600 (16): 3 / 1800 × 3600 = 6
    assert r.value(4800.0) == pytest.approx(6.0)
    # (1900, 5500] holds only the sample at 3600
    assert r.value(5500.0) is None
    # asked about the past: at 1800 the window saw 0..1800
    assert r.value(1800.0) == pytest.approx(6.0)


def test_last_respects_max_age() -> None:
    s = Series(7200.0)
    last = Last(s, 600.0)
    assert last.value(0.0) is None
    s.append(0.0, 1.0)
    s.append(100.0, 2.0)
    assert last.value(100.0) == 2.0
    assert last.value(700.0) == 2.0  # 600 s old: still good
    assert last.value(701.0) is None
    assert last.value(50.0) == 1.0  # a past moment: the value then


def test_age_counts_any_report() -> None:
    s = Series(7200.0)
    age = Age(s)
    assert age.value(100.0) is None  # never reported
    s.last_seen = 40.0
    assert age.value(100.0) == 60.0
    assert age.value(10.0) == 0.0  # never negative


def test_local_day_is_asia_seoul() -> None:
    # 2025-07-31 14:59:59 UTC = 23:59:59 KST; 15:00 UTC = 2025-08-01 00:00 KST
    assert local_day(utc("2025-07-31T15:00:00")) == (utc("2025-07-31T15:00:00") + 9 * 3600) // 86400
    assert local_day(utc("2025-07-31T15:00:00")) - local_day(utc("2025-07-31T14:59:59")) == 1
    assert local_day(utc("2025-07-31T23:30:00")) == local_day(utc("2025-08-01T14:59:59"))


def test_daily_max_per_local_day() -> None:
    s = Series(7200.0)
    d = Daily(s, True, None)
    s.add(d)
    t1 = utc("2025-07-31T10:00:00")  # 19:00 KST on 31 July
    t2 = utc("2025-07-31T14:00:00")  # 23:00 KST on 31 July
    t3 = utc("2025-07-31T23:30:00")  # 08:30 KST on 1 August: the NEXT local day
    t4 = utc("2025-08-01T05:00:00")  # 14:00 KST on 1 August
    for t, v in ((t1, 25.0), (t2, 27.0), (t3, 30.0), (t4, 29.0)):
        s.append(t, v)
    assert d.value(t1) == 27.0  # 31 July: max(25, 27)
    assert d.value(t3) == 30.0  # 1 August: max(30, 29); the 23:30 UTC sample counts here
    assert d.value(utc("2025-07-31T15:00:00")) == 30.0  # 00:00 KST 1 August
    assert d.value(utc("2025-08-01T15:00:00")) is None  # 2 August: nothing yet
    assert not d.day_closed(t4)  # no hours: a day is never "closed" early


def test_daily_min_within_local_hours() -> None:
    sig = SignalDef(fn="daily_min", hours="00-09")
    assert sig.hours == (0, 9)
    s = Series(7200.0)
    d = Daily(s, False, sig.hours)
    s.add(d)
    samples = [
        (utc("2025-01-09T15:00:00"), -3.0),  # 00:00 KST 10 Jan: in hours
        (utc("2025-01-09T23:30:00"), -5.0),  # 08:30 KST: in hours
        (utc("2025-01-10T00:00:00"), -20.0),  # 09:00 KST: hours are [0, 9): out
        (utc("2025-01-10T14:59:00"), -30.0),  # 23:59 KST: out
    ]
    for t, v in samples:
        s.append(t, v)
    assert d.value(samples[0][0]) == -5.0  # min(−3, −5)
    assert not d.day_closed(utc("2025-01-09T23:59:00"))  # 08:59 KST
    assert d.day_closed(utc("2025-01-10T00:00:00"))  # 09:00 KST: the morning is over


def test_daily_keeps_eight_days() -> None:
    s = Series(7200.0)
    d = Daily(s, True, None)
    s.add(d)
    base = utc("2025-07-01T03:00:00")
    for i in range(10):
        s.append(base + i * 86400.0, float(i))
    assert sorted(d.days.values()) == [2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]  # the 2 oldest dropped


def test_insert_of_late_data_rebuilds_the_sums() -> None:
    s = Series(7200.0)
    w, hi = WindowSum(s, 3600.0), WindowExtreme(3600.0, True)
    s.add(w)
    s.add(hi)
    for t, v in ((0.0, 1.0), (1200.0, 2.0), (2400.0, 4.0)):
        s.append(t, v)
    assert w.value(2400.0) == 7.0
    assert s.insert(600.0, 8.0) is True
    assert list(s.t) == [0.0, 600.0, 1200.0, 2400.0]
    assert w.value(2400.0) == 15.0  # 1 + 8 + 2 + 4
    assert hi.value(2400.0) == 8.0
    assert s.insert(600.0, 8.0) is False  # a repeat changes nothing
    assert w.value(2400.0) == 15.0
    assert s.insert(600.0, 9.0) is True  # a correction replaces the value
    assert w.value(2400.0) == 16.0 and len(s.t) == 4
    assert s.insert(2400.0 - 7200.0 - 1.0, 100.0) is False  # older than the horizon
    assert w.value(2400.0) == 16.0
    # (600, 4200] later: 2 + 4
    assert w.value(4200.0) == 6.0


def test_pruning_after_4096_samples_keeps_sums_right() -> None:
    s = Series(3600.0 + 600.0)
    w, m, hi, r = (
        WindowSum(s, 3600.0),
        WindowMean(s, 3600.0),
        WindowExtreme(3600.0, True),
        Rate(s, 3600.0, 3600.0),
    )
    s.add(w)
    s.add(m)
    s.add(hi)
    s.add(r)
    for i in range(5000):
        s.append(i * 60.0, float(i))
    # The 4096th append (i = 4095, t = 245700) prunes everything at or before 245700 − 4200 = 241500,
    # i.e. i ≤ 4025: 4026 samples cut, 70 kept; 904 more appends later 974 samples, no second prune.
    assert len(s.t) == 974
    assert s.t[0] == 4026 * 60.0
    last = 4999 * 60.0
    # (t − 3600, t] holds i = 4940 … 4999: 60 samples, sum = 60 × (4940 + 4999) / 2 = 298170
    assert w.value(last) == 298170.0
    assert m.value(last) == 298170.0 / 60  # 4969.5
    assert hi.value(last) == 4999.0
    # oldest in window 4940 → newest 4999 over 3540 s: 59 / 3540 × 3600 = 60 per hour
    assert r.value(last) == pytest.approx(60.0)
    # and a window that expires later still subtracts the right samples: (last − 1800, last + 1800]
    # holds i = 4970 … 4999: 30 × (4970 + 4999) / 2 = 149535
    assert w.value(last + 1800.0) == 149535.0
    # a late sample after pruning: rebuilt from the kept samples, still right
    assert s.insert(last - 30.0, 1000.0) is True
    assert w.value(last) == 298170.0 + 1000.0
