# SPDX-License-Identifier: Apache-2.0
"""The embedded MQTT broker (amqtt) with safecity's authentication, topic rules and capture.

* Connect: no password is an anonymous reader. A password starting with ``sck_`` is a device API key
  (any username); any other password is checked as a user's. Wrong credentials are refused (CONNACK 5).
* Publish on ``v1.1/...``: captured for ingest and never forwarded, so subscribers of
  ``v1.1/Datastreams(7)/Observations`` see only the stored Observation the server publishes, not the
  device's request on the same topic. Publishes elsewhere are forwarded for authenticated clients only.
* Receive: anyone may subscribe to anything (public data), except that ``v1.1/errors/<client id>`` reaches
  only that client, operators and admins.

amqtt keeps no per-message copy for us, so the capture runs in the broker's event loop and only queues
the bytes; parsing and storing happen on the ingest worker thread (:class:`safecity.sensing.mqtt.Pipeline`).
A QoS 1 create publish is acknowledged only once the ingest worker committed it
(:class:`_AckAfterStoreHandler`). Known amqtt limits: it speaks MQTT 3.1.1 only, and QoS 0 messages
still queued inside amqtt when their client disconnects are dropped, so a device should stay connected
(or use QoS 1) while it sends. QoS 2 keeps amqtt's own flow (PUBREC before the commit).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from amqtt.broker import Broker
from amqtt.contexts import Action, BaseContext
from amqtt.errors import BrokerError
from amqtt.mqtt.constants import QOS_1
from amqtt.mqtt.protocol.broker_handler import BrokerProtocolHandler
from amqtt.mqtt.puback import PubackPacket
from amqtt.mqtt.publish import PublishPacket
from amqtt.plugins.base import BaseAuthPlugin, BaseTopicPlugin
from amqtt.session import ApplicationMessage, IncomingApplicationMessage, Session

from safecity.auth.model import Principal, Role
from safecity.auth.service import AuthService
from safecity.core.errors import ConfigError, Unauthorized
from safecity.core.logging import get_logger
from safecity.sensing.mqtt_port import ERRORS, NOBODY, ROOT, Incoming, error_topic
from safecity.settings import Settings

log = get_logger(__name__)

_PREFIX = ROOT + "/"
_STAFF = frozenset({Role.operator})  # has_any() also admits admins
#: Where a session keeps its principal (amqtt's per-session store for plugins, namespaced keys).
_PRINCIPAL = "safecity.principal"
#: Longest wait for the broker's loop to accept a batch of notifications (it only queues them).
_ENQUEUE_TIMEOUT_S = 10.0


@dataclass
class _PluginConfig:
    """amqtt builds plugin configs with dacite; ``gateway`` hands the plugins our broker object."""

    gateway: Any = None


class SafecityAuthPlugin(BaseAuthPlugin):
    Config = _PluginConfig

    async def authenticate(self, *, session: Session) -> bool | None:
        gateway: EmbeddedBroker = self.config.gateway
        return await gateway.authenticate(session)


class SafecityTopicPlugin(BaseTopicPlugin):
    Config = _PluginConfig

    def __init__(self, context: BaseContext) -> None:
        super().__init__(context)
        self.gateway: EmbeddedBroker = self.config.gateway

    async def topic_filtering(
        self, *, session: Session | None = None, topic: str | None = None, action: Action | None = None
    ) -> bool | None:
        return self.gateway.allowed(session, topic, action)

    async def on_broker_message_received(self, *, client_id: str, message: ApplicationMessage | None) -> None:
        if message is not None and message.topic and message.topic.startswith(_PREFIX):
            self.gateway.capture(client_id, message)


def _captured(topic: str | None) -> bool:
    """A publish the server takes for ingest (and never forwards)."""
    return topic is not None and topic.startswith(_PREFIX) and "+" not in topic and "#" not in topic


class _StoredMessage(IncomingApplicationMessage):
    """A QoS 1 create publish and the future the ingest worker settles once it is committed."""

    __slots__ = ("stored",)

    def __init__(self, packet: PublishPacket, stored: asyncio.Future[bool]) -> None:
        super().__init__(
            packet.variable_header.packet_id if packet.variable_header else None,
            packet.topic_name or "",
            packet.qos,
            packet.data or b"",
            packet.retain_flag,
        )
        self.stored = stored


class _AckAfterStoreHandler(BrokerProtocolHandler):
    """amqtt's broker handler, but a QoS 1 create publish is acknowledged only after it is stored.

    amqtt sends PUBACK as soon as the message is queued in memory; a crash before the ingest commit then
    lost an observation the device had been told was received (tests/reliability found it). Here PUBACK
    waits for the ingest worker (each publish is its own task in amqtt's reader, so waiting does not
    stop the connection). Not settled or not storable: no PUBACK, and the device sends the message again
    when it reconnects (ingest is idempotent on datastream and phenomenon time).
    """

    async def handle_publish(self, publish_packet: PublishPacket) -> None:
        if (
            publish_packet.qos != QOS_1
            or not _captured(publish_packet.topic_name)
            or publish_packet.data is None
            or self.session is None
        ):
            await super().handle_publish(publish_packet)
            return
        stored: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        message = _StoredMessage(publish_packet, stored)
        message.publish_packet = publish_packet
        await self.session.delivered_message_queue.put(message)
        if not await stored:
            return
        puback = PubackPacket.build(message.packet_id)
        await self._send_packet(puback)
        message.puback_packet = puback


def _match(levels: list[str], topic: str) -> bool:
    """MQTT topic filter matching (``+`` one level, ``#`` the rest) against a topic name."""
    parts = topic.split("/")
    for i, level in enumerate(levels):
        if level == "#":
            return True
        if i >= len(parts) or (level != "+" and level != parts[i]):
            return False
    return len(levels) == len(parts)


class _CapturingBroker(Broker):
    """amqtt's broker with a fast lane for SensorThings create publishes.

    amqtt hands each received publish to the session loop one at a time, each turn an ``asyncio.wait``
    over four futures plus plugin events run as tasks: about 80 µs per message, which capped a device
    fleet at ~10,000 observations/s. Publishes under ``v1.1/`` are never forwarded anyway (they are
    captured for ingest), so here they skip the plugin round-trips, and every message already queued
    for the session is taken in the same turn. Other topics go through amqtt's own path unchanged.
    This overrides a private method (amqtt 0.12, pinned in requirements.lock); the MQTT tests cover it.
    """

    def __init__(self, config: dict[str, Any], gateway: EmbeddedBroker) -> None:
        super().__init__(config)
        self._gateway = gateway

    async def _handle_client_session(
        self,
        reader: Any,
        writer: Any,
        client_session: Session,
        handler: BrokerProtocolHandler,
        server: Any,
        listener_name: str,
    ) -> None:
        # The handler exists (amqtt builds it while reading CONNECT) but reads no packet yet: give it
        # the acknowledge-after-store behaviour before it starts (same object, one method differs).
        handler.__class__ = _AckAfterStoreHandler
        await super()._handle_client_session(reader, writer, client_session, handler, server, listener_name)

    async def _handle_message_delivery(
        self, client_session: Session, handler: Any, wait_deliver: asyncio.Future[Any]
    ) -> bool:
        message = wait_deliver.result()
        queue = client_session.delivered_message_queue
        while True:
            if not await self._deliver(client_session, handler, message):
                return False
            if queue.empty():
                return True
            message = queue.get_nowait()

    async def _deliver(
        self, client_session: Session, handler: Any, message: ApplicationMessage | None
    ) -> bool:
        if message is not None and _captured(message.topic):
            self._gateway.capture(client_session.client_id, message)
            return True
        done: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        done.set_result(message)
        delivered: bool = await super()._handle_message_delivery(client_session, handler, done)
        return delivered


class EmbeddedBroker:
    """An amqtt broker running in the caller's event loop (a :class:`safecity.sensing.mqtt.Transport`)."""

    def __init__(self, settings: Settings, auth: AuthService, submit: Callable[[Incoming], None]) -> None:
        self.auth = auth
        self.submit = submit
        self.endpoints = [f"mqtt://{settings.mqtt_host}:{settings.mqtt_port}"]
        self._bind = f"{settings.mqtt_host}:{settings.mqtt_port}"
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False
        self._broker: Broker | None = None
        self._acks: list[tuple[asyncio.Future[bool], bool]] = []
        self._acks_lock = threading.Lock()
        self._acks_scheduled = False

    @classmethod
    async def start(
        cls, settings: Settings, auth: AuthService, submit: Callable[[Incoming], None]
    ) -> EmbeddedBroker:
        self = cls(settings, auth, submit)
        # amqtt logs every refused publish at INFO, and the server refuses (captures) every create
        # publish by design: at thousands of messages a second that is the whole log.
        amqtt_log = logging.getLogger("amqtt")
        if amqtt_log.level == logging.NOTSET or amqtt_log.level < logging.WARNING:
            amqtt_log.setLevel(logging.WARNING)
        plugins = {
            f"{__name__}.SafecityAuthPlugin": {"gateway": self},
            f"{__name__}.SafecityTopicPlugin": {"gateway": self},
        }
        config = {"listeners": {"default": {"type": "tcp", "bind": self._bind}}, "plugins": plugins}
        broker = _CapturingBroker(config, self)
        try:
            await broker.start()
        except BrokerError as e:
            raise ConfigError(
                f"the embedded MQTT broker cannot listen on {self._bind} ({e.__cause__ or e}); set "
                "SAFECITY_MQTT_PORT to a free port, SAFECITY_MQTT_URL to an external broker, or "
                "SAFECITY_MQTT_ENABLED=false"
            ) from None
        self._broker = broker
        return self

    # plugin callbacks (event loop) ----------------------------------------------------------------
    async def authenticate(self, session: Session) -> bool:
        client_id = session.client_id or ""
        password = session.password
        # A persistent session is reused by the next connection of its client id: forget the old principal.
        session.attributes.pop(_PRINCIPAL, None)
        if not password:
            return True  # an anonymous reader; publishing is refused per message, with the reason
        try:
            if password.startswith("sck_"):
                principal = await asyncio.to_thread(self.auth.authenticate_key, password)
            else:
                principal = await asyncio.to_thread(
                    self.auth.authenticate_user, session.username or "", password
                )
        except Unauthorized as e:
            log.warning(
                "MQTT connection refused", client=client_id, username=session.username, reason=e.message
            )
            return False
        session.attributes[_PRINCIPAL] = principal
        return True

    def allowed(self, session: Session | None, topic: str | None, action: Action | None) -> bool:
        if not topic:
            return False
        if action == Action.PUBLISH:
            if topic.startswith(_PREFIX):
                return False  # captured for ingest (see capture), never forwarded
            return session is not None and _PRINCIPAL in session.attributes
        if action == Action.RECEIVE and topic.startswith(ERRORS):
            if session is None:
                return False
            if topic == error_topic(session.client_id):
                return True
            principal: Principal | None = session.attributes.get(_PRINCIPAL)
            return principal is not None and principal.has_any(_STAFF)
        return True

    def capture(self, client_id: str, message: ApplicationMessage) -> None:
        session = self._broker.sessions.get(client_id, (None, None))[0] if self._broker else None
        principal = session.attributes.get(_PRINCIPAL) if session is not None else None
        settled = (
            functools.partial(self._settled, message.stored) if isinstance(message, _StoredMessage) else None
        )
        self.submit(Incoming(message.topic, bytes(message.data), client_id, principal, settled=settled))

    def _settled(self, future: asyncio.Future[bool], stored: bool) -> None:
        """Any thread: hand the outcome to the loop; one wake-up carries a whole batch's outcomes."""
        with self._acks_lock:
            self._acks.append((future, stored))
            if self._acks_scheduled:
                return
            self._acks_scheduled = True
        # RuntimeError: the loop is closed; the connections are gone and nothing waits any more.
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(self._release_acks)

    def _release_acks(self) -> None:
        with self._acks_lock:
            acks, self._acks = self._acks, []
            self._acks_scheduled = False
        for future, stored in acks:
            if not future.done():  # the connection may have closed meanwhile
                future.set_result(stored)

    # Transport ------------------------------------------------------------------------------------
    def listening(self) -> Callable[[str], bool]:
        if self._broker is None:
            return NOBODY
        exact: set[str] = set()
        wild: list[list[str]] = []
        # A copy taken in one C call, so the loop thread changing subscriptions cannot break it.
        for topic_filter, subscribers in list(self._broker.subscriptions.items()):
            if not subscribers:
                continue
            if "+" in topic_filter or "#" in topic_filter:
                wild.append(topic_filter.split("/"))
            else:
                exact.add(topic_filter)
        if not wild:
            return exact.__contains__ if exact else NOBODY
        return lambda topic: topic in exact or any(_match(w, topic) for w in wild)

    def publish_many(self, messages: Sequence[tuple[str, bytes]]) -> None:
        if self._closed or self._broker is None:
            raise RuntimeError("the embedded MQTT broker is stopped")
        coro = self._broadcast(list(messages))
        if threading.get_ident() == self._loop_thread:
            task = self._loop.create_task(coro)
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            return
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        try:
            future.result(_ENQUEUE_TIMEOUT_S)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise RuntimeError(
                f"the MQTT broker did not take the messages within {_ENQUEUE_TIMEOUT_S} s"
            ) from None

    async def _broadcast(self, messages: list[tuple[str, bytes]]) -> None:
        broker = self._broker
        if broker is None or self._closed:
            return
        for topic, data in messages:
            await broker.internal_message_broadcast(topic, data)

    async def stop(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._broker is not None:
            await self._broker.shutdown()
