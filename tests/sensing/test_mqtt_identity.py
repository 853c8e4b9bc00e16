# SPDX-License-Identifier: Apache-2.0
"""Who a publish comes from over MQTT: the credentials of its connection, never its client id (issue 13).

Each test performs the attack over real connections to the embedded broker: a second client that
connects with a device's client id, before or after the device, with no or wrong credentials.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import orjson
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import select

from safecity.sensing import tables as t
from tests.sensing.test_mqtt import Env, Peer, running, until

DEVICE_ID = "gangnam-aws-1"


class Client(Peer):
    """A Peer that records being disconnected and does not reconnect on its own during a test."""

    def __init__(self, port: int, client_id: str, password: str | None = None, *, clean: bool = True) -> None:
        super().__init__(port, client_id, password=password)
        if not clean:
            self.client = mqtt.Client(
                CallbackAPIVersion.VERSION2,
                client_id=client_id,
                protocol=mqtt.MQTTv311,
                clean_session=False,
            )
            if password is not None:
                self.client.username_pw_set("device", password)
            self.client.on_connect = self._on_connect
            self.client.on_message = self._on_message
            self.client.on_subscribe = lambda c, u, mid, rc, p: self.subacks.append(mid)
        self.client.reconnect_delay_set(min_delay=120, max_delay=120)
        self.disconnected = False
        self.session_present: bool | None = None
        self.client.on_disconnect = self._on_disconnect

    def _on_connect(self, c: Any, u: Any, flags: Any, reason: Any, props: Any) -> None:
        self.session_present = bool(flags.session_present)
        super()._on_connect(c, u, flags, reason, props)

    def _on_disconnect(self, c: Any, u: Any, flags: Any, reason: Any, props: Any) -> None:
        self.disconnected = True

    def send(self, topic: str, result: Any) -> bool:
        """Publish at QoS 1; True when the broker acknowledged it within a second."""
        info = self.client.publish(topic, orjson.dumps({"result": result}), qos=1)
        try:
            info.wait_for_publish(1.0)
        except RuntimeError:  # not connected: never sent
            return False
        return info.is_published()


def results(env: Env) -> list[Any]:
    with env.platform.store.engine.connect() as conn:
        return sorted(conn.execute(select(t.observations.c.result_number)).scalars())


def test_an_anonymous_client_with_a_devices_id_before_it_stores_nothing_as_the_device(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running(tmp_path) as env:
            topic = f"v1.1/Datastreams({env.datastream})/Observations"
            thief = await Client(env.settings.mqtt.port, DEVICE_ID).open()
            await thief.subscribe(f"v1.1/errors/{DEVICE_ID}")
            device = await Client(env.settings.mqtt.port, DEVICE_ID, env.key).open()
            assert not device.connack.is_failure
            forged = await asyncio.to_thread(thief.send, topic, 666)
            await device.publish(topic, b'{"result": 1}')
            await device.publish(topic, b"{broken")  # answered on the device's error topic
            await until("the device's row", lambda: results(env) == [1.0])
            await asyncio.to_thread(env.platform.bus.drain)
            assert results(env) == [1.0]
            assert not forged
            assert thief.received() == []  # the device's error answer did not reach the thief
            # MQTT 3.1.4: the older connection with that client id was closed.
            await until("the thief's connection closed", lambda: thief.disconnected)
            thief.close()
            device.close()

    asyncio.run(scenario())


def test_a_client_taking_a_devices_id_after_it_closes_the_device_and_gets_nothing(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running(tmp_path) as env:
            topic = f"v1.1/Datastreams({env.datastream})/Observations"
            device = await Client(env.settings.mqtt.port, DEVICE_ID, env.key).open()
            await device.subscribe(f"v1.1/errors/{DEVICE_ID}")
            await device.publish(topic, b'{"result": 1}')
            thief = await Client(env.settings.mqtt.port, DEVICE_ID).open()
            await thief.subscribe(f"v1.1/errors/{DEVICE_ID}")
            # Whatever the device is told was received must be stored as the device's.
            late = await asyncio.to_thread(device.send, topic, 2)
            await thief.publish(topic, b'{"result": 666}')  # anonymous: refused, answered to the thief
            (answer,) = await until("the thief's refusal", lambda: thief.received())
            assert answer["code"] == "unauthorized"
            await asyncio.to_thread(env.platform.bus.drain)
            stored = results(env)
            assert 666.0 not in stored
            assert stored == ([1.0, 2.0] if late else [1.0])
            await until("the device's connection closed", lambda: device.disconnected)
            thief.close()
            device.close()

    asyncio.run(scenario())


def test_refused_credentials_with_a_devices_id_leave_the_device_alone(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running(tmp_path) as env:
            topic = f"v1.1/Datastreams({env.datastream})/Observations"
            device = await Client(env.settings.mqtt.port, DEVICE_ID, env.key).open()
            wrong = await Client(env.settings.mqtt.port, DEVICE_ID, "sck_guessed-key").open()
            assert wrong.connack.is_failure
            await device.publish(topic, b'{"result": 5}')
            await until("the device's row", lambda: results(env) == [5.0])
            assert not device.disconnected
            wrong.close()
            device.close()

    asyncio.run(scenario())


def test_a_persistent_session_is_resumed_only_by_its_own_identity(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running(tmp_path) as env:
            port = env.settings.mqtt.port
            device = await Client(port, DEVICE_ID, env.key, clean=False).open()
            await device.subscribe(f"v1.1/errors/{DEVICE_ID}", "v1.1/Things")
            device.close()
            thief = await Client(port, DEVICE_ID, clean=False).open()
            assert thief.session_present is False  # nothing of the device's session is handed over
            thief.close()
            again = await Client(port, DEVICE_ID, env.key, clean=False).open()
            assert again.session_present is False  # the thief's connection started a clean session
            again.close()
            device2 = await Client(port, DEVICE_ID, env.key, clean=False).open()
            assert device2.session_present is True  # the same identity resumes its own
            device2.close()

    asyncio.run(scenario())
