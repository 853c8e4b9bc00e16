# SPDX-License-Identifier: Apache-2.0
"""Assessments off the bus dispatcher's thread.

An assessment of a big city takes seconds (600,000 buildings); run in a bus handler it would hold every
other subscriber of the process (rules, warnings, MQTT notifications) for as long. So the handlers only
*queue* the work (a row of ``quake_jobs``, in one short transaction, the event's id as its key: a
redelivered event queues nothing twice) and the capability's own worker (``quake.assess``) runs it. The
queue is in the store, so a job survives a restart; a job that fails is tried again on the worker's next
round, up to :data:`MAX_ATTEMPTS` times, its error kept on the row.

Without running workers (a test or the demo's judge driving the bus by hand, ``start_services=False``)
the handler runs the queue itself, at once, as before: the same code either way, and a failure then
raises to the bus (its retry and dead letters), as a handler's failure does.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from safecity.bus.port import Handler
from safecity.capability import Context
from safecity.core.events import Envelope
from safecity.core.logging import get_logger
from safecity.core.worker import Worker
from safecity.quake import tables as t
from safecity.quake.capmsg import CapQuakeError, quake_from_alert
from safecity.situation.events import IncidentOpened, IncidentUpdated
from safecity.warning.cap.json import from_json
from safecity.warning.events import AlertImported
from safecity.warning.service import Warnings

if TYPE_CHECKING:
    from safecity.quake.chain import QuakeChain

log = get_logger(__name__)

#: The actor of what the chain writes (its note on an incident comes back as an IncidentUpdated by it).
ACTOR = "quake"
#: Tries of one job before it is left failed (its error on the row, for an operator to see).
MAX_ATTEMPTS = 3


class AssessmentQueue:
    """The queue of one platform's assessments and the worker that runs them."""

    def __init__(self, chain: QuakeChain) -> None:
        self.chain = chain
        self.worker = Worker("quake.assess", self._step, interval_s=5.0)

    # -------------------------------------------------------------------------------------- queueing
    def incident(self, envelope_id: int, incident_id: int, at: datetime) -> None:
        """Queue the assessment of an earthquake incident from the accelerometers."""
        self._put(envelope_id, "incident", {"incident": incident_id, "at": at.isoformat()})

    def message(self, envelope_id: int, cap: dict[str, Any]) -> None:
        """Queue an imported CAP earthquake message (its CAP JSON) to open its incident with damage."""
        self._put(envelope_id, "message", {"cap": cap})

    def _put(self, envelope_id: int, kind: str, payload: dict[str, Any]) -> None:
        try:
            with self.chain.store.write() as conn:
                conn.execute(
                    insert(t.jobs).values(
                        envelope_id=envelope_id,
                        kind=kind,
                        payload=payload,
                        queued_at=self.chain.clock.now(),
                        attempts=0,
                    )
                )
        except IntegrityError:
            pass  # the bus delivered this event again: it is queued already

    def kick(self) -> None:
        """Run the queue: on the worker when it runs, else here and now (raising what fails)."""
        if self.worker.running:
            self.worker.notify()
        else:
            while self.run_one(raise_errors=True):
                pass

    # --------------------------------------------------------------------------------------- running
    def pending(self) -> int:
        j = t.jobs.c
        with self.chain.store.engine.connect() as conn:
            return len(conn.execute(select(j.id).where(j.done_at.is_(None), j.attempts < MAX_ATTEMPTS)).all())

    def _step(self) -> int:
        return 1 if self.run_one(raise_errors=False) else 0

    def run_one(self, *, raise_errors: bool) -> bool:
        """Run the oldest pending job; False when none is pending."""
        j = t.jobs.c
        with self.chain.store.engine.connect() as conn:
            row = conn.execute(
                select(t.jobs).where(j.done_at.is_(None), j.attempts < MAX_ATTEMPTS).order_by(j.id).limit(1)
            ).first()
        if row is None:
            return False
        try:
            self._run(row.kind, dict(row.payload))
        except Exception as e:  # the job's boundary: kept on its row, logged with its context
            log.exception("earthquake assessment failed", job=row.id, kind=row.kind, attempt=row.attempts + 1)
            with self.chain.store.write() as conn:
                conn.execute(
                    update(t.jobs)
                    .where(j.id == row.id)
                    .values(attempts=row.attempts + 1, last_error=f"{type(e).__name__}: {e}"[:500])
                )
            if raise_errors:
                raise
            return True
        with self.chain.store.write() as conn:
            conn.execute(
                update(t.jobs)
                .where(j.id == row.id)
                .values(attempts=row.attempts + 1, done_at=self.chain.clock.now())
            )
        return True

    def _run(self, kind: str, payload: dict[str, Any]) -> None:
        if kind == "incident":
            self.chain.assess_incident(int(payload["incident"]), datetime.fromisoformat(payload["at"]))
            return
        message = quake_from_alert(from_json(payload["cap"]))
        if self.chain.incident_of(message.identifier) is None:  # a repeat opens nothing
            self.chain.assess_quake(message, ACTOR)


def on_incident(ctx: Context) -> Handler:
    """The subscriber to situation's incident events: earthquake incidents are queued for assessment."""
    from safecity.quake.chain import QuakeChain

    chain = ctx.services.get(QuakeChain)

    def handle(batch: Sequence[Envelope]) -> None:
        queued = False
        for envelope in batch:
            data = envelope.data
            if not isinstance(data, IncidentOpened | IncidentUpdated):
                continue
            if data.hazard != "earthquake" or data.actor == ACTOR:
                continue  # not an earthquake, or our own note on the incident coming back
            chain.queue.incident(envelope.id, data.incident_id, data.at)
            queued = True
        if queued:
            chain.queue.kick()

    return handle


def on_alert_imported(ctx: Context) -> Handler:
    """The subscriber to imported CAP alerts (``POST /alerts/import``): an earthquake message is queued
    to open an earthquake incident with its expected damage; any other alert is not ours."""
    from safecity.quake.chain import QuakeChain

    chain = ctx.services.get(QuakeChain)
    warnings = ctx.services.get(Warnings)

    def handle(batch: Sequence[Envelope]) -> None:
        queued = False
        for envelope in batch:
            if not isinstance(envelope.data, AlertImported):
                continue
            full = warnings.get(envelope.data.identifier)
            try:
                quake_from_alert(from_json(full.cap))  # cheap: only earthquake messages are queued
            except CapQuakeError:
                continue  # not an earthquake message, or one without a magnitude and an epicentre
            chain.queue.message(envelope.id, full.cap)
            queued = True
        if queued:
            chain.queue.kick()

    return handle
