# SPDX-License-Identifier: Apache-2.0
"""Right people, right level: an incident's alerts, one per level band.

An incident's areas can sit at different levels (the storm is 심각 over 관악구 and 주의 over 종로구). One
alert at the incident's highest level would tell the 종로구 residents to evacuate, so the platform keeps
one alert *thread* per band: each thread is a CAP Alert followed by its Updates and ending with a Cancel,
and targets only the areas whose own level is the thread's level. When an area changes band the threads
are re-planned (:func:`plan`): the thread that loses it is updated (or cancelled when nothing is left)
and the thread of its new band gains it (or a new thread starts), so that at every moment each person's
alert matches their area's own level. 관심 (attention) is for the situation room, not for citizens: no
band below :data:`MIN_LEVEL`.

A thread is named by the identifier of its first Alert (CAP parameter :data:`THREAD_PARAM` on every
message of the thread), so the threads in force are read back from the issued alerts alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from safecity.situation.model import Crisis

#: The lowest level at which citizens are warned.
MIN_LEVEL = Crisis.caution
#: CAP <parameter> naming the thread (the identifier of its first Alert) on every message of it.
THREAD_PARAM = "SAFECITY_THREAD"


@dataclass(frozen=True)
class Thread:
    """An alert thread in force: its latest issued message (not a Cancel)."""

    key: str  # the identifier of the thread's first Alert
    identifier: str  # its latest message
    references: str  # CAP "sender,identifier,sent" of the latest message, for the next one
    level: Crisis
    codes: frozenset[str]
    auto: bool  # the latest message was issued automatically


@dataclass(frozen=True)
class Step:
    """One message the plan calls for."""

    msg_type: str  # Alert | Update | Cancel
    level: Crisis  # the band (a Cancel: the level of the thread it ends)
    codes: tuple[str, ...]  # sorted area codes (a Cancel: the thread's areas, who must hear it)
    thread: Thread | None  # the thread it continues; None: a new thread
    #: it tells nobody of a higher level than the alert they already have in force: what the platform may
    #: issue by itself when levels fall (a stale alert must not wait for an operator)
    lowering: bool
    #: a Cancel whose areas are still in a (lower) band: it says "lowered", not "all clear"
    lowered: bool = False

    @property
    def key(self) -> tuple[str, int, tuple[str, ...], str]:
        return (self.msg_type, int(self.level), self.codes, self.thread.identifier if self.thread else "")


def bands(levels: Mapping[str, Crisis]) -> dict[Crisis, frozenset[str]]:
    """Area codes by level, for the levels citizens are warned at."""
    out: dict[Crisis, set[str]] = {}
    for code, level in levels.items():
        if level >= MIN_LEVEL:
            out.setdefault(Crisis(level), set()).add(code)
    return {k: frozenset(v) for k, v in out.items()}


def plan(levels: Mapping[str, Crisis], threads: Iterable[Thread], renew: Iterable[str] = ()) -> list[Step]:
    """The messages that make the threads in force match ``levels`` (each area's own level; an empty
    mapping when the incident has ended). ``renew``: keys of threads to re-issue unchanged (their
    ``<expires>`` is near while the condition lasts). Highest bands first.

    Matching: a band keeps the thread already at its level (the one sharing most areas); a thread left
    without a band takes the remaining band it shares most areas with (an Update that changes its level);
    threads left over are cancelled and bands left over start new threads.
    """
    wanted = bands(levels)
    free = sorted(threads, key=lambda t: (-int(t.level), t.key))
    renewing = set(renew)
    in_force: dict[str, Crisis] = {}
    for t in free:
        for c in t.codes:
            in_force[c] = max(in_force.get(c, Crisis.none), t.level)
    pairs: list[tuple[Thread | None, Crisis, frozenset[str]]] = []
    open_bands = dict(sorted(wanted.items(), key=lambda kv: -int(kv[0])))
    for level, codes in list(open_bands.items()):
        same = [t for t in free if t.level == level]
        if same:
            t = max(same, key=lambda t: len(t.codes & codes))
            free.remove(t)
            pairs.append((t, level, codes))
            del open_bands[level]
    for t in list(free):
        if not open_bands:
            break
        level, codes = max(open_bands.items(), key=lambda kv: (len(t.codes & kv[1]), int(kv[0])))
        if t.codes & codes:
            free.remove(t)
            pairs.append((t, level, codes))
            del open_bands[level]
    pairs += [(None, level, codes) for level, codes in open_bands.items()]

    steps: list[Step] = []
    for prev, level, codes in sorted(pairs, key=lambda p: -int(p[1])):
        if prev is not None and prev.level == level and prev.codes == codes and prev.key not in renewing:
            continue
        gains_nothing = all(in_force.get(c, Crisis.none) >= level for c in codes)
        removed = prev.codes - codes if prev is not None else frozenset()
        loses_safely = all(levels.get(c, Crisis.none) < prev.level for c in removed) if prev else True
        steps.append(
            Step(
                "Alert" if prev is None else "Update",
                level,
                tuple(sorted(codes)),
                prev,
                gains_nothing and loses_safely,
            )
        )
    for t in free:
        still = [c for c in t.codes if levels.get(c, Crisis.none) >= MIN_LEVEL]
        steps.append(
            Step(
                "Cancel",
                t.level,
                tuple(sorted(t.codes)),
                t,
                lowering=all(levels.get(c, Crisis.none) < t.level for c in t.codes),
                lowered=bool(still),
            )
        )
    return steps
