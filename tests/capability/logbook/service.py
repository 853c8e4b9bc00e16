# SPDX-License-Identifier: Apache-2.0
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError

from safecity.core.clock import Clock
from safecity.core.errors import BadRequest
from safecity.core.worker import Worker
from safecity.store import Store
from tests.capability.logbook.settings import LogbookSettings
from tests.capability.logbook.tables import entries


@dataclass(frozen=True)
class Entry:
    id: int
    shift: str
    text: str
    author: str
    incident_id: int | None
    at: datetime


class Logbook:
    def __init__(self, store: Store, clock: Clock, settings: LogbookSettings) -> None:
        self.store = store
        self.clock = clock
        self.settings = settings

    def write(self, text: str, author: str, incident_id: int | None = None) -> Entry | None:
        """Add an entry; None when the incident already has one (a repeated event changes nothing)."""
        if not text.strip() or len(text) > self.settings.max_entry_chars:
            raise BadRequest(f"text: 1 to {self.settings.max_entry_chars} characters", where="text")
        row = {
            "shift": self.settings.shift_name,
            "text": text,
            "author": author,
            "incident_id": incident_id,
            "at": self.clock.now(),
        }
        try:
            with self.store.write() as conn:
                new_id = conn.execute(insert(entries).values(**row).returning(entries.c.id)).scalar_one()
        except IntegrityError:
            return None
        return Entry(id=new_id, **row)  # type: ignore[arg-type]

    def entries(self) -> list[Entry]:
        with self.store.engine.connect() as conn:
            rows = conn.execute(select(entries).order_by(entries.c.id)).mappings().all()
        return [Entry(**r) for r in rows]

    def count(self) -> int:
        with self.store.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(entries)).scalar_one())


def shift_worker(logbook: Logbook) -> Worker:
    """The capability's background worker (the platform's one lifecycle): opens the shift with an
    entry once the app runs, then idles."""
    opened = False

    def step() -> int:
        nonlocal opened
        if opened:
            return 0
        logbook.write(f"shift {logbook.settings.shift_name} opened", "system")
        opened = True
        return 1

    return Worker("logbook.shift", step, interval_s=60.0)
