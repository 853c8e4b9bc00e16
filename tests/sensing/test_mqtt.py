# SPDX-License-Identifier: Apache-2.0
"""The SensorThings MQTT extension over real connections: the embedded amqtt broker and Mosquitto.

Each test runs its own event loop (``asyncio.run``); the broker lives in that loop, the paho clients in
their own network threads, like devices would.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

import orjson
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.subscribeoptions import SubscribeOptions
from sqlalchemy import func, select

from safecity.app import Platform, build_platform
from safecity.auth.model import Role
from safecity.core.errors import BadRequest
from safecity.sensing import tables as t
from safecity.sensing.ingest import DATASTREAM, MULTI_DATASTREAM
from safecity.sensing.mqtt import Incoming, MqttService, base_url, start_mqtt, to_observation
from safecity.sensing.mqtt_interest import INTEREST_ROOT, Interest
from safecity.sensing.mqtt_port import NOBODY
from safecity.sensing.sta.model import ENTITIES
from safecity.sensing.sta.options import parse_options
from safecity.sensing.sta.query import Reader
from safecity.settings import MqttSettings, Settings
from tests.conftest import free_port, service_missing, weather_station

MOSQUITTO = ("127.0.0.1", 1883)
WAIT_S = 5.0


async def until(what: str, check: Callable[[], Any], timeout: float = WAIT_S) -> Any:
    """Poll ``check`` without blocking the loop (the broker runs in it) until it is truthy."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.01)


class Peer:
    """A paho client (a device or a subscriber) that records what it receives."""

    def __init__(
        self,
        port: int,
        client_id: str | None = None,
        username: str | None = None,
        password: str | None = None,
        *,
        v5: bool = False,
    ) -> None:
        self.client_id = client_id or f"t-{uuid.uuid4().hex[:10]}"
        self.port = port
        protocol = mqtt.MQTTv5 if v5 else mqtt.MQTTv311
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=self.client_id, protocol=protocol)
        if password is not None:
            self.client.username_pw_set(username or "device", password)
        self.messages: list[tuple[str, bytes]] = []
        self.lock = threading.Lock()
        self.connack: Any = None
        self.subacks: list[int] = []
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda c, u, mid, rc, p: self.subacks.append(mid)

    def _on_connect(self, c: Any, u: Any, flags: Any, reason: Any, props: Any) -> None:
        self.connack = reason

    def _on_message(self, c: Any, u: Any, msg: mqtt.MQTTMessage) -> None:
        with self.lock:
            self.messages.append((msg.topic, bytes(msg.payload)))

    async def open(self) -> Self:
        self.client.connect("127.0.0.1", self.port, keepalive=30)
        self.client.loop_start()
        await until(f"CONNACK for {self.client_id}", lambda: self.connack is not None)
        return self

    async def subscribe(self, *topics: str, options: SubscribeOptions | None = None) -> None:
        opts = options or SubscribeOptions(qos=1)
        if self.client.protocol == mqtt.MQTTv5:
            _, mid = self.client.subscribe([(topic, opts) for topic in topics])
        else:
            _, mid = self.client.subscribe([(topic, 1) for topic in topics])
        await until(f"SUBACK of {topics}", lambda: mid in self.subacks)

    def will_withdraw(self) -> None:
        """Set the will that withdraws this client's notification registration (before ``open``)."""
        self.client.will_set(f"{INTEREST_ROOT}/{self.client_id}", b"", qos=1, retain=True)

    async def register(self, transport: Any, filters: list[str]) -> None:
        """Register for notifications (retained) and wait until the external transport has read it."""
        info = self.client.publish(
            f"{INTEREST_ROOT}/{self.client_id}", orjson.dumps(filters), qos=1, retain=True
        )
        await until("PUBACK of the registration", info.is_published)
        registered = transport.interest.registered
        await until("the server reading the registration", lambda: registered(self.client_id) == set(filters))

    async def publish(self, topic: str, payload: Any) -> None:
        data = payload if isinstance(payload, bytes) else orjson.dumps(payload)
        info = self.client.publish(topic, data, qos=1)
        await until(f"PUBACK for {topic}", info.is_published)

    def received(self, topic: str | None = None) -> list[Any]:
        with self.lock:
            return [orjson.loads(p) for tp, p in self.messages if topic is None or tp == topic]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@dataclass
class Env:
    settings: Settings
    platform: Platform
    service: MqttService
    thing: int
    datastream: int
    key: str
    other_key: str

    def count(self) -> int:
        with self.platform.store.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(t.observations)).scalar_one())

    def rendered(self, oid: int) -> Any:
        entity = ENTITIES["Observation"]
        reader = Reader(self.platform.store, base_url(self.settings), 1)
        with self.platform.store.engine.connect() as conn:
            return reader.one(conn, entity, oid, parse_options({}, entity))

    def stored_ids(self) -> list[int]:
        with self.platform.store.engine.connect() as conn:
            return list(conn.execute(select(t.observations.c.id).order_by(t.observations.c.id)).scalars())


@asynccontextmanager
async def running(tmp_path: Path, mqtt_url: str | None = None, **settings: Any) -> AsyncIterator[Env]:
    s = Settings(
        data_dir=tmp_path, mqtt=MqttSettings(url=mqtt_url, port=free_port()), port=free_port(), **settings
    )
    platform = build_platform(s)
    thing = platform.sensing.write(lambda conn, w: w.create(conn, ENTITIES["Thing"], weather_station()))
    other = platform.sensing.write(
        lambda conn, w: w.create(conn, ENTITIES["Thing"], weather_station("Other AWS"))
    )
    with platform.store.engine.connect() as conn:
        ds = conn.execute(select(t.datastreams.c.id).where(t.datastreams.c.thing_id == thing)).scalar_one()
    env_key, other_key = platform.auth.create_api_key(thing), platform.auth.create_api_key(other)
    platform.bus.start()
    service = await start_mqtt(s, platform)
    try:
        yield Env(s, platform, service, thing, ds, env_key, other_key)
    finally:
        await service.stop()
        await asyncio.to_thread(platform.bus.stop)
        platform.store.close()


# -- parsing (no broker) ---------------------------------------------------------------------------
def _msg(topic: str, body: Any) -> Incoming:
    return Incoming(topic, body if isinstance(body, bytes) else orjson.dumps(body), "c", None)


def test_create_topics_name_the_stream_or_the_body_does() -> None:
    item = to_observation(
        _msg("v1.1/Datastreams(7)/Observations", {"phenomenonTime": "2024-01-01T00:00:00Z", "result": 1})
    )
    assert (item.stream_kind, item.stream_id, item.result, item.has_result) == (DATASTREAM, 7, 1, True)
    item = to_observation(_msg("v1.1/MultiDatastreams(3)/Observations", {"result": [1, 2]}))
    assert (item.stream_kind, item.stream_id) == (MULTI_DATASTREAM, 3)
    item = to_observation(_msg("v1.1/Observations", {"result": 1, "Datastream": {"@iot.id": 4}}))
    assert (item.stream_kind, item.stream_id) == (DATASTREAM, 4)
    item = to_observation(
        _msg("v1.1/FeaturesOfInterest(5)/Observations", {"result": 1, "Datastream": {"@iot.id": 4}})
    )
    assert (item.stream_id, item.foi_id) == (4, 5)


@pytest.mark.parametrize(
    ("topic", "body", "reason"),
    [
        ("v1.1/Datastreams(7)/Observations", b"{not json", "malformed JSON"),
        ("v1.1/Datastreams(7)/Observations", b"[1, 2]", "expected a JSON object"),
        ("v1.1/Observations", {"result": 1}, "Datastream: required"),
        ("v1.1/Datastreams(7)/Observations", {"result": 1, "colour": "red"}, "no property 'colour'"),
        ("v1.1/Datastreams(7)/Observations", {"result": 1, "Datastream": {"@iot.id": 8}}, "one Datastream"),
        ("v1.1/Things(1)/Observations", {"result": 1}, "topic 'v1.1/Things(1)/Observations'"),
        ("v1.1/Observations", {"result": 1, "Datastream": {"name": "new"}}, "@iot.id"),
    ],
)
def test_bad_requests_name_the_problem(topic: str, body: Any, reason: str) -> None:
    with pytest.raises(BadRequest) as e:
        to_observation(_msg(topic, body))
    assert reason in e.value.message


# -- embedded broker -------------------------------------------------------------------------------
def test_device_publish_is_stored_and_published_as_the_http_json(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running(tmp_path) as env:
            topic = f"v1.1/Datastreams({env.datastream})/Observations"
            sub = await Peer(env.settings.mqtt.port).open()
            await sub.subscribe(topic, "v1.1/Observations", f"v1.1/Things({env.thing})")
            dev = await Peer(env.settings.mqtt.port, password=env.key).open()
            assert not dev.connack.is_failure
            await dev.publish(topic, {"phenomenonTime": "2024-07-01T09:00:00+09:00", "result": 12.5})
            got = await until("the notification", lambda: sub.received(topic))
            (oid,) = env.stored_ids()
            assert got == [env.rendered(oid)]  # byte for byte what GET /Observations(id) answers
            assert got[0]["@iot.id"] == oid and got[0]["result"] == 12.5
            assert got[0]["@iot.selfLink"] == f"{base_url(env.settings)}/Observations({oid})"
            assert (await until("v1.1/Observations", lambda: sub.received("v1.1/Observations"))) == got
            # A retry (same phenomenonTime) is stored once and announced once.
            await dev.publish(topic, {"phenomenonTime": "2024-07-01T00:00:00Z", "result": 12.5})
            await until("the retry", lambda: env.service.pipeline.received == 2)
            await asyncio.to_thread(env.platform.bus.drain)
            assert env.count() == 1 and len(sub.received(topic)) == 1
            # The server's notification on the create topic is not taken for a new request.
            assert env.service.pipeline.received == 2 and env.service.pipeline.rejected == 0
            sub.close()
            dev.close()

    asyncio.run(scenario())


def test_nobody_listening_means_nothing_rendered(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running(tmp_path) as env:
            dev = await Peer(env.settings.mqtt.port, password=env.key).open()
            await dev.publish(f"v1.1/Datastreams({env.datastream})/Observations", {"result": 3})
            await until("the row", lambda: env.count() == 1)
            assert await asyncio.to_thread(env.platform.bus.drain)
            assert env.service.notifier.published == 0
            dev.close()

    asyncio.run(scenario())


def test_bad_payloads_are_answered_on_the_error_topic(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running(tmp_path) as env:
            dev = await Peer(env.settings.mqtt.port, password=env.key).open()
            errors = f"v1.1/errors/{dev.client_id}"
            await dev.subscribe(errors)
            topic = f"v1.1/Datastreams({env.datastream})/Observations"
            await dev.publish(topic, b'{"result": 1,')
            await dev.publish(topic, {"phenomenonTime": "yesterday", "result": 1})
            await dev.publish(topic, {"result": "NaN"})
            await dev.publish("v1.1/Datastreams(999)/Observations", {"result": 1})
            got = await until(
                "four error answers", lambda: len(dev.received(errors)) == 4 and dev.received(errors)
            )
            by_topic = [(e["topic"], e["code"], e["message"]) for e in got]
            assert "malformed JSON" in by_topic[0][2]
            assert "phenomenonTime" in by_topic[1][2]
            assert "finite" in by_topic[2][2]
            assert (
                by_topic[3][0] == "v1.1/Datastreams(999)/Observations" and "does not exist" in by_topic[3][2]
            )
            assert env.count() == 0
            # The connection and the server are fine afterwards.
            await dev.publish(topic, {"result": 2})
            await until("the good row", lambda: env.count() == 1)
            dev.close()

    asyncio.run(scenario())


def test_gateway_publishes_a_data_array(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running(tmp_path) as env:
            gw = await Peer(env.settings.mqtt.port, password=env.key).open()
            errors = f"v1.1/errors/{gw.client_id}"
            await gw.subscribe(errors)
            rows = [[f"2024-07-01T09:{m:02d}:00+09:00", float(m)] for m in range(50)]
            rows.insert(10, ["not a time", 1.0])
            body = [
                {
                    "Datastream": {"@iot.id": env.datastream},
                    "components": ["phenomenonTime", "result"],
                    "dataArray": rows,
                }
            ]
            await gw.publish("v1.1/CreateObservations", body)
            await until("50 rows", lambda: env.count() == 50)
            (answer,) = await until("the row error", lambda: gw.received(errors))
            assert answer["rows"] == [{"row": 10, "message": answer["rows"][0]["message"]}]
            assert "phenomenonTime" in answer["rows"][0]["message"]
            # Another Thing's key may not write to this Thing's stream.
            other = await Peer(env.settings.mqtt.port, password=env.other_key).open()
            await other.subscribe(f"v1.1/errors/{other.client_id}")
            await other.publish(
                "v1.1/CreateObservations", [{**body[0], "dataArray": [["2024-07-02T00:00:00Z", 1.0]]}]
            )
            refused = await until("the refusal", lambda: other.received(f"v1.1/errors/{other.client_id}"))
            assert f"Thing({env.thing})" in refused[0]["rows"][0]["message"]
            assert env.count() == 50
            gw.close()
            other.close()

    asyncio.run(scenario())


def test_publishing_needs_the_right_credentials(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running(tmp_path) as env:
            env.platform.auth.create_user("op1", "operator-password", {Role.operator})
            env.platform.auth.create_user("viewer1", "viewer-password", set())
            port = env.settings.mqtt.port
            topic = f"v1.1/Datastreams({env.datastream})/Observations"

            wrong = await Peer(port, password="sck_not-a-key").open()
            assert wrong.connack.is_failure
            wrong.close()

            async def refused(peer: Peer, code: str) -> str:
                errors = f"v1.1/errors/{peer.client_id}"
                await peer.subscribe(errors)
                await peer.publish(topic, {"result": 1})
                (answer,) = await until(f"{code} answer", lambda: peer.received(errors))
                assert answer["code"] == code and answer["topic"] == topic
                peer.close()
                return str(answer["message"])

            assert "credentials" in await refused(await Peer(port).open(), "unauthorized")
            other = await refused(await Peer(port, password=env.other_key).open(), "forbidden")
            assert f"belongs to Thing({env.thing})" in other
            viewer = await refused(
                await Peer(port, "viewer-c", "viewer1", "viewer-password").open(), "forbidden"
            )
            assert "operator" in viewer
            assert env.count() == 0

            operator = await Peer(port, username="op1", password="operator-password").open()
            await operator.publish(topic, {"result": 4})
            await until("the operator's row", lambda: env.count() == 1)
            operator.close()

    asyncio.run(scenario())


def test_error_answers_reach_only_their_client(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running(tmp_path) as env:
            snoop = await Peer(env.settings.mqtt.port).open()
            await snoop.subscribe("v1.1/#")
            dev = await Peer(env.settings.mqtt.port, password=env.key).open()
            await dev.subscribe(f"v1.1/errors/{dev.client_id}")
            await dev.publish(f"v1.1/Datastreams({env.datastream})/Observations", b"nope")
            await until("the error answer", lambda: dev.received())
            await asyncio.sleep(0.1)
            assert snoop.received() == []  # neither the request nor the answer
            snoop.close()
            dev.close()

    asyncio.run(scenario())


def test_new_and_changed_entities_are_published(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running(tmp_path) as env:
            sub = await Peer(env.settings.mqtt.port).open()
            nav, coll, one = (
                f"v1.1/Things({env.thing})/Datastreams",
                "v1.1/Datastreams",
                f"v1.1/Things({env.thing})",
            )
            await sub.subscribe(nav, coll, one)
            with env.platform.store.engine.connect() as conn:
                first = conn.execute(select(t.datastreams).where(t.datastreams.c.id == env.datastream)).one()
            body = {
                "name": "rainfall 1 h",
                "description": "hourly rainfall",
                "observationType": "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement",
                "unitOfMeasurement": {"name": "millimetre", "symbol": "mm", "definition": "ucum:mm"},
                "Thing": {"@iot.id": env.thing},
                "Sensor": {"@iot.id": first.sensor_id},
                "ObservedProperty": {"@iot.id": first.observed_property_id},
            }
            new = await asyncio.to_thread(
                env.platform.sensing.write, lambda conn, w: w.create(conn, ENTITIES["Datastream"], body)
            )
            (created,) = await until("the new Datastream", lambda: sub.received(nav))
            assert created["@iot.id"] == new and created["name"] == "rainfall 1 h"
            assert created["@iot.selfLink"].endswith(f"/Datastreams({new})")
            assert (await until("the collection topic", lambda: sub.received(coll))) == [created]
            await asyncio.to_thread(
                env.platform.sensing.write,
                lambda conn, w: w.patch(conn, ENTITIES["Thing"], env.thing, {"name": "Gangnam AWS (moved)"}),
            )
            (changed,) = await until("the changed Thing", lambda: sub.received(one))
            assert changed["@iot.id"] == env.thing and changed["name"] == "Gangnam AWS (moved)"
            sub.close()

    asyncio.run(scenario())


# -- external broker (Mosquitto) -----------------------------------------------------------------
def _mosquitto() -> None:
    try:
        with socket.create_connection(MOSQUITTO, timeout=1):
            return
    except OSError as e:
        service_missing(f"Mosquitto at {MOSQUITTO[0]}:{MOSQUITTO[1]} ({e})")


@pytest.mark.mosquitto
def test_external_broker_create_and_receive(tmp_path: Path) -> None:
    _mosquitto()

    async def scenario() -> None:
        url = f"mqtt://{MOSQUITTO[0]}:{MOSQUITTO[1]}"
        async with running(tmp_path, mqtt_url=url) as env:
            assert env.service.endpoints == [url]
            transport: Any = env.service.transport
            assert await asyncio.to_thread(transport.ready.wait, WAIT_S), "not subscribed at Mosquitto"
            # Record what the server's client receives, to prove no-local keeps its own messages away.
            seen: list[bytes] = []
            original = transport.client.on_message

            def record(client: Any, userdata: Any, msg: mqtt.MQTTMessage) -> None:
                seen.append(bytes(msg.payload))
                original(client, userdata, msg)

            transport.client.on_message = record
            # Other test runs may share Mosquitto and these topic names: make this run's data unique.
            marker = uuid.uuid4().int % 10**9 / 1000
            when = f"2023-01-01T{uuid.uuid4().int % 24:02d}:{uuid.uuid4().int % 60:02d}:17.123Z"
            topic = f"v1.1/Datastreams({env.datastream})/Observations"
            port = MOSQUITTO[1]
            sub = Peer(port, v5=True)
            sub.will_withdraw()
            await sub.open()
            await sub.subscribe(topic, "v1.1/errors")
            # notify=subscribed (the default): the subscriber says what it wants, or nothing is announced.
            await sub.register(transport, [topic])
            dev = await Peer(port, v5=True).open()
            await dev.publish(topic, {"phenomenonTime": when, "result": marker})

            # Servers of other runs on this Mosquitto may store the same publish; ours is known by its links.
            ours = base_url(env.settings) + "/"

            def mine() -> list[Any]:
                return [
                    m
                    for m in sub.received(topic)
                    if str(m.get("@iot.selfLink", "")).startswith(ours) and m.get("result") == marker
                ]

            (note,) = await until("the notification", mine)
            with env.platform.store.engine.connect() as conn:
                oid = conn.execute(
                    select(t.observations.c.id).where(t.observations.c.result_number == marker)
                ).scalar_one()
            assert note == env.rendered(oid)
            await asyncio.to_thread(env.platform.bus.drain)
            await asyncio.sleep(0.2)
            assert len(mine()) == 1
            link = note["@iot.selfLink"].encode()
            assert not [p for p in seen if link in p], "the server received its own notification"
            # A bad payload is answered on v1.1/errors (the broker does not say who published).
            bad = f"colour_{uuid.uuid4().hex[:8]}"
            await dev.publish(topic, {"result": 1, bad: 1})
            answer = await until(
                "the error answer", lambda: [e for e in sub.received("v1.1/errors") if bad in e["message"]]
            )
            assert answer[0]["topic"] == topic
            await sub.register(transport, [])
            sub.close()
            dev.close()

    asyncio.run(scenario())


@pytest.mark.mosquitto
def test_mosquitto_honours_no_local() -> None:
    """The loop guard the external transport relies on: an MQTT 5 no-local subscriber misses its own
    publishes but gets everyone else's."""
    _mosquitto()

    async def scenario() -> None:
        topic = f"safecity-test/{uuid.uuid4().hex}"
        me = await Peer(MOSQUITTO[1], v5=True).open()
        await me.subscribe(topic, options=SubscribeOptions(qos=1, noLocal=True))
        other = await Peer(MOSQUITTO[1], v5=True).open()
        await me.publish(topic, {"from": "me"})
        await other.publish(topic, {"from": "other"})
        await until("the other's message", lambda: me.received(topic))
        await asyncio.sleep(0.1)
        assert me.received(topic) == [{"from": "other"}]
        me.close()
        other.close()

    asyncio.run(scenario())


@pytest.mark.mosquitto
def test_the_buffered_reader_hands_over_every_packet_whole_and_in_order() -> None:
    """The external transport's paho client reads 64 KiB at a time: a burst of small messages (many
    packets per read) and large ones (a packet across several reads) arrive whole, once, in order."""
    _mosquitto()
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    from safecity.sensing.mqtt_client import _BufferedClient

    topic = f"safecity-test/{uuid.uuid4().hex}"
    sizes = [40 + (k * 37) % 300 for k in range(3000)] + [70_000, 10, 200_000, 5]
    payloads = [bytes([65 + k % 26]) * n + str(k).encode() for k, n in enumerate(sizes)]
    got: list[bytes] = []
    done = threading.Event()

    def on_message(client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        got.append(bytes(msg.payload))
        client.ack(msg.mid, msg.qos)
        if len(got) == len(payloads):
            done.set()

    sub = _BufferedClient(
        CallbackAPIVersion.VERSION2,
        client_id=f"t-{uuid.uuid4().hex[:8]}",
        protocol=mqtt.MQTTv5,
        manual_ack=True,
    )
    sub.on_message = on_message
    props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    props.ReceiveMaximum = 65535
    sub.connect(*MOSQUITTO, properties=props)
    sub.subscribe(topic, options=SubscribeOptions(qos=1))
    sub.loop_start()
    pub = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    pub.max_inflight_messages_set(100)
    pub.max_queued_messages_set(0)
    pub.connect(*MOSQUITTO)
    pub.loop_start()
    try:
        time.sleep(0.3)  # the subscription is in place
        for info in [pub.publish(topic, p, qos=1) for p in payloads]:
            info.wait_for_publish(60)
        assert done.wait(60), f"{len(got)} of {len(payloads)} messages arrived"
        assert got == payloads
    finally:
        for c in (pub, sub):
            c.disconnect()
            c.loop_stop()


def test_external_broker_url_options_are_checked() -> None:
    from safecity.core.errors import ConfigError
    from safecity.sensing.mqtt_client import _parse_url

    where = _parse_url(
        "mqtt://u:p%40ss@broker:1884?client_id=ingest-1&session_expiry=60&share=ingest&notify=off"
    )
    assert (where.host, where.port, where.user, where.password) == ("broker", 1884, "u", "p@ss")
    assert (where.client_id, where.session_expiry_s, where.share, where.notify) == (
        "ingest-1",
        60,
        "ingest",
        "off",
    )
    default = _parse_url("mqtt://broker")
    assert (default.notify, default.session_expiry_s) == ("subscribed", 3600)
    assert _parse_url("mqtt://broker?notify=on").notify == "all"  # the older name
    for url, named in (
        ("mqtt://broker?colour=red", "colour"),
        ("mqtt://broker?session_expiry=soon", "session_expiry"),
        ("mqtt://broker?share=a/b", "share"),
        ("mqtt://broker?notify=maybe", "notify"),
    ):
        with pytest.raises(ConfigError, match=named):
            _parse_url(url)


@pytest.mark.mosquitto
def test_external_broker_with_notify_off_stores_without_announcing(tmp_path: Path) -> None:
    """notify=off: publishes are stored, and no notification goes to the broker (the test above shows
    the same publish announced when notify is on)."""
    _mosquitto()

    async def scenario() -> None:
        url = f"mqtt://{MOSQUITTO[0]}:{MOSQUITTO[1]}?notify=off"
        async with running(tmp_path, mqtt_url=url) as env:
            transport: Any = env.service.transport
            assert await asyncio.to_thread(transport.ready.wait, WAIT_S), "not subscribed at Mosquitto"
            marker = uuid.uuid4().int % 10**9 / 1000
            when = f"2023-02-01T{uuid.uuid4().int % 24:02d}:{uuid.uuid4().int % 60:02d}:17.123Z"
            topic = f"v1.1/Datastreams({env.datastream})/Observations"
            dev = await Peer(MOSQUITTO[1], v5=True).open()
            await dev.publish(topic, {"phenomenonTime": when, "result": marker})

            def stored() -> list[int]:
                with env.platform.store.engine.connect() as conn:
                    return list(
                        conn.execute(
                            select(t.observations.c.id).where(t.observations.c.result_number == marker)
                        )
                        .scalars()
                        .all()
                    )

            await until("the stored observation", stored)
            await asyncio.to_thread(env.platform.bus.drain)
            assert env.service.notifier.published == 0
            dev.close()

    asyncio.run(scenario())


def test_interest_registrations_decide_what_is_announced() -> None:
    interest = Interest()
    assert interest.listening() is NOBODY  # nobody registered: the notifier reads and renders nothing
    interest.update(f"{INTEREST_ROOT}/a", b'["v1.1/Datastreams(7)/Observations", "v1.1/Things"]')
    interest.update(f"{INTEREST_ROOT}/b", b'["v1.1/FeaturesOfInterest(3)/+"]')
    listening = interest.listening()
    assert listening("v1.1/Datastreams(7)/Observations") and listening("v1.1/Things")
    assert listening("v1.1/FeaturesOfInterest(3)/Observations")
    assert not listening("v1.1/Datastreams(8)/Observations") and not listening("v1.1/Observations")
    interest.update(f"{INTEREST_ROOT}/b", b"")  # withdrawn (the empty retained message, or a will)
    assert not interest.listening()("v1.1/FeaturesOfInterest(3)/Observations")
    interest.update(f"{INTEREST_ROOT}/c", b'["v1.1/#"]')
    assert interest.listening()("v1.1/Observations")
    interest.update(f"{INTEREST_ROOT}/c", b"[]")
    interest.update(f"{INTEREST_ROOT}/a", b"")
    assert interest.listening() is NOBODY
    # A malformed registration is refused, naming what is wrong, and withdraws the client's earlier one.
    interest.update(f"{INTEREST_ROOT}/d", b'["v1.1/Things"]')
    for bad, named in (
        (b"{", "malformed JSON"),
        (b'{"topics": []}', "JSON array of topic filters"),
        (b'["v1.1/#/Observations"]', r"payload\[0\]"),
        (b'["v1.1/Things", "v1.1/Data+"]', r"payload\[1\]"),
    ):
        with pytest.raises(BadRequest, match=named):
            interest.update(f"{INTEREST_ROOT}/d", bad)
        assert interest.listening() is NOBODY


@pytest.mark.mosquitto
def test_external_broker_announces_only_what_is_registered(tmp_path: Path) -> None:
    """notify=subscribed: a registration retained before the server connected is read at start-up;
    while it stands, the registered topic is announced and the others are not; an explicit withdrawal
    and a subscriber's will (it vanished without a DISCONNECT) withdraw it."""
    _mosquitto()

    async def scenario() -> None:
        url = f"mqtt://{MOSQUITTO[0]}:{MOSQUITTO[1]}"
        early = Peer(MOSQUITTO[1], v5=True)
        early.will_withdraw()
        await early.open()
        topic_early = f"v1.1/Things({uuid.uuid4().int % 10**9 + 10**6})"
        info = early.client.publish(
            f"{INTEREST_ROOT}/{early.client_id}", orjson.dumps([topic_early]), qos=1, retain=True
        )
        await until("PUBACK of the registration", info.is_published)
        async with running(tmp_path, mqtt_url=url) as env:
            transport: Any = env.service.transport
            assert await asyncio.to_thread(transport.ready.wait, WAIT_S), "not subscribed at Mosquitto"
            registered = transport.interest.registered
            await until("the retained registration", lambda: registered(early.client_id) == {topic_early})
            topic = f"v1.1/Datastreams({env.datastream})/Observations"
            sub = Peer(MOSQUITTO[1], v5=True)
            sub.will_withdraw()
            await sub.open()
            await sub.subscribe(topic)
            await sub.register(transport, [topic])
            assert transport.listening()(topic) and transport.listening()(topic_early)
            # Withdrawn explicitly: the server forgets it (other runs on this Mosquitto may register
            # the same topic names, so the test looks at this client's registration, not the topic).
            await sub.register(transport, [])
            assert registered(sub.client_id) == set()
            # Vanished without DISCONNECT: Mosquitto publishes its will, which withdraws it.
            early.client.socket().close()  # type: ignore[union-attr]
            await until("the will's withdrawal", lambda: not registered(early.client_id), timeout=WAIT_S * 2)
            early.client.loop_stop()
            sub.close()

    asyncio.run(scenario())
