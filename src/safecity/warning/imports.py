# SPDX-License-Identifier: Apache-2.0
"""Imports of other agencies' CAP alerts (parsed safely, validated, nothing lost) for the board. A base
of :class:`~safecity.warning.service.Warnings`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.engine import Connection

from safecity.bus import Bus
from safecity.core.clock import Clock
from safecity.core.errors import BadRequest, Conflict
from safecity.store import Store
from safecity.warning import tables as t
from safecity.warning.cap.json import to_json
from safecity.warning.cap.xml import from_xml, validate
from safecity.warning.drafting import DONG_GEOCODE
from safecity.warning.events import ALERT_IMPORTED
from safecity.warning.model import AlertDetail


class AlertImporter:
    store: Store
    bus: Bus
    clock: Clock
    xsd: Any
    get: Callable[[str], AlertDetail]
    _log: Callable[[Connection, int, Any, str, str, dict[str, Any]], None]

    def import_cap(self, data: bytes, actor: str) -> list[AlertDetail]:
        """Store CAP alerts of another agency (parsed safely, validated, nothing lost) for the board."""
        alert = from_xml(data)
        if self.xsd is not None:
            problems = validate(data, self.xsd)
            if problems:
                raise BadRequest(
                    "not a valid CAP 1.2 alert: " + "; ".join(problems[:5]), where="body", details=problems
                )
        now = self.clock.now()
        with self.store.write() as conn:
            exists = conn.execute(
                select(t.alerts.c.id).where(t.alerts.c.identifier == alert.identifier)
            ).scalar_one_or_none()
            if exists is not None:
                raise Conflict(f"alert {alert.identifier} is already here", where="identifier")
            codes = sorted(
                {
                    g.value
                    for i in alert.infos
                    for a in i.areas
                    for g in a.geocodes
                    if g.value_name in ("KR.SIG", "SIG_CD", DONG_GEOCODE)
                }
            )
            alert_id = conn.execute(
                insert(t.alerts)
                .values(
                    identifier=alert.identifier,
                    sender=alert.sender,
                    state="issued",
                    msg_type=alert.msg_type.value,
                    origin="import",
                    cap=to_json(alert),
                    xml=data.decode("utf-8", errors="replace"),
                    districts=codes,
                    sent=alert.sent,
                    expires=min((i.expires for i in alert.infos if i.expires), default=None),
                    created_at=now,
                    updated_at=now,
                    created_by=actor,
                    decided_by=actor,
                    decided_at=now,
                )
                .returning(t.alerts.c.id)
            ).scalar_one()
            self._log(conn, alert_id, now, actor, "imported", {"sender": alert.sender})
            self.bus.publish(conn, ALERT_IMPORTED, {"identifier": alert.identifier, "sender": alert.sender})
        self.bus.notify()
        return [self.get(alert.identifier)]

    # -- reading -----------------------------------------------------------------------------------
