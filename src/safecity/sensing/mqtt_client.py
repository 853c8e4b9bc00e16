# SPDX-License-Identifier: Apache-2.0
"""A client of an external MQTT 5 broker (paho-mqtt), for ``SAFECITY_MQTT__URL``.

The broker authenticates and authorises publishers itself (configure its ACLs so that only devices
and operators may publish on ``v1.1/.../Observations``): every message it delivers is ingested as if an
operator had sent it, without the per-Thing check of device keys.

The create and receive topics coincide, so the server subscribes with MQTT 5 *no local* and does not get
back its own notifications. Other SensorThings servers on the same broker publish on the same topics;
their notifications carry an ``@iot.selfLink`` and are ignored (a device never sends one). (An MQTT 5
user property would mark them too, but packing it halves paho's publish rate.) Subscribers of a
create topic also receive the devices' requests as published, since a broker forwards them to everyone:
a difference from the embedded broker that only MQTT 5 shared subscriptions or ACLs could avoid.

Nothing the broker hands over is lost (issue 15): the broker counts a QoS 1 message delivered to us only
when we acknowledge it, so we acknowledge (PUBACK, paho's manual acknowledgement) only after the
observation is committed, and the session is persistent (a stable client id, ``clean_start`` off, a
session expiry): after a crash or a lost connection the broker sends again what we had not acknowledged,
and ingest answers a repeat with the stored observation instead of a second row. We also announce the
largest MQTT 5 *Receive Maximum*, so a burst waits in the broker's in-flight window for us (where
Mosquitto never drops it) rather than in its per-client queue (``max_queued_messages``, 1000 by default,
beyond which Mosquitto drops QoS 1 messages it has acknowledged to their publisher: the loss the
benchmark found). What the broker does with a publish before it reaches us (its PUBACK to the device,
its persistence) is the broker's: configure ``persistence true`` and a queue large enough for the
time the server may be down (docs/scaling.md).

URL options (query parameters): ``client_id`` (the persistent session's id; default: derived from the
database and the HTTP port, so a restarted server resumes its session), ``session_expiry`` (seconds the
broker keeps the session while we are away, default 3600) and ``share`` (an MQTT 5 shared-subscription
group: several ingest processes then split the messages instead of each receiving all) and ``notify``:
``subscribed`` (the default) publishes SensorThings notifications only on topics a client registered in
the interest registry (:mod:`safecity.sensing.mqtt_interest`: the broker cannot tell us who subscribed,
and rendering and publishing three notifications of every new observation for no one cost more than
storing it), ``all`` publishes every notification (``on`` is its older name), ``off`` none.
"""

from __future__ import annotations

import asyncio
import struct
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import orjson
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from safecity.core.errors import BadRequest, ConfigError
from safecity.core.logging import get_logger
from safecity.sensing.mqtt_interest import INTEREST_FILTER, INTEREST_ROOT, Interest
from safecity.sensing.mqtt_port import ERRORS, NOBODY, ROOT, Incoming

log = get_logger(__name__)

#: How long start-up waits for the first connection before going on and retrying in the background.
CONNECT_WAIT_S = 5.0
_CREATE_FILTERS = (f"{ROOT}/Observations", f"{ROOT}/+/Observations", f"{ROOT}/CreateObservations")


#: MQTT 5 Receive Maximum we announce (the protocol's largest): how many unacknowledged QoS 1 messages
#: the broker may have in flight to us. Below the pipeline's MAX_PENDING, so one connection never
#: overloads it.
RECEIVE_MAXIMUM = 65535
#: After the store refused a batch (it is down, or overloaded), its messages are ingested again this
#: much later (MQTT has no negative acknowledgement; the broker re-sends only on a new connection).
RETRY_S = 2.0
_OPTIONS = frozenset({"client_id", "session_expiry", "share", "notify"})
#: ``notify=`` values: which notifications the server publishes (``on`` is the older name of ``all``).
_NOTIFY = {"subscribed": "subscribed", "all": "all", "on": "all", "off": "off"}


@dataclass(frozen=True, slots=True)
class BrokerUrl:
    host: str
    port: int
    tls: bool
    user: str | None
    password: str | None
    client_id: str | None
    session_expiry_s: int
    share: str | None
    notify: str = "subscribed"  # subscribed | all | off


def _parse_url(url: str) -> BrokerUrl:
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts", "tcp", "ssl") or not parts.hostname:
        raise ConfigError(
            f"SAFECITY_MQTT__URL={url!r}: expected mqtt://host:port or mqtts://host:port "
            "(optionally with user:password@)"
        )
    tls = parts.scheme in ("mqtts", "ssl")
    try:
        port = parts.port or (8883 if tls else 1883)
    except ValueError:
        raise ConfigError(f"SAFECITY_MQTT__URL={url!r}: the port is not a number") from None
    user = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password else None
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    unknown = sorted(set(query) - _OPTIONS)
    if unknown:
        raise ConfigError(
            f"SAFECITY_MQTT__URL={url!r}: unknown option {unknown[0]!r} (known: {', '.join(sorted(_OPTIONS))})"
        )
    expiry = query.get("session_expiry", "3600")
    if not expiry.isdigit() or int(expiry) > 0xFFFFFFFF:
        raise ConfigError(f"SAFECITY_MQTT__URL={url!r}: session_expiry must be whole seconds, got {expiry!r}")
    share = query.get("share")
    notify = _NOTIFY.get(query.get("notify", "subscribed"))
    if notify is None:
        raise ConfigError(
            f"SAFECITY_MQTT__URL={url!r}: notify must be subscribed, all or off, got {query['notify']!r}"
        )
    for name, value in (("client_id", query.get("client_id")), ("share", share)):
        if value is not None and (not value or any(c in value for c in "/+#")):
            raise ConfigError(f"SAFECITY_MQTT__URL={url!r}: {name} must be a non-empty name without / + #")
    return BrokerUrl(
        host=parts.hostname,
        port=port,
        tls=tls,
        user=user,
        password=password,
        client_id=query.get("client_id"),
        session_expiry_s=int(expiry),
        share=share,
        notify=notify,
    )


def _EVERYONE(topic: str) -> bool:  # a constant predicate, like NOBODY
    return True


class _BufferedClient(mqtt.Client):
    """paho's client reading the socket 64 KiB at a time.

    paho reads each packet with three ``recv`` calls (its first byte, its length, the rest): three system
    calls per single-observation message. Here they are served from a buffer, and every whole packet a
    read brought is handled before paho's loop waits in ``select`` again (which knows nothing of the
    buffer). A bare subscriber acknowledging each message spent 51 us of CPU per message with paho's
    reads and 29-33 us with these (bench/ingest.py's pass-through, Mosquitto on loopback, load 14).
    paho keeps the state of a packet read in part; a new connection starts with an empty buffer."""

    _rbuf: bytes = b""
    _rpos: int = 0

    def _sock_recv(self, bufsize: int) -> bytes:
        pos, buf = self._rpos, self._rbuf
        if pos >= len(buf):
            buf = super()._sock_recv(65536)  # raises BlockingIOError when nothing is there yet
            if not buf:
                return buf  # the connection closed
            self._rbuf, pos = buf, 0
        end = pos + bufsize
        self._rpos = end
        return buf[pos:end]

    def loop_read(self, max_packets: int = 1) -> MQTTErrorCode:
        rc = super().loop_read(max_packets)
        while rc == MQTTErrorCode.MQTT_ERR_SUCCESS and self._rpos < len(self._rbuf) and self._sock:
            rc = super().loop_read(1)
        return rc

    def reconnect(self) -> MQTTErrorCode:
        self._rbuf, self._rpos = b"", 0
        return super().reconnect()

    def ack_many(self, mids: Sequence[int]) -> None:
        """Acknowledge these QoS 1 messages (PUBACK, success) in one write: paho's ``ack`` queues one
        packet, wakes its loop and sends, each time."""
        if mids:
            packet = b"".join([_PUBACK.pack(_PUBACK_TYPE, 2, mid) for mid in mids])
            self._packet_queue(_PUBACK_TYPE, packet, 0, 1)


#: A PUBACK with success and no properties (MQTT 5 allows leaving the reason code out): type, length, id.
_PUBACK = struct.Struct("!BBH")
_PUBACK_TYPE = 0x40


class _Pending:
    """A message received from the broker, until it is settled (called by the ingest pipeline)."""

    __slots__ = ("broker", "connection", "mid", "payload", "qos", "topic")

    def __init__(
        self, broker: ExternalBroker, topic: str, payload: bytes, mid: int, qos: int, connection: int
    ) -> None:
        self.broker, self.topic, self.payload = broker, topic, payload
        self.mid, self.qos, self.connection = mid, qos, connection

    def __call__(self, stored: bool) -> None:
        self.broker.settle_many([self], stored)

    @property
    def settle_many(self) -> Callable[[list[_Pending], bool], None]:
        return self.broker.settle_many


class ExternalBroker:
    """A paho MQTT 5 connection (a :class:`safecity.sensing.mqtt.Transport`)."""

    def __init__(self, url: str, submit: Callable[[Incoming], None], client_id: str | None = None) -> None:
        where = _parse_url(url)
        self.where = where
        self.host, self.port = where.host, where.port
        self.submit = submit
        self.endpoints = [f"{'mqtts' if where.tls else 'mqtt'}://{where.host}:{where.port}"]
        # A stable id: the broker keeps this session (and what we did not acknowledge) across restarts.
        self.client_id = where.client_id or client_id or f"safecity-{uuid.uuid4().hex[:12]}"
        client = _BufferedClient(
            CallbackAPIVersion.VERSION2, client_id=self.client_id, protocol=mqtt.MQTTv5, manual_ack=True
        )
        if where.user is not None:
            client.username_pw_set(where.user, where.password)
        if where.tls:
            client.tls_set()
        client.on_connect = self._on_connect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        client.on_disconnect = self._on_disconnect
        client.reconnect_delay_set(1, 30)
        self.client = client
        self.ready = threading.Event()
        self._closed = False
        # Packet ids are per connection: a message received on an earlier connection is not acknowledged
        # on a later one (its id may by then name another message); the broker re-sends it instead.
        self._connection = 0
        self.acked = 0
        self.retried = 0
        #: Who registered for which notifications (``notify=subscribed``).
        self.interest = Interest()

    @classmethod
    async def connect(
        cls, url: str, submit: Callable[[Incoming], None], client_id: str | None = None
    ) -> ExternalBroker:
        self = cls(url, submit, client_id)
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = self.where.session_expiry_s
        props.ReceiveMaximum = RECEIVE_MAXIMUM
        self.client.connect_async(self.host, self.port, keepalive=30, clean_start=False, properties=props)
        self.client.loop_start()
        if not await asyncio.to_thread(self.ready.wait, CONNECT_WAIT_S):
            log.warning(
                "MQTT broker not reachable yet; retrying in the background",
                broker=self.endpoints[0],
                waited_s=CONNECT_WAIT_S,
            )
        return self

    # paho callbacks (paho's network thread) -------------------------------------------------------
    def _on_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: ReasonCode, properties: Any
    ) -> None:
        if reason.is_failure:
            log.warning("MQTT broker refused the connection", broker=self.endpoints[0], reason=str(reason))
            return
        self._connection += 1
        share = self.where.share
        # No local is a protocol error on a shared subscription: there our own notifications come back,
        # and is_notification passes over them.
        options = SubscribeOptions(
            qos=1, noLocal=share is None, retainHandling=SubscribeOptions.RETAIN_DO_NOT_SEND
        )
        filters = _CREATE_FILTERS if share is None else [f"$share/{share}/{f}" for f in _CREATE_FILTERS]
        wanted = [(f, options) for f in filters]
        if self.where.notify == "subscribed":
            # Every server reads every registration (never shared), the retained ones included: forget
            # what the last connection knew, the broker sends the current state again.
            self.interest.clear()
            wanted.append((INTEREST_FILTER, SubscribeOptions(qos=1)))
        client.subscribe(wanted)

    def _on_subscribe(
        self, client: mqtt.Client, userdata: Any, mid: int, reasons: list[ReasonCode], properties: Any
    ) -> None:
        failed = [str(r) for r in reasons if r.is_failure]
        if failed:
            log.warning(
                "MQTT broker refused the create subscriptions", broker=self.endpoints[0], reasons=failed
            )
            return
        log.info("MQTT connected", broker=self.endpoints[0], client=self.client_id)
        self.ready.set()

    def _on_disconnect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: ReasonCode, properties: Any
    ) -> None:
        self.ready.clear()
        if not self._closed:
            log.warning(
                "MQTT broker connection lost; reconnecting", broker=self.endpoints[0], reason=str(reason)
            )

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        # paho types the payload bytes | bytearray; it decodes bytes, so bytes() is a no-op here.
        topic, payload = msg.topic, bytes(msg.payload)
        if topic.startswith(INTEREST_ROOT):
            self._on_interest(topic, payload)
            if msg.qos:
                client.ack(msg.mid, msg.qos)
            return
        settled = self._settler(topic, payload, msg.mid, msg.qos, self._connection) if msg.qos else None
        self.submit(Incoming(topic, payload, None, None, trusted=True, settled=settled))

    def _on_interest(self, topic: str, payload: bytes) -> None:
        try:
            self.interest.update(topic, payload)
        except BadRequest as e:
            log.warning("MQTT notification registration refused", topic=topic, reason=e.message)
            body = {"code": e.code, "message": e.message, "topic": topic}
            self.client.publish(ERRORS, orjson.dumps(body), qos=0)

    def _settler(self, topic: str, payload: bytes, mid: int, qos: int, connection: int) -> _Pending:
        return _Pending(self, topic, payload, mid, qos, connection)

    def settle_many(self, messages: list[_Pending], stored: bool) -> None:
        """Messages settled together (in the order received): stored (committed, or answered as
        rejected), they are acknowledged in one write; only now may the broker forget them. Not stored,
        they are ingested again after RETRY_S (MQTT has no negative acknowledgement)."""
        if stored:
            if self._closed:
                return
            # Packet ids are per connection: one received before a reconnect is sent again instead.
            ours = [m for m in messages if m.connection == self._connection]
            self.client.ack_many([m.mid for m in ours if m.qos == 1])
            for m in ours:
                if m.qos != 1:  # never on our QoS 1 subscriptions; paho's own way if it came
                    self.client.ack(m.mid, m.qos)
            self.acked += len(ours)
            return
        for m in messages:
            if self._closed or m.connection != self._connection:
                continue  # the broker sends it again when we (re)connect
            self.retried += 1
            again = Incoming(m.topic, m.payload, None, None, trusted=True, settled=m)
            timer = threading.Timer(RETRY_S, self.submit, (again,))
            timer.daemon = True
            timer.start()

    # Transport ------------------------------------------------------------------------------------
    def listening(self) -> Callable[[str], bool]:
        # The broker does not tell its clients who subscribed: they register (mqtt_interest), or the
        # URL says to publish everything (notify=all) or nothing (notify=off, an ingest-only server).
        if self.where.notify == "subscribed":
            return self.interest.listening()
        if self.where.notify == "off":
            return NOBODY
        return _EVERYONE

    def publish_many(self, messages: Sequence[tuple[str, bytes]]) -> None:
        if self._closed:
            raise RuntimeError("the MQTT client is stopped")
        publish = self.client.publish
        for topic, data in messages:
            publish(topic, data, qos=0)

    def answer(self, answers: Sequence[tuple[str, bytes, object | None]]) -> None:
        # The external broker does not say who published: answers go to the shared error topic.
        self.publish_many([(topic, data) for topic, data, _ in answers])

    async def stop(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.client.disconnect()
        await asyncio.to_thread(self.client.loop_stop)
