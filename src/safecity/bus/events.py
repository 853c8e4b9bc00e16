# SPDX-License-Identifier: Apache-2.0
"""The bus's own events.

* ``bus.ReplayRequested``: an operator asked for a dead letter to be delivered again (from the API or
  ``safecity bus replay``); written in the same transaction as the request, so the audit capability
  records who asked, whichever process took the request.
"""

from __future__ import annotations

from pydantic import Field

from safecity.core.events import AuditFacts, Event

REPLAY_REQUESTED = "bus.ReplayRequested"


class ReplayRequested(Event):
    type = REPLAY_REQUESTED

    dead_letter_id: int = Field(alias="deadLetterId")
    subscriber: str
    event_id: int = Field(alias="eventId")
    event_type: str = Field(alias="eventType")
    actor: str

    def ordering_key(self) -> str:
        return f"dead-letter:{self.dead_letter_id}"

    def audit_facts(self) -> AuditFacts:
        return AuditFacts(
            "bus.replay",
            f"dead-letter:{self.dead_letter_id}",
            self.actor,
            automatic=False,
            details={
                "subscriber": self.subscriber,
                "deadEventId": self.event_id,
                "deadEventType": self.event_type,
            },
        )
