# SPDX-License-Identifier: Apache-2.0
"""Prometheus metrics. One registry per application, so tests can build many apps in one process."""

from __future__ import annotations

import threading
from contextvars import ContextVar
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

#: How the observations being ingested arrived. The HTTP edge sets "http" per request; the MQTT
#: pipeline runs on its own threads (named mqtt-…), which a fresh thread's context cannot carry.
TRANSPORT: ContextVar[str | None] = ContextVar("ingest_transport", default=None)


def current_transport() -> str:
    """http, mqtt or other (imports run by the CLI, the demo loader in-process)."""
    set_ = TRANSPORT.get()
    if set_:
        return set_
    return "mqtt" if threading.current_thread().name.startswith("mqtt") else "other"


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
        self.bus_lag = Gauge(
            "safecity_bus_subscriber_lag",
            "Events a bus subscriber has not handled yet",
            ["subscriber"],
            registry=r,
        )
        self.bus_failing = Gauge(
            "safecity_bus_subscriber_attempts",
            "Failed deliveries of the event a bus subscriber is retrying (0: healthy)",
            ["subscriber"],
            registry=r,
        )
        self.bus_dead = Gauge("safecity_bus_dead_letters", "Dead letters not yet replayed", registry=r)
        self.worker_running = Gauge(
            "safecity_worker_running", "1 while a background worker's thread runs", ["worker"], registry=r
        )
        self.worker_rounds = Gauge(
            "safecity_worker_rounds", "Rounds a background worker ran since start", ["worker"], registry=r
        )
        self.worker_failures = Gauge(
            "safecity_worker_failures", "Rounds of a background worker that raised", ["worker"], registry=r
        )
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
        self.accepted = Counter(
            "safecity_observations_accepted",
            "Observations stored, by the transport they arrived on (http, mqtt, other)",
            ["transport"],
            registry=r,
        )
        self.rule_batch_seconds = Histogram(
            "safecity_rule_batch_seconds",
            "Time the rule engine takes to evaluate one batch of accepted observations",
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
            registry=r,
        )
        self.limited = Counter(
            "safecity_http_limited",
            "Requests refused by a limit (rate: anonymous rate limit, sse: too many open streams)",
            ["limit"],
            registry=r,
        )
        self.rule_errors = Gauge(
            "safecity_rules_failed", "Rules that could not be loaded or were disabled by an error", registry=r
        )

    def count_batch(self, created: int, duplicates: int, rejected: int) -> None:
        """What one ingest call did (the ingest's ``on_batch`` hook)."""
        self.observations.inc(created)
        self.accepted.labels(current_transport()).inc(created)
        self.duplicates.inc(duplicates)
        self.rejected.inc(rejected)
