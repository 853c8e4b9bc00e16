# SPDX-License-Identifier: Apache-2.0
"""Audit entries fed from the bus: what other capabilities announce that the log must keep.

Entries are dated with the event's time (when it happened, not when it was delivered). The bus
delivers at least once: after a crash between writing an entry and saving the subscriber's position an
entry may be written twice; both carry the event's id in their details, so a reader can tell.
"""

from __future__ import annotations

from collections.abc import Sequence

from safecity.audit.model import ActorKind, AuditEvent
from safecity.audit.service import AuditLog
from safecity.bus.events import ReplayRequested
from safecity.bus.port import Handler
from safecity.core.events import Envelope


def replay_recorder(audit: AuditLog) -> Handler:
    """``bus.replay``: who asked for a dead letter to be delivered again."""

    def on_events(events: Sequence[Envelope]) -> None:
        entries = [
            AuditEvent(
                action="bus.replay",
                target=f"dead-letter:{e.data.dead_letter_id}",
                actor=e.data.actor,
                actor_kind=ActorKind.user,
                outcome="ok",
                details={
                    "eventId": e.id,
                    "subscriber": e.data.subscriber,
                    "deadEventId": e.data.event_id,
                    "deadEventType": e.data.event_type,
                },
                at=e.time,
            )
            for e in events
            if isinstance(e.data, ReplayRequested)
        ]
        if entries:
            audit.record_many(entries)

    return on_events
