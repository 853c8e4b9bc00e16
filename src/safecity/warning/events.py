# SPDX-License-Identifier: Apache-2.0
"""The warning capability's events on the bus, written in the same transaction as the alert rows.

* ``warning.AlertDrafted``: a draft waits for approval (``identifier, incidentId, msgType, level``).
* ``warning.AlertIssued``: an alert (or a ``Cancel`` of one) went out (``identifier, incidentId,
  msgType, auto, recipients, queued``); ``actor`` is who issued it (``system`` when automatic).
* ``warning.AlertImported``: another agency's alert was taken in (``identifier, sender``).

The key is the alert's identifier: one alert's events in order.
"""

from __future__ import annotations

from pydantic import Field

from safecity.core.events import AuditFacts, Event

ALERT_ISSUED = "warning.AlertIssued"
ALERT_DRAFTED = "warning.AlertDrafted"
ALERT_IMPORTED = "warning.AlertImported"


class _AlertEvent(Event):
    identifier: str

    def ordering_key(self) -> str:
        return f"alert:{self.identifier}"


class AlertDrafted(_AlertEvent):
    type = ALERT_DRAFTED

    incident_id: int | None = Field(alias="incidentId")
    msg_type: str = Field(alias="msgType")
    level: int


class AlertIssued(_AlertEvent):
    type = ALERT_ISSUED

    incident_id: int | None = Field(alias="incidentId")
    msg_type: str = Field(alias="msgType")
    auto: bool
    recipients: int
    queued: int
    actor: str = "system"
    references: str | None = None  # a Cancel or Update: the alerts it refers to
    districts: list[str] = Field(default_factory=list)

    def audit_facts(self) -> AuditFacts:
        # A CAP alert is withdrawn by issuing a Cancel that references it: both are issues here.
        return AuditFacts(
            "alert.cancelled" if self.msg_type == "Cancel" else "alert.issued",
            f"alert:{self.identifier}",
            self.actor,
            automatic=self.auto or self.actor == "system",
            details={
                "msgType": self.msg_type,
                "auto": self.auto,
                "incidentId": self.incident_id,
                "references": self.references,
                "districts": self.districts,
            },
        )


class AlertImported(_AlertEvent):
    type = ALERT_IMPORTED

    sender: str
