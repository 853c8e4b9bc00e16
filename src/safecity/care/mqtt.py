# SPDX-License-Identifier: Apache-2.0
"""OwnTracks over MQTT: a client of the broker the apps publish to (``owntracks/<user>/<device>``).

The broker authenticates the apps (Mosquitto's password file and ACLs: each user may publish only under
``owntracks/<user>/#``); a message it delivers is taken as coming from the device registered with that
``<user>/<device>`` topic id. Unknown topics are counted and dropped, never stored. paho-mqtt is the
client (the platform's MQTT client library, see safecity.sensing.mqtt_client); it runs on its own
network thread and hands each message to :meth:`Care.ingest`.

The embedded broker of ``safecity serve`` carries only SensorThings topics: point the OwnTracks apps and
``SAFECITY_CARE__MQTT_URL`` (or ``SAFECITY_MQTT__URL``) at a real broker.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

import orjson
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from safecity.care import trackers
from safecity.care.service import Care
from safecity.core.errors import ConfigError, SafecityError
from safecity.core.logging import get_logger

log = get_logger(__name__)


@dataclass
class Counts:
    stored: int = 0
    duplicates: int = 0
    refused: int = 0
    unknown: int = 0
    sos: int = 0
    errors: list[str] = field(default_factory=list)


class OwnTracksListener:
    def __init__(self, care: Care, url: str, topic: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "tcp") or not parts.hostname:
            raise ConfigError(f"SAFECITY_CARE__MQTT_URL={url!r}: expected mqtt://host:port")
        self.care = care
        self.topic = topic
        self.counts = Counts()
        self.ready = threading.Event()
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"safecity-care-{uuid.uuid4().hex[:10]}")
        if parts.username:
            client.username_pw_set(unquote(parts.username), unquote(parts.password or ""))
        client.on_connect = self._on_connect
        client.on_subscribe = lambda *a: self.ready.set()
        client.on_message = self._on_message
        client.reconnect_delay_set(1, 30)
        self.client = client
        self.host, self.port = parts.hostname, parts.port or 1883

    def start(self) -> None:
        self.client.connect_async(self.host, self.port, keepalive=30)
        self.client.loop_start()

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def _on_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any = None
    ) -> None:
        # <topic>/sos: our SOS convention for MQTT apps (OwnTracks has no SOS message): the payload
        # is an OwnTracks location message, published by the device's SOS button
        client.subscribe([(self.topic, 1), (self.topic + "/sos", 1)])

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        parts = msg.topic.split("/")
        if len(parts) == 4 and parts[3] == "sos":
            self.handle(f"{parts[1]}/{parts[2]}", bytes(msg.payload), sos=True)
            return
        if len(parts) != 3:
            return  # owntracks/<user>/<device>/event and the others carry no location
        self.handle(f"{parts[1]}/{parts[2]}", bytes(msg.payload))

    def handle(self, topic_id: str, payload: bytes, *, sos: bool = False) -> None:
        """One publish; never raises (a bad message must not stop the others)."""
        try:
            fixes = trackers.owntracks(orjson.loads(payload), self.care.clock.now())
            if not fixes:
                return
            device = self.care.device_by_topic(topic_id)
            if device is None:
                self.counts.unknown += 1
                return
            if sos:
                self.care.sos(device, fixes[-1])
                self.counts.sos += 1
                return
            result = self.care.ingest(device, fixes)
            self.counts.stored += result.stored
            self.counts.duplicates += result.duplicates
        except (SafecityError, orjson.JSONDecodeError) as e:
            self.counts.refused += 1
            self.counts.errors = [*self.counts.errors[-9:], f"{topic_id}: {e}"]
            log.info("OwnTracks message refused", topic=topic_id, error=str(e))
