# SPDX-License-Identifier: Apache-2.0
"""The dispatch capability's events. Status changes and dispatches are audited through
:meth:`Event.audit_facts` (the audit capability subscribes to every such type without importing us).

* ``CallReceived``: ``callId, type, category, incident, lon, lat, district, source, at, actor``
* ``UnitsDispatched``: ``callId, units (callsigns), travelS (per unit, estimated road time), route
  (the corridor for traffic-signal preemption, [lon, lat] pairs per unit), at, actor``
* ``UnitStatusChanged``: ``unit (callsign), unitType, status, previous, callId, at, actor, note``
* ``HospitalCapacityChanged``: ``hospital (code), capacity, previous, at, actor, note``
"""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from safecity.core.events import AuditFacts, Event

CALL_RECEIVED = "dispatch.CallReceived"
UNITS_DISPATCHED = "dispatch.UnitsDispatched"
UNIT_STATUS_CHANGED = "dispatch.UnitStatusChanged"
HOSPITAL_CAPACITY_CHANGED = "dispatch.HospitalCapacityChanged"


class CallReceived(Event):
    type = CALL_RECEIVED

    call_id: int = Field(alias="callId")
    call_type: str = Field(alias="callType")
    category: str
    incident: int
    lon: float
    lat: float
    district: str | None
    source: str
    at: datetime
    actor: str

    def ordering_key(self) -> str:
        return f"call:{self.call_id}"

    def audit_facts(self) -> AuditFacts:
        return AuditFacts(
            "dispatch.call_received",
            f"call:{self.call_id}",
            self.actor,
            automatic=self.source == "rule",
            details={"type": self.call_type, "incident": self.incident, "district": self.district},
        )


class UnitsDispatched(Event):
    type = UNITS_DISPATCHED

    call_id: int = Field(alias="callId")
    units: list[str]
    travel_s: list[float] = Field(alias="travelS")
    route: list[list[list[float]]] = Field(default_factory=list)
    at: datetime
    actor: str

    def ordering_key(self) -> str:
        return f"call:{self.call_id}"

    def audit_facts(self) -> AuditFacts:
        return AuditFacts(
            "dispatch.units_dispatched",
            f"call:{self.call_id}",
            self.actor,
            automatic=False,
            details={"units": self.units, "travelS": [round(t, 1) for t in self.travel_s]},
        )


class UnitStatusChanged(Event):
    type = UNIT_STATUS_CHANGED

    unit: str
    unit_type: str = Field(alias="unitType")
    status: str
    previous: str
    call_id: int | None = Field(None, alias="callId")
    at: datetime
    actor: str
    note: str | None = None

    def ordering_key(self) -> str:
        return f"unit:{self.unit}"

    def audit_facts(self) -> AuditFacts:
        return AuditFacts(
            "dispatch.unit_status",
            f"unit:{self.unit}",
            self.actor,
            automatic=self.actor == "system",
            details={"status": self.status, "previous": self.previous, "callId": self.call_id},
        )


class HospitalCapacityChanged(Event):
    """An emergency department's capacity as said by a dispatcher or operator (audited: who said what)."""

    type = HOSPITAL_CAPACITY_CHANGED

    hospital: str
    capacity: int
    previous: int
    at: datetime
    actor: str
    note: str | None = None

    def ordering_key(self) -> str:
        return f"hospital:{self.hospital}"

    def audit_facts(self) -> AuditFacts:
        return AuditFacts(
            "dispatch.hospital_capacity",
            f"hospital:{self.hospital}",
            self.actor,
            automatic=False,
            details={"capacity": self.capacity, "previous": self.previous, "note": self.note},
        )
