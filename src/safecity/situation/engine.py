# SPDX-License-Identifier: Apache-2.0
"""The real-time rule engine: observations in, condition changes out.

The engine is compiled from the rules and the sensor directory into a plan: for each datastream a
:class:`~safecity.situation.windows.Series` with the aggregates any rule (or a derived series) needs,
de-duplicated so that "3-hour sum of this gauge" is computed once however many rules read it, and the
*bindings* (one rule on one subject: a stream, a thing, or a stream that votes for an area) to evaluate
after each sample. Evaluating is a few comparisons per binding; history is never re-queried. Time is the
observations' own time throughout (windows, minimum durations, clearing delays), so replaying a past
event gives the same answer as living through it.

Not thread-safe: the situation service serialises calls.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from safecity.core.logging import get_logger
from safecity.sensing.directory import StreamInfo
from safecity.sensing.events import ObservationAccepted
from safecity.situation.apparent import apparent_temperature
from safecity.situation.binding import (
    APPARENT,
    CHECKPOINT_EVERY,
    AreaGroup,
    Binding,
    Explain,
    Predicate,
    Stream,
    add_derived_series,
    matches,
)
from safecity.situation.engine_report import active_conditions, change_of, group_change, with_value
from safecity.situation.model import ConditionChange, Crisis
from safecity.situation.predicates import compile_condition, flat, reader, share
from safecity.situation.rules import (
    Group,
    LoadedRule,
    RuleDef,
    SignalDef,
    comparisons,
)
from safecity.situation.windows import (
    Aggregate,
    Daily,
    Series,
)

log = get_logger(__name__)

#: QC flags that keep a value out of every signal (out_of_range | spike | flatline | future): a bad
#: reading must not trigger a rule by itself. ``late`` is not among them: late data is still true data.
BAD_FLAGS = 1 | 2 | 4 | 8

OUT_OF_RANGE = 1
#: Hazard detectors whose reading above their measuring range means "at least the top of the range"
#: (a catalytic LEL bead past 100 %LEL), not noise: such a flagged reading enters at the range's top
#: so it can raise and hold an alarm (see the catalogue's note on combustible_gas).
SATURATING = frozenset({"combustible_gas", "co_concentration", "smoke_obscuration"})
#: Temperature and humidity further apart than this are not combined into an apparent temperature.
APPARENT_PAIRING_S = 3600.0

Locate = Callable[[float, float], tuple[str | None, str | None]]  # lon, lat -> (district, dong) codes


@dataclass
class RuleStatus:
    rule: LoadedRule
    subjects: int = 0
    skipped: list[str] = field(default_factory=list)
    error: str | None = None


class Engine:
    def __init__(self, locate: Locate | None = None, ceilings: dict[str, float] | None = None) -> None:
        self.locate = locate
        #: property -> top of the measuring range, for the SATURATING properties
        self.ceilings = {k: v for k, v in (ceilings or {}).items() if k in SATURATING}
        self.streams: dict[int, Stream] = {}
        self.bindings: list[Binding] = []
        self.groups: dict[str, AreaGroup] = {}
        self.age_bindings: list[Binding] = []
        self.status: dict[str, RuleStatus] = {}
        self.rules: list[LoadedRule] = []
        self.infos: list[StreamInfo] = []
        # thing id -> (temperature stream id, humidity stream id, virtual apparent-temperature stream id)
        self._apparent: dict[int, tuple[int, int, int]] = {}
        self._by_temperature: dict[int, int] = {}
        self.processed = 0

    # -- planning ----------------------------------------------------------------------------------
    def plan(
        self,
        rules: Sequence[LoadedRule],
        infos: Sequence[StreamInfo],
        areas: Mapping[int, tuple[str | None, str | None]] | None = None,
    ) -> list[ConditionChange]:
        """(Re)compile for these rules and streams. Stream data and the state of unchanged bindings
        (same rule id and version, same subject) carry over; conditions of bindings that disappear are
        cleared (returned). ``areas`` gives (district, dong) codes of streams directly, instead of
        looking their location up."""
        old_streams = self.streams
        old_bindings = {(b.rule.id, b.rule.version, b.subject): b for b in self.bindings}
        old_groups = self.groups
        self.rules = list(rules)
        self.infos = list(infos)
        self.streams = {}
        self.bindings = []
        self.groups = {}
        self.age_bindings = []
        self._apparent = {}
        self._by_temperature = {}
        self.status = {r.rule.id: RuleStatus(r) for r in rules}

        for info in infos:
            district = dong = None
            if areas and info.datastream_id in areas:
                district, dong = areas[info.datastream_id]
            elif self.locate is not None and info.lon is not None and info.lat is not None:
                district, dong = self.locate(info.lon, info.lat)
            old = old_streams.get(info.datastream_id)
            series = old.series if old is not None else Series(7200.0)
            series.aggs, series.pushers = [], []
            self.streams[info.datastream_id] = Stream(
                info, district, dong, series, ids=(info.datastream_id,), pool=old.aggs if old else {}
            )
        self._plan_apparent(old_streams)

        for r in rules:
            if not r.rule.enabled:
                continue
            try:
                self._plan_rule(r.rule)
            except Exception as e:
                log.exception("rule could not be compiled", rule=r.rule.id)
                self.status[r.rule.id].error = f"{type(e).__name__}: {e}"
        add_derived_series(self.streams.values())

        changes: list[ConditionChange] = []
        new_keys = {}
        for b in self.bindings:
            key = (b.rule.id, b.rule.version, b.subject)
            new_keys[key] = b
            prev = old_bindings.get(key)
            if prev is not None:
                b.cur, b.since, b.clear_since, b.entered, b.history, b.lift_since = (
                    prev.cur,
                    prev.since,
                    prev.clear_since,
                    prev.entered,
                    prev.history,
                    prev.lift_since,
                )
        for s in self.streams.values():
            s.series.rebuild()
        now_t = max((s.series.last for s in self.streams.values()), default=-math.inf)
        for key, prev in old_bindings.items():
            if key not in new_keys and prev.cur >= 0 and prev.group is None:
                changes.append(
                    change_of(prev, -1, now_t if math.isfinite(now_t) else 0.0, (), note="rule changed")
                )
        for code, g in old_groups.items():
            ng = self.groups.get(code)
            if g.level > Crisis.none and (ng is None or ng.rule.version != g.rule.version):
                changes.append(group_change(g, Crisis.none, now_t if math.isfinite(now_t) else 0.0, ()))
            elif ng is not None:
                ng.level, ng.entered = g.level, g.entered
        # new bindings are evaluated on the data held only now: after the clears of the conditions they
        # replace (consumers key conditions by rule id and subject, not version) and after carried-over
        # areas got back their level (a stream joining an active area must not fire it again)
        for b in self.bindings:
            if (b.rule.id, b.rule.version, b.subject) not in old_bindings and b.where.series.t:
                self._eval(b, b.where.series.last, 0, changes)
        return changes

    def _plan_apparent(self, old_streams: dict[int, Stream]) -> None:
        by_thing: dict[int, dict[str, StreamInfo]] = {}
        for info in self.infos:
            if info.property in ("air_temperature", "relative_humidity"):
                by_thing.setdefault(info.thing_id, {}).setdefault(info.property, info)
        for thing_id, props in by_thing.items():
            if len(props) < 2:
                continue
            temp, hum = props["air_temperature"], props["relative_humidity"]
            vid = -thing_id
            vinfo = StreamInfo(
                datastream_id=vid,
                name=f"{temp.thing_name}: apparent temperature",
                property=APPARENT,
                thing_id=thing_id,
                thing_name=temp.thing_name,
                thing_properties=temp.thing_properties,
                properties={},
                lon=temp.lon,
                lat=temp.lat,
                expected_interval_s=temp.expected_interval_s,
                unit="Cel",
            )
            base = self.streams[temp.datastream_id]
            old = old_streams.get(vid)
            series = old.series if old is not None else Series(7200.0)
            series.aggs, series.pushers = [], []
            self.streams[vid] = Stream(
                vinfo,
                base.district,
                base.dong,
                series,
                ids=(temp.datastream_id, hum.datastream_id),
                pool=old.aggs if old else {},
            )
            self._apparent[thing_id] = (temp.datastream_id, hum.datastream_id, vid)
            self._by_temperature[temp.datastream_id] = thing_id
            # the humidity stream keeps its latest value for pairing
            self.streams[hum.datastream_id].agg(SignalDef(fn="last", max_age=APPARENT_PAIRING_S))

    def _plan_rule(self, rule: RuleDef) -> None:
        status = self.status[rule.id]
        matched = [s for s in self.streams.values() if matches(rule, s)]
        if rule.scope == "thing":
            things: dict[int, list[Stream]] = {}
            for s in matched:
                things.setdefault(s.info.thing_id, []).append(s)
            for thing_id, members in things.items():
                by_prop: dict[str | None, Stream] = {}
                for s in sorted(members, key=lambda s: s.info.datastream_id):
                    by_prop.setdefault(s.info.property, s)

                def value_of(name: str, by_prop: dict[str | None, Stream] = by_prop) -> Aggregate | None:
                    sig = rule.signals[name]
                    s = by_prop.get(sig.property)
                    return s.agg(sig) if s is not None else None

                anchor = members[0]
                b = self._bind(rule, f"thing:{thing_id}", anchor, value_of, share(anchor), members)
                if b is None:
                    status.skipped.append(f"thing {thing_id}: lacks a value the rule needs")
                    continue
                for s in {id(m): m for m in by_prop.values()}.values():
                    s.bindings.append(b)
            return
        for s in matched:
            b = self._bind(rule, f"ds:{s.info.datastream_id}", s, reader(rule, s), share(s), [s])
            if b is None:
                status.skipped.append(
                    f"datastream {s.info.datastream_id}: lacks a value the rule needs (e.g. 'allowable')"
                )
                continue
            if rule.scope == "stream" and all(sig.fn == "age" for sig in rule.signals.values()):
                # a silence rule: the clock decides when it fires; data only matters once it has
                s.timers.append(b)
                continue
            s.bindings.append(b)
            if rule.scope == "area":
                assert rule.area is not None
                code = s.district if rule.area.kind == "district" else s.dong
                if code is None:
                    status.skipped.append(f"datastream {s.info.datastream_id}: not inside a known area")
                    s.bindings.remove(b)
                    self.bindings.remove(b)
                    continue
                key = f"{rule.id}|{code}"
                g = self.groups.get(key)
                if g is None:
                    g = self.groups[key] = AreaGroup(rule, rule.area.kind, code)
                g.members[b.subject] = b
                b.group = g

    def _bind(
        self,
        rule: RuleDef,
        subject: str,
        where: Stream,
        value_of: Callable[[str], Aggregate | None],
        scale: Callable[[str], float | None],
        members: list[Stream],
    ) -> Binding | None:
        fns: list[Predicate] = []
        explain: list[list[Explain]] = []
        latched = False
        cells: list[list[bool]] = []
        for lv in rule.level:
            conds = lv.any if lv.any is not None else lv.all
            assert conds is not None
            compiled = compile_condition(
                Group(any=conds) if lv.any is not None else Group(all=conds), value_of, scale, cells
            )
            if compiled is None:
                return None
            fns.append(compiled[0])
            latched = latched or compiled[1]
            ex = []
            for c in flat(conds):
                a = value_of(c.signal)
                if a is not None:
                    plain = c.of is None and c.days is None
                    x = c.above if c.above is not None else c.below
                    ex.append(
                        Explain(
                            a,
                            rule.signals[c.signal].describe(),
                            rule.signals[c.signal],
                            c.above is not None,
                            x if plain else None,
                        )
                    )
            explain.append(ex)
        lift: Predicate | None = None
        if rule.lift is not None:
            conds = rule.lift.any if rule.lift.any is not None else rule.lift.all
            assert conds is not None
            whole = Group(any=conds) if rule.lift.any is not None else Group(all=conds)
            compiled = compile_condition(whole, value_of, scale)  # no hysteresis in a lift (validated)
            if compiled is None:
                return None
            lift = compiled[0]
        ids = tuple(sorted({i for m in members for i in m.ids}))
        things = tuple(sorted({m.info.thing_id for m in members}))
        b = Binding(rule, subject, fns, explain, where, ids, things, latched, lift)
        b.latches = cells
        self.bindings.append(b)
        self.status[rule.id].subjects += 1
        if any(sig.fn == "age" for sig in rule.signals.values()):
            self.age_bindings.append(b)
        return b

    # -- running -----------------------------------------------------------------------------------
    def process(self, events: Iterable[ObservationAccepted]) -> list[ConditionChange]:
        """Feed accepted observations; returns the condition changes they cause, in order."""
        out: list[ConditionChange] = []
        late: dict[int, list[tuple[float, float, int]]] = {}
        streams = self.streams
        apparent = self._by_temperature
        n = 0
        for ev in events:
            n += 1
            sid = ev.datastream_id
            s = streams.get(sid) if sid is not None else None
            if s is None:
                continue
            end = ev.phenomenon_time_end
            t = (end or ev.phenomenon_time).timestamp()
            series = s.series
            if series.last_seen is None or t > series.last_seen:
                series.last_seen = t
            v = ev.result
            if type(v) is not float and type(v) is not int:
                continue
            if ev.qc_flags & BAD_FLAGS:
                top = self.ceilings.get(s.info.property or "")
                if top is None or ev.qc_flags & BAD_FLAGS != OUT_OF_RANGE or not v > top:  # NaN: dropped
                    continue
                v = top
            if not series.t or t > series.t[-1]:
                series.append(t, v)
                for b in s.bindings:
                    try:
                        new = b.step(t)
                    except Exception as e:  # noqa: BLE001 - one broken rule never stops the others
                        self._fail(b, e)
                        continue
                    if new is not None:
                        self._apply(b, new, t, (ev.observation_id,), out)
                for b in s.timers:
                    if b.cur >= 0:
                        self._eval(b, t, ev.observation_id, out)
                if not len(series.t) % CHECKPOINT_EVERY:
                    s.checkpoint(t)
            else:
                late.setdefault(sid, []).append((t, float(v), ev.observation_id))  # type: ignore[arg-type]
            if sid in apparent:
                self._feed_apparent(apparent[sid], t, float(v), ev.observation_id, out, late)
        for sid, items in late.items():
            self._late(streams[sid], items, out)
        self.processed += n
        return out

    def _feed_apparent(
        self,
        thing_id: int,
        t: float,
        temp: float,
        obs_id: int,
        out: list[ConditionChange],
        late: dict[int, list[tuple[float, float, int]]],
    ) -> None:
        _, hum_id, vid = self._apparent[thing_id]
        hs = self.streams[hum_id].series
        if not hs.t:
            return
        i = bisect_left(hs.t, t)
        best = None
        for j in (i - 1, i):
            if (
                0 <= j < len(hs.t)
                and abs(hs.t[j] - t) <= APPARENT_PAIRING_S
                and (best is None or abs(hs.t[j] - t) < abs(hs.t[best] - t))
            ):
                best = j
        if best is None:
            return
        at = apparent_temperature(temp, hs.v[best])
        vs = self.streams[vid]
        if at is None:
            return
        if t > vs.series.last:
            vs.series.last_seen = t
            vs.series.append(t, at)
            for b in vs.bindings:
                self._eval(b, t, obs_id, out)
            if not len(vs.series.t) % CHECKPOINT_EVERY:
                vs.checkpoint(t)
        else:
            late.setdefault(vid, []).append((t, at, obs_id))

    def _eval(self, b: Binding, t: float, obs_id: int, out: list[ConditionChange]) -> None:
        try:
            new = b.step(t)
        except Exception as e:  # noqa: BLE001 - one broken rule never stops the others
            self._fail(b, e)
            return
        if new is not None:
            self._apply(b, new, t, (obs_id,) if obs_id else (), out)

    def _apply(
        self,
        b: Binding,
        new: int,
        t: float,
        obs: tuple[int, ...],
        out: list[ConditionChange],
        late: bool = False,
    ) -> None:
        old = b.cur
        b.move(new, t)
        if b.group is None:
            out.append(change_of(b, new, t, obs, previous=old, late=late))
            return
        level = b.group.compute()
        if level != b.group.level:
            out.append(group_change(b.group, level, t, obs, late=late))

    def _fail(self, b: Binding, e: Exception) -> None:
        st = self.status.get(b.rule.id)
        log.error("rule failed; disabled until reloaded", rule=b.rule.id, subject=b.subject, error=repr(e))
        if st is not None:
            st.error = f"{type(e).__name__}: {e}"
        for s in self.streams.values():
            s.bindings = [x for x in s.bindings if x.rule.id != b.rule.id]
            s.timers = [x for x in s.timers if x.rule.id != b.rule.id]
        self.age_bindings = [x for x in self.age_bindings if x.rule.id != b.rule.id]

    def _late(self, s: Stream, items: list[tuple[float, float, int]], out: list[ConditionChange]) -> None:
        """Samples at or before the stream's latest one: insert them, and re-run the stream's bindings
        from the last checkpoint before the earliest of them, with the windows and the binding state as
        they were then; report the level changes the late data reveals (``late=True``, at their own
        time) and make sure the end state is the one in-order data would have given."""
        series = s.series
        tmin = math.inf
        for t, v, _ in items:
            if series.put(t, v):
                tmin = min(tmin, t)
        if tmin == math.inf:
            return  # repeats of what is stored: nothing to re-run
        obs = tuple(o for _, _, o in items if o)[:20]
        bindings = s.bindings
        before = {id(b): (b.cur, list(b.history)) for b in bindings}
        point = next((c for c in reversed(s.checkpoints) if c[0] < tmin), None)
        s.checkpoints = [c for c in s.checkpoints if c[0] < tmin]
        if point is None:
            start_t = -math.inf
            for b in bindings:
                b.restore((-1, [None] * len(b.fns), None, None, 0, [False] * len(b.latches), None))
        else:
            start_t = point[0]
            for b in bindings:
                snap = point[1].get(id(b))
                if snap is not None:
                    b.restore(snap)
        series.rebuild(upto=start_t)
        described: dict[tuple[int, float], tuple[float | None, str]] = {}
        ts, vs, aggs = series.t, series.v, series.pushers
        for i in range(bisect_left(ts, start_t) if start_t > -math.inf else 0, len(ts)):
            t = ts[i]
            if t <= start_t:
                continue
            for a in aggs:
                a.push(t, vs[i])
            for b in bindings:
                try:
                    new = b.step(t)
                except Exception as e:  # noqa: BLE001 - one broken rule never stops the others
                    self._fail(b, e)
                    continue
                if new is not None:
                    b.move(new, t)
                    if new >= 0:
                        described[(id(b), t)] = b.describe(new, t)
            if not (i + 1) % CHECKPOINT_EVERY:
                s.checkpoint(t)
        for b in bindings:
            old_cur, old_hist = before[id(b)]
            if b.history == old_hist:
                continue
            final = b.cur
            reported = set(old_hist)
            new_hist = b.history
            common = 0
            while common < min(len(old_hist), len(new_hist)) and old_hist[common] == new_hist[common]:
                common += 1
            prev = new_hist[common - 1][1] if common else -1
            emitted = old_cur
            # the transitions the late data revealed, in order, then the end state made right
            for when, lv in new_hist[common:]:
                if (when, lv) not in reported and b.group is None:
                    b.cur = prev
                    c = change_of(b, lv, when, obs, previous=prev, late=True)
                    if lv >= 0 and (id(b), when) in described:
                        c = with_value(c, *described[(id(b), when)])
                    out.append(c)
                    emitted = lv
                prev = lv
            b.cur = final
            if b.group is not None:
                g = b.group
                level = g.compute()
                if level != g.level:
                    out.append(group_change(g, level, ts[-1], obs, late=True))
            elif emitted != final:
                out.append(change_of(b, final, ts[-1], obs, previous=emitted, late=True))

    def tick(self, now: datetime) -> list[ConditionChange]:
        """Time passes without data: windows slide, clearing delays run out, sensors go stale."""
        t = now.timestamp()
        out: list[ConditionChange] = []
        seen: set[int] = set()
        for b in self.age_bindings:
            seen.add(id(b))
            self._eval(b, t, 0, out)
        for b in self.bindings:
            if id(b) in seen or not b.pending:
                continue
            if t <= b.where.series.last:
                continue
            self._eval(b, t, 0, out)
        return out

    # -- reporting ---------------------------------------------------------------------------------
    def active(self, now: datetime | None = None) -> list[dict[str, Any]]:
        """Conditions currently at a level, for the situation board."""
        return active_conditions(self.bindings, self.groups.values(), now)

    def warm_up_plan(self) -> dict[float, list[int]]:
        """Seconds of history to read back -> the (real) datastreams that need that much. Most streams
        need their longest window; the streams behind a daily streak (a heat wave's two days) need the
        streak's days and one more, so a restart does not replay a week of every sensor."""
        days = 1
        for r in self.rules:
            for c in comparisons(r.rule):
                if c.days:
                    days = max(days, c.days)
        daily = (days + 1) * 86400.0
        need: dict[int, float] = {}
        for s in self.streams.values():
            h = max(7200.0, s.series.horizon)
            if any(isinstance(a, Daily) for a in s.series.aggs):
                h = max(h, daily)
            for real in s.ids:
                need[real] = max(need.get(real, 0.0), h)
        plan: dict[float, list[int]] = {}
        for real, h in sorted(need.items()):
            if real > 0:
                plan.setdefault(h, []).append(real)
        return plan
