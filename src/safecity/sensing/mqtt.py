# SPDX-License-Identifier: Apache-2.0
"""The OGC SensorThings 1.1 MQTT extension: create Observations by MQTT publish, receive updates by subscribe.

Two transports (``Transport``), chosen by settings:

* embedded (``mqtt.url`` empty): an amqtt broker in this process on ``mqtt.host:mqtt.port``
  (:mod:`safecity.sensing.mqtt_broker`). Our plugins authenticate clients, capture device publishes and
  keep them from being forwarded, and the server publishes notifications straight into the broker.
* external (``mqtt.url`` set): a paho MQTT 5 client of that broker (:mod:`safecity.sensing.mqtt_client`).
  The broker does its own authentication, so every message it delivers is accepted as published.

Topics (all under ``v1.1/``, as SensorThings 1.1 §14 prescribes):

* create: ``v1.1/Datastreams(<id>)/Observations``, ``v1.1/MultiDatastreams(<id>)/Observations``,
  ``v1.1/FeaturesOfInterest(<id>)/Observations`` and ``v1.1/Observations`` (these two with the Datastream
  in the body). The payload is the Observation JSON of an HTTP POST. Gateways may also publish many
  observations at once to ``v1.1/CreateObservations`` with the HTTP Data Array body (safecity's
  extension; rejected rows are answered together on the error topic).
* receive: a new Observation goes to ``v1.1/Observations``, its ``Datastreams(<id>)/Observations`` (or
  ``MultiDatastreams``) and its ``FeaturesOfInterest(<id>)/Observations``; another new entity to
  ``v1.1/<EntitySet>`` and to the to-many navigation of each parent (``v1.1/Things(<id>)/Datastreams``);
  an updated entity to ``v1.1/<EntitySet>(<id>)``. The JSON is what ``GET`` answers for the entity.
  Behind an external broker only topics some client registered are announced
  (:mod:`~safecity.sensing.mqtt_interest`): the broker does not say who subscribed.
* errors (safecity's own; the standard has no way to answer a publish): a rejected publish is answered
  with ``{"code", "message", "topic"}`` on ``v1.1/errors/<client id>`` by the embedded broker (only the
  session that published, operators and admins receive it), or on ``v1.1/errors`` with an external broker, which does not
  tell us who published.

Modules: :mod:`~safecity.sensing.mqtt_port` (the transport port, topic names),
:mod:`~safecity.sensing.mqtt_ingest` (parse, authorise, batch, ingest),
:mod:`~safecity.sensing.mqtt_notify` (bus events to notifications), and the two transports.

Not implemented: subscriptions to a property (``v1.1/Things(1)/name``) or with ``$select``, and deletes
(the standard defines no notification for them). Delivery is what MQTT gives: a QoS 0 publish can be
lost. The embedded broker acknowledges a QoS 1 publish (PUBACK) only after its observation is committed,
so a crash loses nothing a device was told was received; the device sends the rest again when it
reconnects (tests/reliability). With an external broker, that broker acknowledges the device on its own
terms; the server acknowledges the broker only after the commit, on a persistent session, so nothing the
broker has is lost between it and the store (:mod:`~safecity.sensing.mqtt_client`).
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from safecity.core.logging import get_logger
from safecity.sensing.events import ENTITY_CHANGED, OBSERVATIONS_ACCEPTED, entity_changes, observations
from safecity.sensing.mqtt_audit import batch_recorder, refusal_recorder
from safecity.sensing.mqtt_ingest import Pipeline, to_observation
from safecity.sensing.mqtt_notify import Notifier
from safecity.sensing.mqtt_port import NOBODY, Incoming, Transport, base_url, error_topic

if TYPE_CHECKING:
    from safecity.app import Platform
    from safecity.settings import Settings

__all__ = ["Incoming", "MqttService", "Transport", "base_url", "error_topic", "start_mqtt", "to_observation"]

log = get_logger(__name__)


class MqttService:
    """The running MQTT extension: a transport, the ingest pipeline and the notifier."""

    def __init__(self, transport: Transport, pipeline: Pipeline, notifier: Notifier) -> None:
        self.transport = transport
        self.pipeline = pipeline
        self.notifier = notifier
        self.endpoints: list[str] = list(transport.endpoints)

    async def stop(self) -> None:
        """Stop taking messages, ingest what was queued, then close the connection or broker."""
        self.notifier.closed = True
        await self.transport.stop()
        await asyncio.to_thread(self.pipeline.stop)


class _Deferred:
    """Stands in for the transport until it exists (the pipeline and transport refer to each other)."""

    def __init__(self) -> None:
        self.endpoints: list[str] = []
        self.target: Transport | None = None

    def listening(self) -> Callable[[str], bool]:
        return self.target.listening() if self.target else NOBODY

    def publish_many(self, messages: Sequence[tuple[str, bytes]]) -> None:
        if self.target is None:
            raise RuntimeError("MQTT transport not started")
        self.target.publish_many(messages)

    def answer(self, answers: Sequence[tuple[str, bytes, object | None]]) -> None:
        if self.target is None:
            raise RuntimeError("MQTT transport not started")
        self.target.answer(answers)

    async def stop(self) -> None:
        if self.target is not None:
            await self.target.stop()


def session_id(settings: Settings) -> str:
    """The external broker's client id of this server: the same after a restart (the broker keeps the
    session and re-sends what was not acknowledged), different for each server of a database (another
    HTTP port or host), and free of the store URL's password."""
    where = f"{settings.resolved_store_url}|{settings.host}:{settings.port}"
    return "safecity-" + hashlib.sha256(where.encode()).hexdigest()[:16]


async def start_mqtt(settings: Settings, platform: Platform) -> MqttService:
    """Start the MQTT extension: the embedded broker, or a client of ``settings.mqtt.url``.

    Subscribes the notifier to the platform's bus; the bus must be started by the caller. Raises
    ConfigError when the embedded broker cannot listen or the external URL is malformed.
    """
    deferred = _Deferred()
    engine = platform.store.engine
    pipeline = Pipeline(platform.sensing.ingest, engine.connect, deferred)
    # every write is audited, MQTT publishes too (one entry per publisher and batch)
    pipeline.on_batch = batch_recorder(platform.audit)
    pipeline.key_active = platform.auth.key_active
    transport: Transport
    if settings.mqtt.url:
        from safecity.sensing.mqtt_client import ExternalBroker

        transport = await ExternalBroker.connect(settings.mqtt.url, pipeline.submit, session_id(settings))
    else:
        from safecity.sensing.mqtt_broker import EmbeddedBroker

        embedded = await EmbeddedBroker.start(settings, platform.auth, pipeline.submit)
        embedded.on_refused = refusal_recorder(platform.audit)
        transport = embedded
    deferred.target = transport
    pipeline.start()
    notifier = Notifier(platform, transport, base_url(settings))
    platform.bus.subscribe(
        OBSERVATIONS_ACCEPTED,
        lambda es: notifier.on_observations(observations(es)),
        "mqtt-notify-observations",
        wants=lambda: transport.listening() is not NOBODY,
    )
    platform.bus.subscribe(
        ENTITY_CHANGED, lambda es: notifier.on_entities(entity_changes(es)), "mqtt-notify-entities"
    )
    log.info("MQTT extension started", endpoints=transport.endpoints)
    return MqttService(transport, pipeline, notifier)
