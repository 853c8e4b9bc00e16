# SPDX-License-Identifier: Apache-2.0
"""Prometheus metrics. One registry per application, so tests can build many apps in one process."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


@dataclass
class Metrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.requests = Counter("safecity_http_requests", "HTTP requests", ["method", "status"], registry=r)
        self.request_seconds = Histogram("safecity_http_request_seconds", "HTTP request duration", registry=r)
        self.observations = Counter("safecity_observations_ingested", "Observations stored", registry=r)
        self.duplicates = Counter(
            "safecity_observations_duplicate",
            "Retried observations answered with their existing id",
            registry=r,
        )
        self.rejected = Counter(
            "safecity_observations_rejected", "Observations rejected as invalid", registry=r
        )
        self.stale = Gauge(
            "safecity_sensors_stale", "Datastreams that missed their expected reports", registry=r
        )
        self.suspect = Gauge(
            "safecity_sensors_suspect", "Datastreams whose latest observation carries a QC flag", registry=r
        )
        self.outbox = Gauge("safecity_outbox_pending", "Events committed but not yet delivered", registry=r)
        self.rule_observations = Gauge(
            "safecity_rule_observations", "Observations evaluated by the rule engine since start", registry=r
        )
        self.conditions_active = Gauge(
            "safecity_conditions_active", "Rule conditions currently at a crisis level", registry=r
        )
        self.incidents_open = Gauge(
            "safecity_incidents_open", "Incidents not closed or dismissed", registry=r
        )
        self.deliveries = Gauge(
            "safecity_alert_deliveries",
            "Alert deliveries by channel and status (queued, retrying, sent, delivered, failed, dead)",
            ["channel", "status"],
            registry=r,
        )
        self.rule_errors = Gauge(
            "safecity_rules_failed", "Rules that could not be loaded or were disabled by an error", registry=r
        )
