# SPDX-License-Identifier: Apache-2.0
"""The situation capability's events on the bus.

Payloads are JSON objects with camelCase keys, written into the outbox in the same transaction as the
incident rows they announce (so a subscriber never hears of an incident the store does not hold).
Every payload has ``incidentId`` (except district-level changes), ``hazard`` and ``at`` (ISO 8601, the
event time); the listeners of :class:`~safecity.situation.incidents.Incidents` get the same dict plus
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

INCIDENT_OPENED = "situation.IncidentOpened"
INCIDENT_UPDATED = "situation.IncidentUpdated"
CRISIS_LEVEL_CHANGED = "situation.CrisisLevelChanged"
INCIDENT_STATUS_CHANGED = "situation.IncidentStatusChanged"
INCIDENT_CLOSED = "situation.IncidentClosed"

TOPICS = (INCIDENT_OPENED, INCIDENT_UPDATED, CRISIS_LEVEL_CHANGED, INCIDENT_STATUS_CHANGED, INCIDENT_CLOSED)
