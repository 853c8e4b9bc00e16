# SPDX-License-Identifier: Apache-2.0
"""The MQTT transport port: what the SensorThings MQTT extension needs from a broker, and the topic names.

Adapters: :mod:`safecity.sensing.mqtt_broker` (embedded amqtt) and :mod:`safecity.sensing.mqtt_client`
(external broker over paho). See :mod:`safecity.sensing.mqtt` for the topics and the behaviour.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from safecity.auth.model import Principal

if TYPE_CHECKING:
    from safecity.settings import Settings

ROOT = "v1.1"
ERRORS = f"{ROOT}/errors"


def error_topic(client_id: str | None) -> str:
    """Where the answer to a rejected publish goes. Wildcard characters cannot appear in a topic name."""
    if not client_id:
        return ERRORS
    return f"{ERRORS}/" + client_id.replace("/", "_").replace("+", "_").replace("#", "_")


def base_url(settings: Settings) -> str:
    """The base of @iot.selfLink in MQTT messages (the HTTP API takes it from each request instead)."""
    if settings.public_url:
        return settings.public_url.rstrip("/") + "/sta/v1.1"
    return f"http://{settings.host}:{settings.port}/sta/v1.1"


def NOBODY(topic: str) -> bool:  # a sentinel, hence the constant-style name
    """The ``Transport.listening`` answer when no one subscribed to anything."""
    return False


class Transport(Protocol):
    """What the MQTT extension needs from a broker connection."""

    endpoints: list[str]

    def listening(self) -> Callable[[str], bool]:
        """A predicate telling whether anyone may receive a message on a topic (a snapshot, cheap to call);
        ``NOBODY`` itself when there are no subscriptions at all."""

    def publish_many(self, messages: Sequence[tuple[str, bytes]]) -> None:
        """Publish (topic, payload) pairs; callable from any thread."""

    def answer(self, answers: Sequence[tuple[str, bytes, object | None]]) -> None:
        """Publish error answers (topic, payload, the ``Incoming.reply_to`` of the rejected publish);
        callable from any thread. The reply target keeps an answer from reaching whoever else later
        connects with the publisher's client id."""

    async def stop(self) -> None: ...


@dataclass(frozen=True, slots=True)
class Incoming:
    """One publish on a create topic, as the transport received it."""

    topic: str
    payload: bytes
    client_id: str | None  # None with an external broker, which does not say who published
    principal: Principal | None  # None: anonymous (embedded) or not known (external, trusted)
    trusted: bool = False  # external broker: it authenticated the publisher already
    #: Called once the message is settled: True when it was stored or answered as rejected, False when
    #: the server could not take it now. The embedded broker sends a QoS 1 PUBACK only on True, so an
    #: acknowledged observation is already committed when a crash comes (None: nothing waits for it).
    settled: Callable[[bool], None] | None = None
    #: The transport's handle on the connection (session) that published, for its error answers.
    reply_to: object | None = None
