# SPDX-License-Identifier: Apache-2.0
"""A rule's conditions compiled into predicates over a subject's aggregates: plain comparisons, ``any``/
``all`` groups, hysteresis latches (``clear_below``/``clear_above``), ``of`` (a threshold scaled by the
subject's own property, e.g. its allowable value) and ``days`` (a streak of local days).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

from safecity.situation.binding import Predicate, Stream
from safecity.situation.rules import (
    Comparison,
    Condition,
    Group,
    RuleDef,
)
from safecity.situation.windows import (
    Aggregate,
    Daily,
    local_day,
)


def compile_condition(
    cond: Condition,
    value_of: Callable[[str], Aggregate | None],
    scale: Callable[[str], float | None],
    cells: list[list[bool]] | None = None,
) -> tuple[Predicate, bool] | None:
    """A predicate for a condition, and whether it keeps state (hysteresis); None when the subject
    lacks what the condition needs (an ``any`` drops such members, an ``all`` cannot)."""
    if isinstance(cond, Group):
        parts = [compile_condition(c, value_of, scale, cells) for c in (cond.any or cond.all or ())]
        if cond.all is not None and any(p is None for p in parts):
            return None
        ok = [p for p in parts if p is not None]
        if not ok:
            return None
        fs = [f for f, _ in ok]
        latched = any(lat for _, lat in ok)
        if len(fs) == 1:
            return fs[0], latched
        if latched:
            # evaluate every member (a list, not short-circuit): hysteresis latches must see each value
            if cond.any is not None:
                return (lambda t: any([f(t) for f in fs])), True
            return (lambda t: all([f(t) for f in fs])), True
        if len(fs) == 2:
            f1, f2 = fs
            if cond.any is not None:
                return (lambda t: f1(t) or f2(t)), False
            return (lambda t: f1(t) and f2(t)), False
        if cond.any is not None:
            return (lambda t: any(f(t) for f in fs)), False
        return (lambda t: all(f(t) for f in fs)), False
    comp: Comparison = cond
    agg = value_of(comp.signal)
    if agg is None:
        return None
    factor = 1.0
    if comp.of is not None:
        f = scale(comp.of)
        if f is None:
            return None
        factor = f
    above = comp.above is not None
    x = (comp.above if above else comp.below) or 0.0
    x *= factor
    if comp.days is not None:
        assert isinstance(agg, Daily)
        return _days_predicate(agg, x, above, comp.days), False
    clear = comp.clear_below if above else comp.clear_above
    value = agg.value
    # Sums of decimal readings carry float dust (0.1 + 0.2 != 0.3): a 3-hour sum that is 60 mm on paper
    # may be 59.99999999999999. Thresholds are met within a billionth of their size.
    x = x - _slack(x) if above else x + _slack(x)
    if clear is None:
        if above:
            return (lambda t: (v := value(t)) is not None and v >= x), False
        return (lambda t: (v := value(t)) is not None and v <= x), False
    c = clear * factor
    c = c - _slack(c) if above else c + _slack(c)
    latch = [False]
    if cells is not None:
        cells.append(latch)  # the binding snapshots and restores it (late data re-runs)

    def hysteresis(t: float) -> bool:
        v = value(t)
        if v is None:
            latch[0] = False
        elif above:
            latch[0] = v >= x or (latch[0] and v >= c)
        else:
            latch[0] = v <= x or (latch[0] and v <= c)
        return latch[0]

    return hysteresis, True


def _slack(x: float) -> float:
    return 1e-9 * max(1.0, abs(x))


def _days_predicate(agg: Daily, x: float, above: bool, n: int) -> Predicate:
    """Met on n consecutive local days; today counts once its running value meets it, and fails only
    when it is over (the day has ended, or the hours the aggregate reads are past)."""

    lo, hi = x - _slack(x), x + _slack(x)

    def met(v: float | None) -> bool:
        return v is not None and (v >= lo if above else v <= hi)

    def f(t: float) -> bool:
        d = local_day(t)
        days = agg.days
        streak = 0
        dd = d - 1
        while streak < n and met(days.get(dd)):
            streak += 1
            dd -= 1
        today = days.get(d)
        if met(today):
            return streak + 1 >= n
        if today is not None and agg.day_closed(t):
            return False
        return streak >= n

    return f


def reader(rule: RuleDef, s: Stream) -> Callable[[str], Aggregate | None]:
    def value_of(name: str) -> Aggregate | None:
        return s.agg(rule.signals[name])

    return value_of


def share(stream: Stream) -> Callable[[str], float | None]:
    def scale(key: str) -> float | None:
        if key == "expected_interval":
            return stream.info.expected_interval_s
        for props in (stream.info.properties, stream.info.thing_properties):
            v = props.get(key)
            if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v):
                return float(v)
        return None

    return scale


def flat(conds: Iterable[Condition]) -> Iterable[Comparison]:
    for c in conds:
        if isinstance(c, Comparison):
            yield c
        else:
            yield from flat(c.any or c.all or ())
