# SPDX-License-Identifier: Apache-2.0
"""The embedded MQTT broker (amqtt) with safecity's authentication, topic rules and capture.

* Connect: no password is an anonymous reader. A password starting with ``sck_`` is a device API key
  (any username); any other password is checked as a user's. Wrong credentials are refused (CONNACK 5).
* Publish on ``v1.1/...``: captured for ingest and never forwarded, so subscribers of
  ``v1.1/Datastreams(7)/Observations`` see only the stored Observation the server publishes, not the
  device's request on the same topic. Publishes elsewhere are forwarded for authenticated clients only.
* Receive: anyone may subscribe to anything (public data), except that an answer on
  ``v1.1/errors/<client id>`` reaches only the session that sent the rejected publish, operators and admins.
* Identity: a connection is who its credentials say, checked before it touches any session; the client
  id only names the session. A second connection with the same client id closes the older one (MQTT
  3.1.1 §3.1.4) and resumes its persistent session only when it is the same identity (issue 13).

The capture runs in the broker's event loop and only queues the bytes; parsing and storing happen on
the ingest worker thread (:class:`safecity.sensing.mqtt.Pipeline`). A QoS 1 or 2 create publish is
acknowledged only once the ingest worker committed it (:class:`_CapturingHandler`). Known amqtt limit:
it speaks MQTT 3.1.1 only.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import logging
import threading
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any

from amqtt.broker import Broker
from amqtt.contexts import Action, BaseContext
from amqtt.errors import AMQTTError, BrokerError, MQTTError, NoDataError
from amqtt.mqtt.constants import QOS_0, QOS_2
from amqtt.mqtt.protocol.broker_handler import BrokerProtocolHandler
from amqtt.mqtt.puback import PubackPacket
from amqtt.mqtt.publish import PublishPacket
from amqtt.plugins.base import BaseTopicPlugin
from amqtt.session import ApplicationMessage, Session
from amqtt.utils import gen_client_id

from safecity.auth.model import Principal, Role
from safecity.auth.service import AuthService
from safecity.core.errors import ConfigError, SafecityError, Unauthorized
from safecity.core.logging import get_logger
from safecity.sensing.mqtt_port import ERRORS, NOBODY, ROOT, Incoming
from safecity.settings import Settings

log = get_logger(__name__)

#: How long the broker's own shutdown may take before the server stops without it.
SHUTDOWN_S = 10.0

_PREFIX = ROOT + "/"
_STAFF = frozenset({Role.operator})  # has_any() also admits admins
#: Where a session keeps its principal (amqtt's per-session store for plugins, namespaced keys).
_PRINCIPAL = "safecity.principal"
#: The identity a session belongs to (see _identity); only it may resume the session.
_OWNER = "safecity.owner"
#: Longest wait for an older connection of a client id to end when a new one takes the id over.
_TAKE_OVER_TIMEOUT_S = 5.0
#: Longest wait for the broker's loop to accept a batch of notifications (it only queues them).
_ENQUEUE_TIMEOUT_S = 10.0


@dataclass
class _PluginConfig:
    """amqtt builds plugin configs with dacite; ``gateway`` hands the plugins our broker object."""

    gateway: Any = None


class SafecityTopicPlugin(BaseTopicPlugin):
    Config = _PluginConfig

    def __init__(self, context: BaseContext) -> None:
        super().__init__(context)
        self.gateway: EmbeddedBroker = self.config.gateway

    async def topic_filtering(
        self, *, session: Session | None = None, topic: str | None = None, action: Action | None = None
    ) -> bool | None:
        return self.gateway.allowed(session, topic, action)


def _captured(topic: str | None) -> bool:
    """A publish the server takes for ingest (and never forwards)."""
    return topic is not None and topic.startswith(_PREFIX) and "+" not in topic and "#" not in topic


def _identity(principal: Principal | None) -> tuple[str, str] | None:
    """Who a session belongs to: a persistent session is resumed only by the same identity."""
    return None if principal is None else (principal.kind, principal.name)


class _CapturingHandler(BrokerProtocolHandler):
    """amqtt's broker handler for one connection, which knows who authenticated on it.

    A create publish is handed to ingest right here, with this connection's principal: the identity
    comes from the credentials of the connection that carried the message, never from its client id
    (an anonymous client that connected with a device's client id was stored as that device, issue 13).
    A QoS 1 create publish is acknowledged only after it is stored: amqtt sends PUBACK as soon as the
    message is queued in memory, and a crash before the ingest commit then lost an observation the
    device had been told was received (tests/reliability). Not settled or not storable: no PUBACK, and
    the device sends the message again when it reconnects (ingest is idempotent on datastream and
    phenomenon time). Each publish is its own task in amqtt's reader, so waiting does not stop the
    connection. QoS 2 likewise: amqtt's flow (PUBREC, PUBREL, PUBCOMP) starts once the message is
    stored, and the copy amqtt then queues for the session is not captured again (``_deliver``).
    """

    gateway: EmbeddedBroker
    principal: Principal | None

    async def handle_publish(self, publish_packet: PublishPacket) -> None:
        session = self.session
        topic = publish_packet.topic_name
        if not _captured(topic) or publish_packet.data is None or session is None or topic is None:
            await super().handle_publish(publish_packet)
            return
        if publish_packet.qos == QOS_0:
            self.gateway.capture(session, self.principal, topic, publish_packet.data, None)
            return
        stored: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self.gateway.capture(session, self.principal, topic, publish_packet.data, stored)
        if not await stored:
            return
        if publish_packet.qos == QOS_2:
            await super().handle_publish(publish_packet)
            return
        packet_id = publish_packet.variable_header.packet_id if publish_packet.variable_header else None
        await self._send_packet(PubackPacket.build(packet_id))


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
    """amqtt's broker, with identity per connection and a fast lane for SensorThings create publishes.

    Connect: the credentials are checked before the connection touches any existing session of its
    client id, so a refused connection changes nothing. An accepted one follows MQTT 3.1.1 §3.1.4: an
    older connection with the same client id is closed (and its disconnect handled) first. A persistent
    session is resumed only by the identity that owned it; another identity starts a clean one, so it
    inherits neither the subscriptions nor the messages queued for the other.

    Create publishes never pass through amqtt's per-message session loop (about 80 µs a message, which
    capped a fleet at ~10,000 observations/s): the connection's handler captures them. This overrides
    private methods (amqtt 0.12, pinned in requirements.lock); the MQTT tests cover it.
    """

    def __init__(self, config: dict[str, Any], gateway: EmbeddedBroker) -> None:
        super().__init__(config)
        self._gateway = gateway
        #: The live connection of each client id and an event set once its loop has ended.
        self._live: dict[str, tuple[BrokerProtocolHandler, asyncio.Event]] = {}

    async def _initialize_client_session(
        self, reader: Any, writer: Any, remote_address: str, remote_port: int
    ) -> tuple[BrokerProtocolHandler, Session]:
        try:
            handler, incoming = await BrokerProtocolHandler.init_from_connect(
                reader, writer, self.plugins_manager
            )
        except (AMQTTError, NoDataError) as exc:
            raise AMQTTError(f"{remote_address}:{remote_port}: {exc}") from exc
        except MQTTError:
            await writer.close()
            raise
        try:
            principal = await self._gateway.authenticate(incoming)
        except Unauthorized as e:
            # Refused before any take-over or session lookup: nothing of a connected client changes.
            incoming.client_id = incoming.client_id or gen_client_id()
            handler.attach(incoming, reader, writer)
            await handler.mqtt_connack_authorize(False)
            await writer.close()
            raise MQTTError(f"connection refused: {e.message}") from None
        client_id = incoming.client_id or gen_client_id()
        incoming.client_id = client_id
        await self._take_over(client_id)
        old = self._sessions.get(client_id)
        owner = _identity(principal)
        if incoming.clean_session or old is None or old[0].attributes.get(_OWNER) != owner:
            await self._delete_session(client_id)
            session, session.parent = incoming, 0
        else:  # the same identity resumes its persistent session (amqtt's own rule otherwise)
            session = old[0]
            for name in ("will_flag", "will_message", "will_topic", "will_qos", "keep_alive"):
                setattr(session, name, getattr(incoming, name))
            session.username, session.password = incoming.username, incoming.password
            session.parent = 1
        session.attributes[_OWNER] = owner
        if principal is None:
            session.attributes.pop(_PRINCIPAL, None)
        else:
            session.attributes[_PRINCIPAL] = principal
        handler.__class__ = _CapturingHandler
        assert isinstance(handler, _CapturingHandler)
        handler.gateway, handler.principal = self._gateway, principal
        delay = self.config.get("timeout-disconnect-delay", 0)
        if session.keep_alive > 0 and isinstance(delay, int):
            session.keep_alive += delay
        return handler, session

    async def _take_over(self, client_id: str) -> None:
        """Close the live connection of ``client_id`` (if any) and wait until amqtt has let it go."""
        live = self._live.get(client_id)
        if live is None:
            return
        handler, ended = live
        log.info("MQTT client id taken over; closing the older connection", client=client_id)
        await handler.handle_connection_closed()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(ended.wait(), _TAKE_OVER_TIMEOUT_S)

    async def _authenticate(self, session: Session, listener: Any) -> bool:
        return True  # done in _initialize_client_session, before the session was looked up

    async def _handle_client_session(
        self,
        reader: Any,
        writer: Any,
        client_session: Session,
        handler: BrokerProtocolHandler,
        server: Any,
        listener_name: str,
    ) -> None:
        client_id = client_session.client_id or ""
        entry = (handler, asyncio.Event())
        self._live[client_id] = entry
        try:
            await super()._handle_client_session(
                reader, writer, client_session, handler, server, listener_name
            )
        finally:
            if self._live.get(client_id) is entry:
                del self._live[client_id]
            entry[1].set()

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
            return True  # captured by its connection's handler already (a QoS 2 copy), never forwarded
        done: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        done.set_result(message)
        delivered: bool = await super()._handle_message_delivery(client_session, handler, done)
        return delivered


class EmbeddedBroker:
    """An amqtt broker running in the caller's event loop (a :class:`safecity.sensing.mqtt.Transport`)."""

    def __init__(self, settings: Settings, auth: AuthService, submit: Callable[[Incoming], None]) -> None:
        self.auth = auth
        self.submit = submit
        self.endpoints = [f"mqtt://{settings.mqtt.host}:{settings.mqtt.port}"]
        self._bind = f"{settings.mqtt.host}:{settings.mqtt.port}"
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False
        self._broker: Broker | None = None
        self._acks: list[tuple[asyncio.Future[bool], bool]] = []
        self._acks_lock = threading.Lock()
        self._acks_scheduled = False
        #: Told of every refused connection (username, client id, address, why): the audit log's hook.
        self.on_refused: Callable[[str | None, str | None, str | None, SafecityError], None] | None = None

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
        # Authentication is _CapturingBroker's own (it must run before the session lookup).
        plugins = {f"{__name__}.SafecityTopicPlugin": {"gateway": self}}
        config = {"listeners": {"default": {"type": "tcp", "bind": self._bind}}, "plugins": plugins}
        broker = _CapturingBroker(config, self)
        try:
            await broker.start()
        except BrokerError as e:
            raise ConfigError(
                f"the embedded MQTT broker cannot listen on {self._bind} ({e.__cause__ or e}); set "
                "SAFECITY_MQTT__PORT to a free port, SAFECITY_MQTT__URL to an external broker, or "
                "SAFECITY_MQTT__ENABLED=false"
            ) from None
        self._broker = broker
        return self

    # connections (event loop) -------------------------------------------------------------------
    async def authenticate(self, incoming: Session) -> Principal | None:
        """The principal of a connecting client (None: anonymous); raises Unauthorized to refuse it.

        Reads only the credentials of this CONNECT; the client id plays no part in who it is.
        """
        password = incoming.password
        if not password:
            return None  # an anonymous reader; publishing is refused per message, with the reason
        address = incoming.remote_address
        try:
            if password.startswith("sck_"):
                return await asyncio.to_thread(self.auth.authenticate_key, password)
            return await asyncio.to_thread(
                self.auth.authenticate_user, incoming.username or "", password, address
            )
        except SafecityError as e:  # wrong credentials, too many failures lately, no hash slot
            log.warning(
                "MQTT connection refused",
                client=incoming.client_id,
                username=incoming.username,
                address=address,
                reason=e.message,
            )
            if self.on_refused is not None:
                self.on_refused(incoming.username, incoming.client_id, address, e)
            raise Unauthorized(e.message) from None

    def allowed(self, session: Session | None, topic: str | None, action: Action | None) -> bool:
        if not topic:
            return False
        if action == Action.PUBLISH:
            if topic.startswith(_PREFIX):
                return False  # captured for ingest (see capture), never forwarded
            return session is not None and _PRINCIPAL in session.attributes
        if action == Action.RECEIVE and topic.startswith(ERRORS):
            # Staff see every answer; a publisher gets its own straight from answer(), by session
            # (a client id says nothing about who is behind it).
            principal: Principal | None = session.attributes.get(_PRINCIPAL) if session else None
            return principal is not None and principal.has_any(_STAFF)
        return True

    def capture(
        self,
        session: Session,
        principal: Principal | None,
        topic: str,
        data: bytes | bytearray,
        stored: asyncio.Future[bool] | None,
    ) -> None:
        """Hand one create publish to ingest, with the principal of the connection that carried it."""
        settled = functools.partial(self._settled, stored) if stored is not None else None
        self.submit(
            Incoming(topic, bytes(data), session.client_id, principal, settled=settled, reply_to=session)
        )

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
        self._run(self._broadcast([(topic, data, None) for topic, data in messages]))

    def answer(self, answers: Sequence[tuple[str, bytes, object | None]]) -> None:
        self._run(self._broadcast(list(answers)))

    def _run(self, coro: Coroutine[Any, Any, None]) -> None:
        """Run a broadcast in the broker's loop: queued from the loop itself, awaited from any other thread."""
        if self._closed or self._broker is None:
            coro.close()
            raise RuntimeError("the embedded MQTT broker is stopped")
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

    async def _broadcast(self, messages: list[tuple[str, bytes, object | None]]) -> None:
        broker = self._broker
        if broker is None or self._closed:
            return
        for topic, data, reply_to in messages:
            await broker.internal_message_broadcast(topic, data)
            if isinstance(reply_to, Session):
                self._reply(broker, reply_to, topic, data)

    def _reply(self, broker: Broker, session: Session, topic: str, data: bytes) -> None:
        """Deliver an error answer to the very session that published, if it still holds its client id,
        is connected and subscribed to it (staff got it from the broadcast already)."""
        principal: Principal | None = session.attributes.get(_PRINCIPAL)
        if principal is not None and principal.has_any(_STAFF):
            return
        current = broker.sessions.get(session.client_id or "")
        if current is None or current[0] is not session or session.transitions.state != "connected":
            return
        qos = next(
            (
                q
                for topic_filter, subs in broker.subscriptions.items()
                if _match(topic_filter.split("/"), topic)
                for s, q in subs
                if s is session
            ),
            None,
        )
        if qos is not None:
            task = self._loop.create_task(current[1].mqtt_publish(topic, data, qos, retain=False))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def stop(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._broker is not None:
            # bounded: a client whose handshake never completes leaves amqtt's session task waiting for
            # its reader (seen once in the suite: the broker's shutdown, and so the server's stop, hung);
            # a stopping server must stop, and the clients reconnect to the next one
            try:
                await asyncio.wait_for(self._broker.shutdown(), timeout=SHUTDOWN_S)
            except TimeoutError:
                log.warning(
                    "mqtt broker shutdown timed out; stray client sessions abandoned", timeout_s=SHUTDOWN_S
                )
