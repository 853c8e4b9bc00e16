# SPDX-License-Identifier: Apache-2.0
"""The event contract: one envelope for every event, typed payloads declared by each capability.

An event crosses capability boundaries (and, with a broker adapter, process boundaries) as an
:class:`Envelope`: ``id`` (its position in the outbox, increasing in commit order), ``type``
(``"<capability>.<Name>"``), ``version`` (of the payload's shape), ``time`` (when it was published, on
the platform's clock), ``source`` (the capability that published it), ``key`` (events with the same key
are delivered in the order they were committed; e.g. one incident) and ``data`` (the payload).

Payloads are self-contained: a subscriber never has to read the publisher's tables to understand an
event. Each capability declares its payloads in its own ``events.py`` as subclasses of :class:`Event`;
a subclass registers itself under its ``type`` so the bus can read an outbox row back into the class.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, SerializeAsAny

_TYPES: dict[str, type[Event]] = {}


@dataclass(frozen=True, slots=True)
class AuditFacts:
    """What the audit log keeps of an event (see :meth:`Event.audit_facts`)."""

    action: str  # e.g. alert.issued
    target: str  # e.g. alert:<identifier>
    actor: str
    automatic: bool  # done by the platform itself, not by a person
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class IncidentReport:
    """An incident an event asks the situation room to open (see :meth:`Event.incident_report`).
    ``ref`` names what happened once (a repeated delivery, or a second publisher of the same thing,
    opens no second incident); ``level`` is a crisis level 1-4; titles in Korean and English."""

    ref: str
    hazard: str
    level: int
    title_ko: str
    title_en: str
    lon: float | None = None
    lat: float | None = None
    note: str | None = None


class Event(BaseModel):
    """A payload. Subclasses set ``type`` (and ``version`` when the shape changes incompatibly) and
    say which ``key`` orders them; field names are snake_case, the JSON names camelCase aliases."""

    # Extra fields are kept, not refused: a publisher may add a field before its subscribers know it
    # (adding is compatible; removing or changing a field's meaning needs a new ``version``).
    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="allow")

    type: ClassVar[str] = ""
    version: ClassVar[int] = 1

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        name = cls.__dict__.get("type")
        if name:
            known = _TYPES.get(name)
            if known is not None and known.__qualname__ != cls.__qualname__:
                raise TypeError(
                    f"event type {name!r} is declared twice ({known.__module__}, {cls.__module__})"
                )
            _TYPES[name] = cls

    def ordering_key(self) -> str:
        """The envelope's ``key``; the default puts every event of the type in one order. (A method,
        not a field: payloads may have fields of any name, ``key`` and ``source`` included.)"""
        return self.type

    def audit_facts(self) -> AuditFacts | None:
        """What the audit log must keep of this event, if anything. A capability makes an act audited
        by overriding this in its event class; the audit capability subscribes to every such type
        (:func:`audited_types`) without importing the capability."""
        return None

    def incident_report(self) -> IncidentReport | None:
        """The incident this event asks the situation room to open, if any. A capability makes its
        event an operator incident by overriding this in its event class; the situation capability
        subscribes to every such type (:func:`reported_types`) without importing the capability, so the
        event and the incident come from the publisher's one transaction (the outbox)."""
        return None

    @classmethod
    def publisher(cls) -> str:
        """The capability that publishes it (the envelope's ``source``): the type's prefix."""
        return cls.type.split(".", 1)[0]

    def to_json(self) -> dict[str, Any]:
        """The payload as stored in the outbox and sent to brokers (camelCase, JSON types)."""
        return self.model_dump(mode="json", by_alias=True)


def event_class(type_: str) -> type[Event]:
    """The class registered for ``type_``; KeyError names the type when no capability declared it."""
    try:
        return _TYPES[type_]
    except KeyError:
        raise KeyError(
            f"no event class declares type {type_!r} (import the capability's events module)"
        ) from None


def event_types() -> dict[str, type[Event]]:
    """Every declared event type (the event catalogue), by type name."""
    return dict(_TYPES)


def audited_types() -> list[str]:
    """The types whose class says what the audit log keeps of them."""
    return sorted(t for t, cls in _TYPES.items() if cls.audit_facts is not Event.audit_facts)


def reported_types() -> list[str]:
    """The types whose class says which incident they ask for (:meth:`Event.incident_report`)."""
    return sorted(t for t, cls in _TYPES.items() if cls.incident_report is not Event.incident_report)


class Envelope(BaseModel):
    """One event as delivered: the outbox row's identity around the typed payload."""

    model_config = ConfigDict(frozen=True)

    id: int
    type: str
    version: int
    time: datetime
    source: str
    key: str
    data: SerializeAsAny[Event]

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": self.type,
            "version": self.version,
            "time": self.time.isoformat(),
            "source": self.source,
            "key": self.key,
            "data": self.data.to_json(),
        }
