# SPDX-License-Identifier: Apache-2.0
"""What the engine's plan is made of: a :class:`Stream` (a datastream with its series and aggregates),
a :class:`Binding` (one rule on one subject with its level state machine: entry delay ``for``, exit
delay ``clear_after``, hysteresis latches) and an :class:`AreaGroup` (the streams of one area voting for
an area-scope rule). :mod:`safecity.situation.engine` builds and runs them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from safecity.sensing.directory import StreamInfo
from safecity.situation.model import Crisis
from safecity.situation.rules import (
    RuleDef,
    SignalDef,
)
from safecity.situation.windows import (
    Age,
    Aggregate,
    Daily,
    DailyDrop,
    Last,
    LazySum,
    Rate,
    Series,
    WindowExtreme,
    WindowMean,
    WindowSum,
)

RAIN_PROPERTIES = ("rainfall_1min", "rainfall_10min", "rainfall_1h")
#: the rain sums the board shows (seconds)
RAIN_WINDOWS = (3600.0, 3 * 3600.0, 6 * 3600.0, 12 * 3600.0, 24 * 3600.0)
LEVEL_PROPERTIES = ("water_level", "water_level_elevation")
#: the engine's virtual property: a Thing's apparent temperature from its temperature and humidity
APPARENT = "apparent_temperature"
#: Samples between two checkpoints of a stream (the state late data re-runs from).
CHECKPOINT_EVERY = 32
#: Rate units of a ``rate`` signal's ``per``, in seconds.
PER = {"s": 1.0, "min": 60.0, "h": 3600.0}

Predicate = Callable[[float], bool]


def to_datetime(t: float) -> datetime:
    """An engine time (POSIX seconds) as an aware UTC datetime."""
    return datetime.fromtimestamp(t, UTC)


@dataclass
class Stream:
    """A datastream (or a virtual one, e.g. a Thing's apparent temperature) as the engine sees it."""

    info: StreamInfo
    district: str | None
    dong: str | None
    series: Series
    aggs: dict[tuple[Any, ...], Aggregate] = field(default_factory=dict)
    bindings: list[Binding] = field(default_factory=list)
    #: bindings of silence rules (fn = age): evaluated by the clock, and on data only while raised
    timers: list[Binding] = field(default_factory=list)
    ids: tuple[int, ...] = ()  # real datastream ids behind it
    #: the aggregates of the previous plan, reused when asked for again (daily values older than the
    #: samples kept cannot be recomputed)
    pool: dict[tuple[Any, ...], Aggregate] = field(default_factory=dict)
    #: every CHECKPOINT_EVERY samples, the time and the state of the stream's bindings after it: data
    #: that arrives late re-runs the bindings from the last checkpoint before it, with the state they
    #: really had then (levels, entry timers, hysteresis latches)
    checkpoints: list[tuple[float, dict[int, tuple[Any, ...]]]] = field(default_factory=list)

    def checkpoint(self, t: float) -> None:
        self.checkpoints.append((t, {id(b): b.snapshot() for b in self.bindings}))
        if len(self.checkpoints) > 64:
            horizon = self.series.last - self.series.horizon
            keep = [c for c in self.checkpoints if c[0] >= horizon]
            self.checkpoints = keep[-64:] if len(keep) > 64 else keep

    def agg(self, sig: SignalDef) -> Aggregate:
        key = (sig.fn, sig.window, sig.per, sig.hours, sig.max_age if sig.fn == "last" else None)
        a = self.aggs.get(key)
        if a is None:
            a = self.pool.pop(key, None) or _make_agg(self.series, sig)
            self.aggs[key] = a
            self.series.add(a)
            if sig.window:
                self.series.horizon = max(self.series.horizon, sig.window + 600)
        return a


def _make_agg(s: Series, sig: SignalDef) -> Aggregate:
    w = sig.window or 0.0
    match sig.fn:
        case "sum":
            return WindowSum(s, w)
        case "mean":
            return WindowMean(s, w)
        case "max":
            return WindowExtreme(w, True)
        case "min":
            return WindowExtreme(w, False)
        case "rate":
            return Rate(s, w, PER[sig.per])
        case "daily_max":
            return Daily(s, True, sig.hours)
        case "daily_min":
            return Daily(s, False, sig.hours)
        case "daily_min_drop":
            return DailyDrop(s, sig.hours)
        case "age":
            return Age(s)
        case _:
            return Last(s, sig.max_age)


@dataclass
class Explain:
    agg: Aggregate
    desc: str
    sig: SignalDef
    above: bool
    threshold: float | None  # None where the comparison's threshold is not a plain number (days, of)

    def met(self, v: float) -> bool:
        if self.threshold is None:
            return True
        return v >= self.threshold if self.above else v <= self.threshold


class Binding:
    """One rule on one subject, with its level state machine (entry delay ``for``, exit delay
    ``clear_after``, per-comparison hysteresis in the compiled predicates)."""

    __slots__ = (
        "clear_after",
        "clear_since",
        "cur",
        "entered",
        "explain",
        "fns",
        "for_",
        "group",
        "history",
        "latches",
        "lift",
        "lift_after",
        "lift_since",
        "rule",
        "simple",
        "since",
        "single",
        "stream_ids",
        "subject",
        "thing_ids",
        "where",
    )

    def __init__(
        self,
        rule: RuleDef,
        subject: str,
        fns: list[Predicate],
        explain: list[list[Explain]],
        where: Stream,
        stream_ids: tuple[int, ...],
        thing_ids: tuple[int, ...],
        latched: bool = False,
        lift: Predicate | None = None,
    ) -> None:
        self.rule = rule
        self.subject = subject
        self.fns = fns
        self.explain = explain
        self.for_ = [lv.for_ for lv in rule.level]
        self.clear_after = [lv.clear_after for lv in rule.level]
        #: no entry delays and no hysteresis latches: an idle binding needs no per-level bookkeeping
        self.simple = not latched and not any(self.for_)
        self.single = len(fns) == 1
        self.cur = -1
        self.since: list[float | None] = [None] * len(fns)
        self.clear_since: float | None = None
        self.entered: float | None = None
        self.history: list[tuple[float, int]] = []
        self.latches: list[list[bool]] = []
        self.group: AreaGroup | None = None
        self.where = where
        self.stream_ids = stream_ids
        self.thing_ids = thing_ids
        #: the rule's lift (its driving condition has fallen), held since when
        self.lift = lift
        self.lift_after = rule.lift.after if rule.lift is not None else 0.0
        self.lift_since: float | None = None

    @property
    def pending(self) -> bool:
        return self.cur >= 0 or any(s is not None for s in self.since)

    def step(self, t: float) -> int | None:
        """Evaluate at time ``t``; the new level index when it changes, else None."""
        if self.lift is not None and self._lifted(t):
            # the driving condition has fallen: leave every level now, enter none, forget half-met ones
            self.since = [None] * len(self.fns)
            self.clear_since = None
            for cell in self.latches:
                cell[0] = False
            return -1 if self.cur >= 0 else None
        if self.cur < 0 and self.simple:
            # the common case, nothing going on: the highest level that holds, if any, is entered
            fns = self.fns
            for i in range(len(fns) - 1, -1, -1):
                if fns[i](t):
                    return i
            return None
        if self.single:
            return self._step_one(t)
        fns = self.fns
        cur = self.cur
        since = self.since
        if self.latches:
            # hysteresis latches must see every value: every level is evaluated
            holds = [f(t) for f in fns]
        else:
            # the levels below the current one matter only once it has cleared: evaluated then (their
            # entry timers are reset whenever the level moves, so none is left running below it)
            holds = [False] * (cur + 1) + [f(t) for f in fns[cur + 1 :]] if cur >= 0 else [f(t) for f in fns]
            if cur >= 0:
                holds[cur] = fns[cur](t)
        target = cur
        for i in range(len(holds) - 1, cur, -1):
            if holds[i]:
                s = since[i]
                if s is None:
                    since[i] = s = t
                if target == cur and t - s >= self.for_[i]:
                    target = i
            else:
                since[i] = None
        if target > cur:
            return target
        if cur >= 0:
            if holds[cur]:
                self.clear_since = None
            else:
                cs = self.clear_since
                if cs is None:
                    self.clear_since = cs = t
                if t - cs >= self.clear_after[cur]:
                    for j in range(cur - 1, -1, -1):
                        if holds[j] if self.latches else fns[j](t):
                            return j
                    return -1
        return None

    def _step_one(self, t: float) -> int | None:
        """:meth:`step` for a rule of one level (most of a city's own rules), without the lists."""
        holds = self.fns[0](t)
        if self.cur < 0:
            if not holds:
                self.since[0] = None
                return None
            s = self.since[0]
            if s is None:
                self.since[0] = s = t
            return 0 if t - s >= self.for_[0] else None
        if holds:
            self.clear_since = None
            return None
        cs = self.clear_since
        if cs is None:
            self.clear_since = cs = t
        return -1 if t - cs >= self.clear_after[0] else None

    def _lifted(self, t: float) -> bool:
        assert self.lift is not None
        if not self.lift(t):
            self.lift_since = None
            return False
        if self.lift_since is None:
            self.lift_since = t
        return t - self.lift_since >= self.lift_after

    def move(self, new: int, t: float) -> None:
        self.cur = new
        self.clear_since = None
        for i in range(new + 1):  # no entry timer runs at or below the level held
            self.since[i] = None
        self.entered = t if new >= 0 else None
        self.history.append((t, new))
        if len(self.history) > 64:
            del self.history[:-32]

    def snapshot(self) -> tuple[Any, ...]:
        return (
            self.cur,
            list(self.since),
            self.clear_since,
            self.entered,
            len(self.history),
            [c[0] for c in self.latches],
            self.lift_since,
        )

    def restore(self, snap: tuple[Any, ...]) -> None:
        self.cur, since, self.clear_since, self.entered, n, latches, self.lift_since = snap
        self.since = list(since)
        del self.history[n:]
        for cell, v in zip(self.latches, latches, strict=True):
            cell[0] = v

    def level_of(self, index: int) -> Crisis:
        return self.rule.level[index].level if index >= 0 else Crisis.none

    def words(self, index: int, signal: str, unit: str | None) -> dict[str, Any]:
        """Korean and English names of a described signal, and its unit (for timelines and alerts)."""
        for e in self.explain[index] if index >= 0 else ():
            if e.desc == signal:
                u = unit
                if e.sig.fn == "rate":
                    u = f"{unit}/{e.sig.per}" if unit else None
                elif e.sig.fn == "age":
                    u = "s"
                return {"signal_ko": e.sig.describe_ko(), "signal_en": e.sig.describe_en(), "unit": u}
        return {}

    def describe(self, index: int, t: float) -> tuple[float | None, str]:
        """The deciding value: the first comparison of that level that is met (else the first that
        reads a value)."""
        fallback: tuple[float | None, str] | None = None
        for e in self.explain[index]:
            v = e.agg.value(t)
            if v is None:
                continue
            if e.met(v):
                return (round(v, 4), e.desc)
            fallback = fallback or (round(v, 4), e.desc)
        return fallback or (None, self.explain[index][0].desc if self.explain[index] else "")


class AreaGroup:
    """The streams of one area voting for an area-scope rule."""

    def __init__(self, rule: RuleDef, kind: str, code: str) -> None:
        self.rule = rule
        self.code = code
        self.subject = f"area:{kind}:{code}"
        self.members: dict[str, Binding] = {}
        self.level = Crisis.none
        self.entered: float | None = None
        assert rule.area is not None
        self.area = rule.area

    def needed(self) -> int:
        if self.area.mode == "all":
            return len(self.members)
        return self.area.count if self.area.mode == "count" else 1

    def compute(self) -> Crisis:
        need = self.needed()
        best = Crisis.none
        for lv in self.rule.level:
            n = sum(1 for b in self.members.values() if b.cur >= 0 and b.level_of(b.cur) >= lv.level)
            if n >= need:
                best = lv.level
        return best


def add_derived_series(streams: Iterable[Stream]) -> None:
    """The series people ask for, kept whether or not a rule reads them (rules reuse them)."""
    for s in streams:
        p = s.info.property
        if p in RAIN_PROPERTIES:
            for w in RAIN_WINDOWS:
                # a rule's running sum when one reads this window, else one computed on request
                if not any(k[0] == "sum" and k[1] == w for k in s.aggs):
                    key = ("lazysum", w)
                    a = s.pool.pop(key, None) or LazySum(s.series, w)
                    s.aggs[key] = a
                    s.series.add(a)
                    s.series.horizon = max(s.series.horizon, w + 600)
        elif p in LEVEL_PROPERTIES:
            s.agg(SignalDef(fn="rate", window=3600.0))
            s.agg(SignalDef(fn="last"))
        elif p == APPARENT:
            s.agg(SignalDef(fn="daily_max", hours=None))


def matches(rule: RuleDef, s: Stream) -> bool:
    """Whether a rule's ``select`` takes this stream."""
    sel = rule.select
    info = s.info
    if info.property not in sel.properties:
        return False
    if sel.things is not None and info.thing_name not in sel.things:
        return False
    if sel.datastreams is not None and info.datastream_id not in sel.datastreams:
        return False
    if sel.areas is not None and s.district not in sel.areas and s.dong not in sel.areas:
        return False
    if sel.thing_properties is not None:
        tp = info.thing_properties
        if any(tp.get(k) != v for k, v in sel.thing_properties.items()):
            return False
    return True
