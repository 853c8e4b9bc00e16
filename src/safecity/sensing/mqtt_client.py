# SPDX-License-Identifier: Apache-2.0
"""A client of an external MQTT 5 broker (paho-mqtt), for ``SAFECITY_MQTT_URL``.

The broker authenticates and authorises publishers itself (configure its ACLs so that only devices
and operators may publish on ``v1.1/.../Observations``): every message it delivers is ingested as if an
operator had sent it, without the per-Thing check of device keys.

The create and receive topics coincide, so the server subscribes with MQTT 5 *no local* and does not get
back its own notifications. Other SensorThings servers on the same broker publish on the same topics;
their notifications carry an ``@iot.selfLink`` and are ignored (a device never sends one). (An MQTT 5
user property would mark them too, but packing it halves paho's publish rate.) Subscribers of a
create topic also receive the devices' requests as published, since a broker forwards them to everyone:
a difference from the embedded broker that only MQTT 5 shared subscriptions or ACLs could avoid.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from safecity.core.errors import ConfigError
from safecity.core.logging import get_logger
from safecity.sensing.mqtt_port import ROOT, Incoming

log = get_logger(__name__)

#: How long start-up waits for the first connection before going on and retrying in the background.
CONNECT_WAIT_S = 5.0
_CREATE_FILTERS = (f"{ROOT}/Observations", f"{ROOT}/+/Observations", f"{ROOT}/CreateObservations")


def _parse_url(url: str) -> tuple[str, int, bool, str | None, str | None]:
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts", "tcp", "ssl") or not parts.hostname:
        raise ConfigError(
            f"SAFECITY_MQTT_URL={url!r}: expected mqtt://host:port or mqtts://host:port "
            "(optionally with user:password@)"
        )
    tls = parts.scheme in ("mqtts", "ssl")
    try:
        port = parts.port or (8883 if tls else 1883)
    except ValueError:
        raise ConfigError(f"SAFECITY_MQTT_URL={url!r}: the port is not a number") from None
    user = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password else None
    return parts.hostname, port, tls, user, password


class ExternalBroker:
    """A paho MQTT 5 connection (a :class:`safecity.sensing.mqtt.Transport`)."""

    def __init__(self, url: str, submit: Callable[[Incoming], None]) -> None:
        host, port, tls, user, password = _parse_url(url)
        self.host, self.port = host, port
        self.submit = submit
        self.endpoints = [f"{'mqtts' if tls else 'mqtt'}://{host}:{port}"]
        self.client_id = f"safecity-{uuid.uuid4().hex[:12]}"
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=self.client_id, protocol=mqtt.MQTTv5)
        if user is not None:
            client.username_pw_set(user, password)
        if tls:
            client.tls_set()
        client.on_connect = self._on_connect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        client.on_disconnect = self._on_disconnect
        client.reconnect_delay_set(1, 30)
        self.client = client
        self.ready = threading.Event()
        self._closed = False

    @classmethod
    async def connect(cls, url: str, submit: Callable[[Incoming], None]) -> ExternalBroker:
        self = cls(url, submit)
        self.client.connect_async(self.host, self.port, keepalive=30, clean_start=True)
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
        options = SubscribeOptions(qos=1, noLocal=True, retainHandling=SubscribeOptions.RETAIN_DO_NOT_SEND)
        client.subscribe([(f, options) for f in _CREATE_FILTERS])

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
        self.submit(Incoming(msg.topic, bytes(msg.payload), None, None, trusted=True))

    # Transport ------------------------------------------------------------------------------------
    def listening(self) -> Callable[[str], bool]:
        # The broker does not tell its clients who subscribed; publish everything.
        return lambda _topic: True

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
