# SPDX-License-Identifier: Apache-2.0
"""Saving the rule engine's state and resuming from it (issue 15), and the conditions of every engine.

* Every ``SAFECITY_SITUATION__SNAPSHOT_S`` (and when the engine stops) the state of each of its keys is
  written with the position it corresponds to (:mod:`safecity.situation.snapshot`).
* At start (a restart, a standby taking over, a new partition) the engine restores the saved state of its
  keys and reads the observation events after each key's position again from the outbox, up to where its
  bus subscriber stands; the streams without a saved state are warmed up from the observations, as
  before. Events its subscriber had already handled before the restart change no incident again: their
  condition changes were recorded when they were first handled.
* Whenever conditions change, their key's conditions are written at once: any process serves the board
  from them (GET /situation), whichever process evaluates them.
"""

from __future__ import annotations

import time
from itertools import chain
from typing import TYPE_CHECKING, Any

from safecity.bus import HistoryGone
from safecity.core.events import Envelope
from safecity.core.logging import get_logger
from safecity.sensing.events import OBSERVATIONS_ACCEPTED, OBSERVATIONS_KEY, observations
from safecity.situation import snapshot
from safecity.situation.model import ConditionChange

if TYPE_CHECKING:
    from collections.abc import Iterator
    from datetime import datetime

    from safecity.situation.service import Situation

log = get_logger(__name__)


class EngineState:
    def __init__(self, situation: Situation, every_s: float = 60.0) -> None:
        self.s = situation
        self.every_s = every_s
        self._saved_at = time.monotonic()
        self._with_conditions: set[str] = set()  # keys whose saved conditions are not empty
        self.resumed: dict[str, Any] = {}  # what the last start did (for its log line and tests)

    def key_of(self, district: str | None) -> str:
        return self.s.partition.key_of(district)

    def owns_key(self, key: str) -> bool:
        if key == OBSERVATIONS_KEY:
            return self.s.partition.owns(None)
        return key.startswith("district:") and self.s.partition.owns(key.removeprefix("district:"))

    # -- resuming ----------------------------------------------------------------------------------
    def resume(self, keys: list[str] | None, stored: int | None) -> None:
        """Restore the saved state of ``keys`` (every key: None), warm up the streams without one, and
        catch up on the events after the saved positions up to ``stored`` (the subscriber's position;
        None: a new subscriber, up to the newest event)."""
        s = self.s
        started = time.monotonic()
        with s.store.engine.connect() as conn:
            saved = [x for x in snapshot.load(conn, keys) if x.state is not None and self.owns_key(x.key)]
        replay: Iterator[Envelope] = iter(())
        if saved:
            events = s.bus.history(
                OBSERVATIONS_ACCEPTED, min(x.position for x in saved), stored, keys=[x.key for x in saved]
            )
            try:
                first = next(iter(events), None)  # reads (and checks) the outbox before anything changes
            except HistoryGone as e:
                log.warning("rule engine state older than the outbox; warming up instead", error=str(e))
                saved = []
            else:
                replay = chain([first] if first is not None else [], events)
        with s.lock:
            restored = snapshot.restore(s.engine, [x.state for x in saved if x.state is not None])
        missing = {sid for sid in s.engine.streams if sid > 0 and sid not in restored}
        warmed = s.warm_up(only=missing if saved else None)
        positions = {x.key: x.position for x in saved}
        last, replayed = 0, 0
        for env in replay:
            last = env.id
            if env.id <= positions.get(env.key, 0):
                continue  # that key's state has it already
            with s.recording:
                with s.lock:
                    changes = s.engine.process(observations([env], s.engine.streams))  # planned only
                replayed += 1
                if stored is None or env.id > stored:
                    s.record(changes)  # not handled by this subscriber before: its changes are new
        s.position = max(stored or 0, last, *positions.values())
        self.resumed = {
            "keys": len(saved),
            "streams": len(restored),
            "warmed": warmed,
            "events": replayed,
            "position": s.position,
        }
        log.info("rule engine resumed", ms=round((time.monotonic() - started) * 1000, 1), **self.resumed)

    # -- saving ------------------------------------------------------------------------------------
    def due(self) -> bool:
        return time.monotonic() - self._saved_at >= self.every_s

    def save(self) -> int:
        """Write the state of every key of this engine; returns how many keys."""
        s = self.s
        self._saved_at = time.monotonic()
        now = s.clock.now()
        # never between an engine change and its recording (Situation.recording)
        with s.recording, s.lock:
            position = s.position
            states = snapshot.take(s.engine, self.key_of)
            held = snapshot.conditions(s.engine, self.key_of, now)
        keys = set(states) | set(held) | self._with_conditions
        with s.store.write() as conn:
            snapshot.save(conn, s.partition.tag, position, states, held, now, sorted(keys))
        self._with_conditions = set(held)
        return len(keys)

    def changed(self, changes: list[ConditionChange]) -> None:
        """Conditions changed: write the conditions of the keys (districts) they are in. On the
        dispatcher's thread, so only those keys (py-spy under bench/detect.py's load: rewriting every
        key's conditions on each change took 7 % of the dispatcher)."""
        if not changes:
            return
        s = self.s
        now = s.clock.now()
        keys = {self.key_of(c.district_codes[0] if c.district_codes else None) for c in changes}
        with s.lock:
            held = snapshot.conditions(s.engine, self.key_of, now, keys)
        with s.store.write() as conn:
            snapshot.save_conditions(conn, s.partition.tag, held, sorted(keys), now)
        self._with_conditions = (self._with_conditions - keys) | set(held)

    def board(self, now: datetime) -> list[dict[str, Any]]:
        """The conditions at a level: this engine's from memory (their values as of now), the other
        engines' (every engine's in a process without the role rules) as they saved them."""
        s = self.s
        mine: list[dict[str, Any]] = []
        if s.running:
            with s.lock:
                mine = s.engine.active(now)
            if s.partition.whole:
                return mine
        with s.store.engine.connect() as conn:
            others = snapshot.held_conditions(conn, None if not s.running else lambda k: not self.owns_key(k))
        return mine + others
