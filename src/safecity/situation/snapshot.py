# SPDX-License-Identifier: Apache-2.0
"""The rule engine's state, saved by ordering key of its observations (issue 15).

A key is a district (``district:<code>``) or ``observations`` (sensors outside every district), the key
the observation events are published under, so the state of a key is exactly what one partition of the
engine needs. Each row of ``situation_engine_state`` holds, for one key:

* the samples each stream's windows still see, and the daily values older than them (a heat wave's
  streak), from which the aggregates are rebuilt;
* each rule binding's level machine (level, entry and clearing timers, hysteresis latches, lift) and
  each area's level;
* the position: the last observation event the engine had handled when it took the state.

A restarted engine (or one that takes over a district) restores the rows of its keys and reads the
events after their positions again from the outbox (``Bus.history``), instead of re-reading hours of
observations. The row also keeps the conditions at a level there, which every process serves on the
board.

The format is JSON (floats as base64 of little-endian doubles), compressed: readable by the next
release, which restores what it recognises (a binding whose rule id, version and subject it still has)
and starts the rest afresh.
"""

from __future__ import annotations

import base64
import json
import sys
import zlib
from array import array
from bisect import bisect_right
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Connection

from safecity.situation.binding import AreaGroup, Binding
from safecity.situation.engine import Engine
from safecity.situation.engine_report import active_conditions
from safecity.situation.model import Crisis
from safecity.situation.tables import engine_state
from safecity.situation.windows import Daily

FORMAT = 1
KeyOf = Callable[[str | None], str]


@dataclass(frozen=True)
class Saved:
    """One key's saved state, as read back."""

    key: str
    position: int
    state: dict[str, Any] | None


def _floats(a: array[float]) -> str:
    if sys.byteorder != "little":
        a = array("d", a)
        a.byteswap()
    return base64.b64encode(a.tobytes()).decode()


def _array(text: str) -> array[float]:
    a = array("d", base64.b64decode(text))
    if sys.byteorder != "little":
        a.byteswap()
    return a


def _agg_key(key: tuple[Any, ...]) -> str:
    return json.dumps(key, default=str)


def _idle(b: Binding) -> bool:
    return (
        b.cur < 0
        and not b.history
        and b.lift_since is None
        and b.clear_since is None
        and all(s is None for s in b.since)
        and not any(c[0] for c in b.latches)
    )


def group_key(g: AreaGroup, key_of: KeyOf) -> str:
    first = next(iter(g.members.values()), None)
    return key_of(first.where.district if first is not None else None)


def take(engine: Engine, key_of: KeyOf) -> dict[str, dict[str, Any]]:
    """The engine's state, by key."""
    out: dict[str, dict[str, Any]] = {}

    def of(key: str) -> dict[str, Any]:
        found = out.get(key)
        if found is None:
            found = out[key] = {"format": FORMAT, "streams": {}, "bindings": [], "groups": []}
        return found

    for sid, s in engine.streams.items():
        ser = s.series
        first = bisect_right(ser.t, ser.last - ser.horizon) if ser.t else 0  # what no window sees goes
        daily = {
            _agg_key(k): {str(day): v for day, v in a.days.items()}
            for k, a in s.aggs.items()
            if isinstance(a, Daily) and a.days
        }
        of(key_of(s.district))["streams"][str(sid)] = {
            "t": _floats(ser.t[first:]),
            "v": _floats(ser.v[first:]),
            "seen": ser.last_seen,
            "daily": daily,
        }
    for b in engine.bindings:
        if _idle(b):
            continue
        of(key_of(b.where.district))["bindings"].append(
            [
                b.rule.id,
                b.rule.version,
                b.subject,
                b.cur,
                list(b.since),
                b.clear_since,
                b.entered,
                [list(h) for h in b.history],
                [c[0] for c in b.latches],
                b.lift_since,
            ]
        )
    for code, g in engine.groups.items():
        if g.level > Crisis.none:
            of(group_key(g, key_of))["groups"].append(
                [g.rule.id, g.rule.version, code, int(g.level), g.entered]
            )
    return out


def restore(engine: Engine, states: Iterable[dict[str, Any]]) -> set[int]:
    """Put saved states back into a planned engine; returns the streams whose samples were restored
    (the others need warming up from history). What the plan no longer has is left out."""
    bindings = {(b.rule.id, b.rule.version, b.subject): b for b in engine.bindings}
    restored: set[int] = set()
    for state in states:
        if state.get("format") != FORMAT:
            continue
        for sid_text, st in state["streams"].items():
            s = engine.streams.get(int(sid_text))
            if s is None:
                continue
            ser = s.series
            ser.t = _array(st["t"])
            ser.v = _array(st["v"])
            ser.last_seen = st["seen"]
            by_key = {_agg_key(k): a for k, a in s.aggs.items()}
            for k, days in st["daily"].items():
                a = by_key.get(k)
                if isinstance(a, Daily):
                    a.days = {int(d): float(v) for d, v in days.items()}
            ser.rebuild()  # a daily aggregate keeps the days older than the samples
            s.checkpoints = []
            restored.add(s.info.datastream_id)
        for rule_id, version, subject, cur, since, clear_since, entered, history, latches, lift in state[
            "bindings"
        ]:
            b = bindings.get((rule_id, version, subject))
            if b is None or cur >= len(b.fns) or len(since) != len(b.fns) or len(latches) != len(b.latches):
                continue
            b.cur, b.clear_since, b.entered, b.lift_since = cur, clear_since, entered, lift
            b.since = list(since)
            b.history = [(float(t), int(lv)) for t, lv in history]
            for cell, v in zip(b.latches, latches, strict=True):
                cell[0] = bool(v)
        for rule_id, version, code, level, entered in state["groups"]:
            g = engine.groups.get(code)
            if g is not None and g.rule.id == rule_id and g.rule.version == version:
                g.level, g.entered = Crisis(level), entered
    return restored


def conditions(
    engine: Engine, key_of: KeyOf, now: datetime | None, keys: set[str] | None = None
) -> dict[str, list[dict[str, Any]]]:
    """The conditions at a level (as on the board), by key (of ``keys`` only, when given)."""
    bindings: dict[str, list[Binding]] = {}
    groups: dict[str, list[AreaGroup]] = {}
    for b in engine.bindings:
        if b.cur >= 0 and b.group is None:
            k = key_of(b.where.district)
            if keys is None or k in keys:
                bindings.setdefault(k, []).append(b)
    for g in engine.groups.values():
        if g.level > Crisis.none:
            k = group_key(g, key_of)
            if keys is None or k in keys:
                groups.setdefault(k, []).append(g)
    return {k: active_conditions(bindings.get(k, ()), groups.get(k, ()), now) for k in {*bindings, *groups}}


# -- the table --------------------------------------------------------------------------------------
def load(conn: Connection, keys: Iterable[str] | None) -> list[Saved]:
    """The saved states of these keys (every key when None)."""
    q = select(engine_state.c.key, engine_state.c.position, engine_state.c.state)
    if keys is not None:
        q = q.where(engine_state.c.key.in_(list(keys)))
    out = []
    for r in conn.execute(q.order_by(engine_state.c.key)):
        state = json.loads(zlib.decompress(r.state)) if r.state is not None else None
        out.append(Saved(r.key, int(r.position), state))
    return out


def save(
    conn: Connection,
    engine: str,
    position: int,
    states: Mapping[str, dict[str, Any]],
    held: Mapping[str, list[dict[str, Any]]],
    now: datetime,
    keys: Iterable[str],
) -> None:
    """Write the state of ``keys`` (each key's row replaced): ``states`` and the conditions ``held``
    (keys without any: none at a level)."""
    for key in keys:
        state = states.get(key)
        conn.execute(delete(engine_state).where(engine_state.c.key == key))
        conn.execute(
            insert(engine_state).values(
                key=key,
                position=position,
                state=zlib.compress(json.dumps(state, separators=(",", ":")).encode(), 1) if state else None,
                taken_at=now,
                conditions=held.get(key, []),
                conditions_at=now,
                engine=engine,
            )
        )


def save_conditions(
    conn: Connection,
    engine: str,
    held: Mapping[str, list[dict[str, Any]]],
    keys: Iterable[str],
    now: datetime,
) -> None:
    """Write the conditions of ``keys`` (between two states: the level changes as they happen)."""
    for key in keys:
        done = conn.execute(
            update(engine_state)
            .where(engine_state.c.key == key)
            .values(conditions=held.get(key, []), conditions_at=now, engine=engine)
        )
        if not done.rowcount:
            conn.execute(
                insert(engine_state).values(
                    key=key, position=0, conditions=held.get(key, []), conditions_at=now, engine=engine
                )
            )


def held_conditions(conn: Connection, keys: Callable[[str], bool] | None = None) -> list[dict[str, Any]]:
    """The conditions at a level every engine saved (of the keys ``keys`` accepts, when given)."""
    out: list[dict[str, Any]] = []
    for key, held in conn.execute(
        select(engine_state.c.key, engine_state.c.conditions).order_by(engine_state.c.key)
    ):
        if keys is None or keys(key):
            out.extend(held or [])
    return out
