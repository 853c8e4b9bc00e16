# SPDX-License-Identifier: Apache-2.0
"""The situation capability's events on the bus.

Payloads are JSON objects with camelCase keys, written into the outbox in the same transaction as the
incident rows they announce (so a subscriber never hears of an incident the store does not hold).
Every payload has ``incidentId`` (except district-level changes), ``hazard`` and ``at`` (ISO 8601, the
event time). Whoever follows incidents subscribes to these on the bus (at least once per subscriber);
the changing methods of :class:`~safecity.situation.incidents.Incidents` return the same dicts plus
``topic``.

* ``IncidentOpened``: ``incidentId, hazard, level, status, titleKo, titleEn, source, rule, areas, at, actor``
* ``IncidentUpdated``: ``incidentId, hazard, added: {areas, datastreams, things, observations, links,
  notes}, areas, at, actor``; when a change dated before the opening arrived late, also ``openedAt,
  titleKo, titleEn`` (the incident's opening moved back to it)
* ``CrisisLevelChanged``: ``scope`` = ``"incident"`` (``incidentId, hazard, level, previous, areas, at``)
  or ``"district"`` (``district, hazard, level, previous, incidents, at``): the crisis level of one
  district for one hazard over the open incidents' active conditions.
* ``IncidentStatusChanged``: ``incidentId, hazard, status, previous, at, actor, reason, note``
* ``IncidentClosed``: ``incidentId, hazard, status`` (closed or dismissed), ``reason, at, actor``
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from safecity.core.events import Event

INCIDENT_OPENED = "situation.IncidentOpened"
INCIDENT_UPDATED = "situation.IncidentUpdated"
CRISIS_LEVEL_CHANGED = "situation.CrisisLevelChanged"
INCIDENT_STATUS_CHANGED = "situation.IncidentStatusChanged"
INCIDENT_CLOSED = "situation.IncidentClosed"

TOPICS = (INCIDENT_OPENED, INCIDENT_UPDATED, CRISIS_LEVEL_CHANGED, INCIDENT_STATUS_CHANGED, INCIDENT_CLOSED)
#: A rule's condition entered, changed or left a level (the situation stream's ``condition`` frames, fed
#: from the bus so that every process streams it with the event's id).
CONDITION_CHANGED = "situation.ConditionChanged"
#: The rule engine (re)loaded its rules (the stream's ``rules`` frames).
RULES_RELOADED = "situation.RulesReloaded"


class ConditionChanged(Event):
    """The payload is ``ConditionChange.to_json()`` (rule, ruleVersion, subject, level, previous,
    stageKo, stageEn, at, value, signal, datastreams, things, observations, districts, ...)."""

    type = CONDITION_CHANGED

    rule: str
    rule_version: int = Field(alias="ruleVersion")
    hazard: str
    subject: str
    level: int
    previous: int
    at: datetime

    def ordering_key(self) -> str:
        return f"condition:{self.rule}"


class RulesReloaded(Event):
    type = RULES_RELOADED

    loaded: int
    errors: int


class _IncidentEvent(Event):
    hazard: str | None
    at: datetime

    def ordering_key(self) -> str:
        # one incident's events in the order they happened (per incident, not per hazard)
        incident = getattr(self, "incident_id", None)
        return f"incident:{incident}" if incident is not None else f"district:{getattr(self, 'district', '')}"


class IncidentOpened(_IncidentEvent):
    type = INCIDENT_OPENED

    incident_id: int = Field(alias="incidentId")
    level: int
    status: str
    title_ko: str = Field(alias="titleKo")
    title_en: str = Field(alias="titleEn")
    source: str  # "rule" or "manual"
    rule: str | None
    areas: list[str]
    actor: str


class IncidentUpdated(_IncidentEvent):
    type = INCIDENT_UPDATED

    incident_id: int = Field(alias="incidentId")
    added: dict[str, Any]
    areas: list[str]
    actor: str
    # only when a change dated before the opening arrived late
    opened_at: datetime | None = Field(None, alias="openedAt")
    title_ko: str | None = Field(None, alias="titleKo")
    title_en: str | None = Field(None, alias="titleEn")


class CrisisLevelChanged(_IncidentEvent):
    type = CRISIS_LEVEL_CHANGED

    scope: Literal["incident", "district"]
    level: int
    previous: int
    incident_id: int | None = Field(None, alias="incidentId")  # scope "incident"
    areas: list[str] = Field(default_factory=list)  # scope "incident"
    district: str | None = None  # scope "district"
    incidents: list[int] = Field(default_factory=list)  # scope "district"


class IncidentStatusChanged(_IncidentEvent):
    type = INCIDENT_STATUS_CHANGED

    incident_id: int = Field(alias="incidentId")
    status: str
    previous: str
    actor: str
    reason: str | None = None
    note: str | None = None


class IncidentClosed(_IncidentEvent):
    type = INCIDENT_CLOSED

    incident_id: int = Field(alias="incidentId")
    status: str
    reason: str | None = None
    actor: str
