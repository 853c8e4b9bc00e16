# SPDX-License-Identifier: Apache-2.0
"""Sliding windows over one stream's values, kept up to date one observation at a time.

Times are seconds since the epoch of the observations' own time (phenomenonTime), so a replay, a late
batch or a bulk import gives the same numbers as live data. A :class:`Series` holds the recent samples
of a stream (as compact ``array('d')``s) and the aggregates computed on it; ``push`` is amortised O(1)
per aggregate (a running sum, a monotonic deque for maxima), and ``value(t)`` answers for any
``t`` at or after the latest sample without changing anything, so a timer can ask "what is the 3-hour
sum now?" while data keeps coming.

Data that arrives out of order is inserted in place and the aggregates are rebuilt from the samples
(:meth:`Series.insert`); that costs a pass over the window, which is fine for the rare late batch.
"""

from __future__ import annotations

import math
from array import array
from bisect import bisect_left, bisect_right
from collections import deque
from typing import Protocol

#: Local time of the Korean day boundaries (Asia/Seoul has no daylight saving time since 1988).
KST_OFFSET = 9 * 3600.0


def local_day(t: float) -> int:
    return int((t + KST_OFFSET) // 86400)


class Aggregate(Protocol):
    def push(self, t: float, v: float) -> None: ...

    def value(self, t: float) -> float | None: ...

    def reset(self) -> None: ...

    def shift(self, n: int) -> None: ...


class Series:
    """The recent good samples of one stream, in time order, and the aggregates over them."""

    __slots__ = ("aggs", "horizon", "last_seen", "pushers", "t", "v")

    def __init__(self, horizon: float) -> None:
        self.t = array("d")
        self.v = array("d")
        self.aggs: list[Aggregate] = []
        #: the aggregates that keep running state (the others read the samples when asked): only these
        #: are called for each new sample
        self.pushers: list[Aggregate] = []
        self.horizon = horizon
        self.last_seen: float | None = None  # latest observation time, good or bad (for staleness)

    @property
    def last(self) -> float:
        return self.t[-1] if self.t else -math.inf

    def append(self, t: float, v: float) -> None:
        """A sample later than every other one (the common case)."""
        self.t.append(t)
        self.v.append(v)
        for a in self.pushers:
            a.push(t, v)
        if len(self.t) >= 4096:
            self._prune()

    def put(self, t: float, v: float) -> bool:
        """Place a sample at or before the latest one without touching the aggregates; returns False
        when it changes nothing (a repeat, or older than anything a window can still see)."""
        i = bisect_left(self.t, t)
        if i < len(self.t) and self.t[i] == t:
            if self.v[i] == v:
                return False
            self.v[i] = v
            return True
        if self.t and t < self.t[-1] - self.horizon:
            return False
        self.t.insert(i, t)
        self.v.insert(i, v)
        return True

    def insert(self, t: float, v: float) -> bool:
        """A sample at or before the latest one, with the aggregates rebuilt."""
        if not self.put(t, v):
            return False
        self.rebuild()
        return True

    def add(self, a: Aggregate) -> None:
        self.aggs.append(a)
        if not isinstance(a, _Reader):
            self.pushers.append(a)

    def rebuild(self, upto: float = math.inf) -> None:
        """Recompute every aggregate from the samples (up to and including ``upto``)."""
        for a in self.aggs:
            a.reset()
        t, v, aggs = self.t, self.v, self.pushers
        for i in range(len(t)):
            if t[i] > upto:
                break
            for a in aggs:
                a.push(t[i], v[i])

    def _prune(self) -> None:
        cut = bisect_right(self.t, self.t[-1] - self.horizon)
        if cut < 1024:
            return
        del self.t[:cut]
        del self.v[:cut]
        for a in self.aggs:
            a.shift(cut)


class _Reader:
    """An aggregate that keeps no running state: it reads the samples when asked."""

    __slots__ = ()

    def reset(self) -> None:
        pass

    def shift(self, n: int) -> None:
        pass

    def push(self, t: float, v: float) -> None:
        pass


class WindowSum:
    """Sum (and count) of the samples in (t - window, t]."""

    __slots__ = ("count", "left", "nonzero", "s", "total", "window")

    def __init__(self, series: Series, window: float) -> None:
        self.s = series
        self.window = window
        self.left = 0
        self.total = 0.0
        self.count = 0
        self.nonzero = 0  # values != 0 in the window: when none are left the sum is exactly 0

    def reset(self) -> None:
        self.left, self.total, self.count, self.nonzero = 0, 0.0, 0, 0

    def shift(self, n: int) -> None:
        self.left -= n

    def push(self, t: float, v: float) -> None:
        self.total += v
        self.count += 1
        if v:
            self.nonzero += 1
        lim = t - self.window
        ts = self.s.t
        i = self.left
        if ts[i] <= lim:
            vs = self.s.v
            while ts[i] <= lim:
                x = vs[i]
                self.total -= x
                if x:
                    self.nonzero -= 1
                self.count -= 1
                i += 1
            self.left = i
            if not self.nonzero:
                # adding and subtracting leaves float dust; a window of zeros (no rain) sums to 0
                self.total = 0.0

    def _expired(self, t: float) -> tuple[float, int]:
        lim = t - self.window
        ts, vs = self.s.t, self.s.v
        i, n = self.left, len(ts)
        total, count, nonzero = self.total, self.count, self.nonzero
        while i < n and ts[i] <= lim:
            total -= vs[i]
            count -= 1
            if vs[i]:
                nonzero -= 1
            i += 1
        return (total if nonzero else 0.0), count

    def value(self, t: float) -> float | None:
        ts = self.s.t
        if not ts:
            return None
        if t <= ts[-1]:
            return self.total
        return self._expired(t)[0]


class WindowMean(WindowSum):
    __slots__ = ()

    def value(self, t: float) -> float | None:
        total, count = (self.total, self.count) if self.s.t and t <= self.s.t[-1] else self._expired(t)
        return total / count if count else None


class WindowExtreme:
    """Maximum (or minimum) over (t - window, t] with a monotonic deque of candidates."""

    __slots__ = ("dq", "sign", "window")

    def __init__(self, window: float, maximum: bool) -> None:
        self.window = window
        self.sign = 1.0 if maximum else -1.0
        self.dq: deque[tuple[float, float]] = deque()

    def reset(self) -> None:
        self.dq.clear()

    def shift(self, n: int) -> None:
        pass

    def push(self, t: float, v: float) -> None:
        dq, key = self.dq, v * self.sign
        while dq and dq[-1][1] <= key:
            dq.pop()
        dq.append((t, key))
        lim = t - self.window
        while dq[0][0] <= lim:
            dq.popleft()

    def value(self, t: float) -> float | None:
        lim = t - self.window
        for when, key in self.dq:
            if when > lim:
                return key * self.sign
        return None


class Last(_Reader):
    """The latest sample, if it is not older than ``max_age``."""

    __slots__ = ("max_age", "s")

    def __init__(self, series: Series, max_age: float) -> None:
        self.s = series
        self.max_age = max_age

    def value(self, t: float) -> float | None:
        s = self.s
        if not s.t or t - s.t[-1] > self.max_age:
            return None
        # asked about a past moment (a thing rule evaluated at another stream's time): the value then
        if t < s.t[-1]:
            i = bisect_right(s.t, t) - 1
            return s.v[i] if i >= 0 and t - s.t[i] <= self.max_age else None
        return s.v[-1]


class Rate(_Reader):
    """Change per ``per`` seconds between the oldest sample in the window and the latest one."""

    __slots__ = ("per", "s", "window")

    def __init__(self, series: Series, window: float, per: float) -> None:
        self.s = series
        self.window = window
        self.per = per

    def value(self, t: float) -> float | None:
        ts, vs = self.s.t, self.s.v
        if not ts:
            return None
        end = len(ts) if t >= ts[-1] else bisect_right(ts, t)
        if end < 2:
            return None
        i = bisect_right(ts, t - self.window, 0, end)
        if end - i < 2:
            return None
        span = ts[end - 1] - ts[i]
        if span < self.window / 2:
            return None  # too little data in the window to call it a trend
        return (vs[end - 1] - vs[i]) / span * self.per


class Daily:
    """Maximum (or minimum) of each local (Asia/Seoul) day, optionally within some local hours."""

    __slots__ = ("days", "hours", "keep", "maximum", "s")

    def __init__(self, series: Series, maximum: bool, hours: tuple[int, int] | None, keep: int = 8) -> None:
        self.s = series
        self.maximum = maximum
        self.hours = hours
        self.keep = keep
        self.days: dict[int, float] = {}

    def reset(self) -> None:
        # Days older than the samples kept are not recomputable: keep them, rebuild the rest.
        if self.s.t:
            first = local_day(self.s.t[0])
            self.days = {d: v for d, v in self.days.items() if d < first}
        else:
            self.days = {}

    def shift(self, n: int) -> None:
        pass

    def push(self, t: float, v: float) -> None:
        local = t + KST_OFFSET
        if self.hours is not None:
            h = (local % 86400) / 3600
            if not (self.hours[0] <= h < self.hours[1]):
                return
        day = int(local // 86400)
        days = self.days
        old = days.get(day)
        if old is None:
            days[day] = v
            if len(days) > self.keep:
                for d in sorted(days)[: len(days) - self.keep]:
                    del days[d]
        elif (v > old) if self.maximum else (v < old):
            days[day] = v

    def value(self, t: float) -> float | None:
        return self.days.get(local_day(t))

    def day_closed(self, t: float) -> bool:
        """Whether the local hours this aggregate reads are over for the day of ``t``."""
        if self.hours is None:
            return False
        return ((t + KST_OFFSET) % 86400) / 3600 >= self.hours[1]


class DailyDrop(Daily):
    """How far the daily minimum (within some local hours) fell from the previous local day: yesterday's
    minimum minus today's running one (°C for a temperature; positive = colder today). None until both
    days have a value. KMA's 한파 criterion (a) reads the morning minimum this way."""

    __slots__ = ()

    def __init__(self, series: Series, hours: tuple[int, int] | None, keep: int = 8) -> None:
        super().__init__(series, False, hours, keep)

    def value(self, t: float) -> float | None:
        d = local_day(t)
        today, yesterday = self.days.get(d), self.days.get(d - 1)
        return None if today is None or yesterday is None else yesterday - today


class LazySum(_Reader):
    """A window sum computed only when asked (a derived series nobody's rule reads: the 24-hour rainfall
    on the board), so keeping it costs the ingest path nothing."""

    __slots__ = ("s", "window")

    def __init__(self, series: Series, window: float) -> None:
        self.s = series
        self.window = window

    def value(self, t: float) -> float | None:
        ts = self.s.t
        if not ts:
            return None
        end = len(ts) if t >= ts[-1] else bisect_right(ts, t)
        start = bisect_right(ts, t - self.window, 0, end)
        return math.fsum(self.s.v[start:end])


class Age(_Reader):
    """Seconds since the stream last reported (any observation, good or flagged)."""

    __slots__ = ("s",)

    def __init__(self, series: Series) -> None:
        self.s = series

    def value(self, t: float) -> float | None:
        seen = self.s.last_seen
        return None if seen is None else max(0.0, t - seen)
