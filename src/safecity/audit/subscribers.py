# SPDX-License-Identifier: Apache-2.0
"""Audit entries fed from the bus: every event whose class says what the log keeps of it
(:meth:`~safecity.core.events.Event.audit_facts`: alerts issued and cancelled, dead letters replayed).

The audit capability imports no other capability: it subscribes to the audited types found in the
event catalogue. Entries are dated with the event's time (when it happened, not when it was delivered)
and carry the event's id; the bus delivers at least once, so after a crash between writing an entry and
saving the subscriber's position an entry may appear twice, with the same ``eventId``.
"""

from __future__ import annotations

from collections.abc import Sequence

from safecity.audit.model import ActorKind, AuditEvent
from safecity.audit.service import AuditLog
from safecity.bus.port import Handler
from safecity.core.events import Envelope

SUBSCRIBER = "audit.events"


def event_recorder(audit: AuditLog) -> Handler:
    def on_events(events: Sequence[Envelope]) -> None:
        entries: list[AuditEvent] = []
        for e in events:
            facts = e.data.audit_facts()
            if facts is None:
                continue
            entries.append(
                AuditEvent(
                    action=facts.action,
                    target=facts.target,
                    actor=facts.actor,
                    actor_kind=ActorKind.system if facts.automatic else ActorKind.user,
                    outcome="ok",
                    details={**facts.details, "eventId": e.id},
                    at=e.time,
                )
            )
        if entries:
            audit.record_many(entries)

    return on_events
