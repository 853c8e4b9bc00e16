# SPDX-License-Identifier: Apache-2.0
"""Watching people with dementia for wandering as their fixes arrive (:mod:`safecity.care.wandering`).

Only people whose record says ``dementia`` (which needs the separate PIPA §23 consent) are watched.
Each keeps a 30-minute window of fixes in memory; the person's usual places come from their own stored
history (the 14 days before the window, recomputed at most hourly). A window scoring at or above the
verified threshold raises one ``wandering`` alert (then none for the window's length), stored with
the fence alerts and published as ``care.WanderingSuspected``.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import insert, select

from safecity.bus.port import Bus
from safecity.care.events import WanderingSuspected
from safecity.care.model import PersonKind, Position
from safecity.care.tables import alerts, people, positions
from safecity.care.wandering import THRESHOLD, familiar_cells, measure, to_plane
from safecity.core.clock import Clock
from safecity.store import Store

WINDOW = timedelta(minutes=30)
HISTORY = timedelta(days=14)
MIN_FIXES = 20
REFRESH = timedelta(hours=1)


class WanderingWatch:
    def __init__(self, store: Store, clock: Clock, bus: Bus) -> None:
        self.store = store
        self.clock = clock
        self.bus = bus
        self._lock = threading.Lock()
        self._windows: dict[int, deque[Position]] = {}
        self._familiar: dict[int, tuple[datetime, tuple[float, float], set[tuple[int, int]]]] = {}
        self._quiet_until: dict[int, datetime] = {}
        self._kinds: dict[int, bool] = {}

    def forget(self, person_id: int) -> None:
        with self._lock:
            self._windows.pop(person_id, None)
            self._familiar.pop(person_id, None)
            self._kinds.pop(person_id, None)

    def on_fixes(self, fixes: Sequence[Position]) -> list[float]:
        """Fixes of any people, in time order per person. Returns the scores of the windows it
        measured (for the bench and tests)."""
        mine: dict[int, list[Position]] = {}
        self._learn({f.person_id for f in fixes if f.person_id not in self._kinds})
        for f in fixes:
            if self._watched(f.person_id):
                mine.setdefault(f.person_id, []).append(f)
        return [score for pid, own in mine.items() for score in self._on_person(pid, own)]

    def _on_person(self, pid: int, fixes: list[Position]) -> list[float]:
        with self._lock:
            window = self._windows.setdefault(pid, deque())
            for f in fixes:
                if not window or f.at > window[-1].at:
                    window.append(f)
            while window and window[-1].at - window[0].at > WINDOW:
                window.popleft()
            snapshot = list(window)
        if len(snapshot) < MIN_FIXES or snapshot[-1].at < self._quiet_until.get(pid, snapshot[0].at):
            return []
        origin, familiar = self._usual(pid, snapshot[0].at)
        m = measure(to_plane([p.lon for p in snapshot], [p.lat for p in snapshot], origin), familiar)
        if m.score >= THRESHOLD:
            last = snapshot[-1]
            self._quiet_until[pid] = last.at + WINDOW
            with self.store.write() as conn:
                conn.execute(
                    insert(alerts).values(
                        person_id=pid,
                        fence_id=None,
                        kind="wandering",
                        at=last.at,
                        lon=last.lon,
                        lat=last.lat,
                        raised_at=self.clock.now(),
                    )
                )
                self.bus.publish(
                    conn,
                    WanderingSuspected(
                        person_id=pid,
                        at=last.at,
                        lon=last.lon,
                        lat=last.lat,
                        score=round(m.score, 3),
                        loops=round(m.loops, 2),
                    ),
                )
        return [m.score]

    def _learn(self, pids: set[int]) -> None:
        """Who of these people has dementia, in one read (a batch of people first seen since start-up
        would otherwise read the table once each)."""
        if not pids:
            return
        with self.store.engine.connect() as conn:
            rows = conn.execute(select(people.c.id, people.c.kind).where(people.c.id.in_(sorted(pids))))
            known = {int(r[0]): r[1] == PersonKind.dementia.value for r in rows}
        self._kinds.update(known)

    def _watched(self, pid: int) -> bool:
        known = self._kinds.get(pid)
        if known is None:
            with self.store.engine.connect() as conn:
                kind = conn.execute(select(people.c.kind).where(people.c.id == pid)).scalar()
            known = kind == PersonKind.dementia.value
            self._kinds[pid] = known
        return known

    def _usual(self, pid: int, before: datetime) -> tuple[tuple[float, float], set[tuple[int, int]]]:
        cached = self._familiar.get(pid)
        if cached is not None and before - cached[0] < REFRESH:
            return cached[1], cached[2]
        with self.store.engine.connect() as conn:
            rows = conn.execute(
                select(positions.c.lon, positions.c.lat).where(
                    positions.c.person_id == pid, positions.c.at < before, positions.c.at >= before - HISTORY
                )
            ).all()
            home = conn.execute(
                select(people.c.home_lon, people.c.home_lat).where(people.c.id == pid)
            ).first()
        if home is not None and home[0] is not None:
            origin = (float(home[0]), float(home[1]))
        elif rows:
            origin = (float(rows[0][0]), float(rows[0][1]))
        else:
            origin = (0.0, 0.0)
        familiar = (
            familiar_cells(to_plane([r[0] for r in rows], [r[1] for r in rows], origin)) if rows else set()
        )
        self._familiar[pid] = (before, origin, familiar)
        return origin, familiar
