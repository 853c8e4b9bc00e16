# SPDX-License-Identifier: Apache-2.0
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError

from safecity.core.clock import Clock
from safecity.core.errors import BadRequest
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


class ShiftWorker:
    """The capability's background worker: holds the shift open while the app runs."""

    name = "logbook.shift"

    def __init__(self, logbook: Logbook) -> None:
        self.logbook = logbook
        self.running = False

    def start(self) -> None:
        self.running = True

    def stop(self) -> None:
        self.running = False

    def healthy(self) -> bool:
        return self.running
