# SPDX-License-Identifier: Apache-2.0
"""Alerts issued and cancelled, into the audit log (by a person, or by the platform itself).

A CAP alert is cancelled by issuing a ``Cancel`` message that references it, so both arrive as an issue
from the warning service's listeners, after the issuing transaction committed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from safecity.audit.model import ActorKind, AuditEvent
from safecity.audit.service import AuditLog
from safecity.warning.events import ALERT_ISSUED


class _Alerts(Protocol):
    def get(self, identifier: str) -> dict[str, Any]: ...


def alert_listener(audit: AuditLog, warnings: _Alerts) -> Callable[[dict[str, Any]], None]:
    """A ``Warnings.listeners`` entry that appends ``alert.issued`` / ``alert.cancelled``."""

    def on_alert(event: dict[str, Any]) -> None:
        if event.get("topic") != ALERT_ISSUED:
            return
        identifier = str(event["identifier"])
        alert = warnings.get(identifier)
        actor = str(event.get("actor") or "system")
        automatic = bool(event.get("auto")) or actor == "system"
        audit.record(
            AuditEvent(
                action="alert.cancelled" if alert.get("msgType") == "Cancel" else "alert.issued",
                target=f"alert:{identifier}",
                actor=actor,
                actor_kind=ActorKind.system if automatic else ActorKind.user,
                outcome="ok",
                details={
                    "msgType": alert.get("msgType"),
                    "auto": bool(event.get("auto")),
                    "incidentId": alert.get("incidentId"),
                    "references": alert.get("references"),
                    "districts": alert.get("districts"),
                },
            )
        )

    return on_alert
