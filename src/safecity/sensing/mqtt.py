# SPDX-License-Identifier: Apache-2.0
"""The OGC SensorThings 1.1 MQTT extension: create Observations by MQTT publish, receive updates by subscribe.

Two transports (``Transport``), chosen by settings:

* embedded (``mqtt_url`` empty): an amqtt broker in this process on ``mqtt_host:mqtt_port``
  (:mod:`safecity.sensing.mqtt_broker`). Our plugins authenticate clients, capture device publishes and
  keep them from being forwarded, and the server publishes notifications straight into the broker.
* external (``mqtt_url`` set): a paho MQTT 5 client of that broker (:mod:`safecity.sensing.mqtt_client`).
  The broker does its own authentication, so every message it delivers is accepted as published.

Topics (all under ``v1.1/``, as SensorThings 1.1 §14 prescribes):

* create: ``v1.1/Datastreams(<id>)/Observations``, ``v1.1/MultiDatastreams(<id>)/Observations``,
  ``v1.1/FeaturesOfInterest(<id>)/Observations`` and ``v1.1/Observations`` (these two with the Datastream
  in the body). The payload is the Observation JSON of an HTTP POST.
* receive: a new Observation goes to ``v1.1/Observations``, its ``Datastreams(<id>)/Observations`` (or
  ``MultiDatastreams``) and its ``FeaturesOfInterest(<id>)/Observations``; another new entity to
  ``v1.1/<EntitySet>`` and to the to-many navigation of each parent (``v1.1/Things(<id>)/Datastreams``);
  an updated entity to ``v1.1/<EntitySet>(<id>)``. The JSON is what ``GET`` answers for the entity.
* errors (safecity's own; the standard has no way to answer a publish): a rejected publish is answered
  with ``{"code", "message", "topic"}`` on ``v1.1/errors/<client id>`` by the embedded broker (only that
  client, operators and admins receive it), or on ``v1.1/errors`` with an external broker, which does not
  tell us who published.

Incoming messages are collected (up to ``MAX_BATCH`` messages or ``BATCH_WAIT_S``) and ingested in one
``Ingest.ingest`` call on a worker thread, so the broker's event loop never waits for the store.
"""

from __future__ import annotations

import collections
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import orjson
from sqlalchemy import select
from sqlalchemy.engine import Connection, Row

from safecity.auth.model import Principal, Role
from safecity.core.errors import BadRequest, Forbidden, SafecityError, Unauthorized
from safecity.core.events import ENTITY_CHANGED, OBSERVATIONS_ACCEPTED, EntityChanged, ObservationAccepted
from safecity.core.logging import get_logger
from safecity.sensing.ingest import DATASTREAM, MULTI_DATASTREAM, Ingest, ObservationIn
from safecity.sensing.sta.model import ENTITIES, Entity, Nav
from safecity.sensing.sta.query import Reader

if TYPE_CHECKING:
    from safecity.app import Platform
    from safecity.settings import Settings

log = get_logger(__name__)

ROOT = "v1.1"
ERRORS = f"{ROOT}/errors"
#: One ingest call takes at most this many messages; larger batches gain little and delay the first rows.
MAX_BATCH = 2000
#: How long the worker waits for a batch to fill once the first message arrived (latency bound).
BATCH_WAIT_S = 0.02
#: An Observation is a few hundred bytes; anything far larger is a mistake, not data.
MAX_PAYLOAD = 64 * 1024
#: Messages waiting for the worker beyond this are refused (the store cannot keep up); the device retries.
MAX_PENDING = 200_000
#: Errors logged per batch; the rest are counted, so a misconfigured fleet cannot flood the log.
MAX_LOGGED_ERRORS = 20

_CREATE = re.compile(r"^v1\.1/(?:(Datastreams|MultiDatastreams|FeaturesOfInterest)\((\d+)\)/)?Observations$")
_OBSERVATION_KEYS = frozenset(
    [p.name for p in ENTITIES["Observation"].props]
    + [n.name for n in ENTITIES["Observation"].navs]
    + ["@iot.id"]
)
_PUBLISHERS = frozenset({Role.device, Role.operator})


def is_create_topic(topic: str) -> bool:
    return _CREATE.match(topic) is not None


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

    async def stop(self) -> None: ...


@dataclass(frozen=True, slots=True)
class Incoming:
    """One publish on a create topic, as the transport received it."""

    topic: str
    payload: bytes
    client_id: str | None  # None with an external broker, which does not say who published
    principal: Principal | None  # None: anonymous (embedded) or not known (external, trusted)
    trusted: bool = False  # external broker: it authenticated the publisher already


def _ref_id(value: Any, where: str) -> Any:
    if not isinstance(value, dict) or "@iot.id" not in value:
        raise BadRequest(f'{where}: expected {{"@iot.id": n}}', where=where)
    if set(value) - {"@iot.id", "@iot.selfLink"}:
        raise BadRequest(
            f"{where}: over MQTT an Observation may only refer to an existing entity by @iot.id; "
            "create new entities over HTTP",
            where=where,
        )
    return value["@iot.id"]


def to_observation(msg: Incoming) -> ObservationIn:
    """Turn one publish into an ingest item, with the same rules as an HTTP POST of an Observation.

    Raises BadRequest naming the topic or the JSON field that is wrong.
    """
    m = _CREATE.match(msg.topic)
    if m is None:
        raise BadRequest(
            f"topic '{msg.topic}': publish Observations to v1.1/Datastreams(<id>)/Observations, "
            "v1.1/MultiDatastreams(<id>)/Observations, v1.1/FeaturesOfInterest(<id>)/Observations "
            "or v1.1/Observations"
        )
    if len(msg.payload) > MAX_PAYLOAD:
        raise BadRequest(
            f"payload: {len(msg.payload)} bytes is over {MAX_PAYLOAD}; send one Observation per message"
        )
    try:
        body = orjson.loads(msg.payload)
    except orjson.JSONDecodeError as e:
        raise BadRequest(f"payload: malformed JSON: {e}", where="payload") from None
    if not isinstance(body, dict):
        raise BadRequest("payload: expected a JSON object (one Observation)", where="payload")
    for key in body:
        if (
            key not in _OBSERVATION_KEYS
            and key != "@iot.selfLink"
            and not key.endswith("@iot.navigationLink")
        ):
            raise BadRequest(f"{key}: Observations have no property '{key}'", where=key)
    kind: str | None = None
    stream: Any = None
    foi: Any = None
    if m.group(1) == "Datastreams":
        kind, stream = DATASTREAM, int(m.group(2))
    elif m.group(1) == "MultiDatastreams":
        kind, stream = MULTI_DATASTREAM, int(m.group(2))
    elif m.group(1) == "FeaturesOfInterest":
        foi = int(m.group(2))
    for k in (DATASTREAM, MULTI_DATASTREAM):
        if k not in body:
            continue
        ref = _ref_id(body[k], k)
        if kind is not None and (k, ref) != (kind, stream):
            raise BadRequest(
                f"{k}: an Observation belongs to one Datastream or MultiDatastream, and the topic names it"
            )
        kind, stream = k, ref
    if kind is None:
        raise BadRequest(
            "Datastream: required; publish to v1.1/Datastreams(<id>)/Observations or give "
            '"Datastream": {"@iot.id": <id>} in the body',
            where="Datastream",
        )
    if "FeatureOfInterest" in body:
        ref = _ref_id(body["FeatureOfInterest"], "FeatureOfInterest")
        if foi is not None and ref != foi:
            raise BadRequest("FeatureOfInterest: differs from the one the topic names")
        foi = ref
    return ObservationIn(
        stream_kind=kind,
        stream_id=stream,
        phenomenon_time=body.get("phenomenonTime"),
        result=body.get("result"),
        has_result="result" in body,
        result_time=body.get("resultTime"),
        valid_time=body.get("validTime"),
        parameters=body.get("parameters"),
        result_quality=body.get("resultQuality"),
        foi_id=foi,
        client_id=body.get("@iot.id"),
    )


def is_notification(payload: bytes) -> bool:
    """A message a SensorThings server published (it has a selfLink); a device never sends one.

    With an external broker the server also receives what other servers on that broker publish on the
    same topics; taking those for create requests would copy Observations between databases.
    """
    return b'"@iot.selfLink"' in payload


# ------------------------------------------------------------------------------------------------
# Create: batch, authorise, ingest
# ------------------------------------------------------------------------------------------------
class Pipeline:
    """Collects incoming publishes and ingests them in batches on one worker thread."""

    def __init__(self, ingest: Ingest, store_connect: Callable[[], Any], transport: Transport) -> None:
        self.ingest = ingest
        self._connect = store_connect
        self.transport = transport
        self._queue: collections.deque[Incoming] = collections.deque()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="mqtt-ingest", daemon=True)
        self.received = 0
        self.stored = 0
        self.rejected = 0
        self._overload_logged = False

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Ingest what is queued, then end the worker."""
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout)

    def submit(self, msg: Incoming) -> None:
        """Queue one message (any thread; never blocks)."""
        if len(self._queue) >= MAX_PENDING:
            busy = SafecityError("server busy: too many observations waiting; retry later")
            self._answer([self._reject(msg, busy, MAX_LOGGED_ERRORS + 1)])
            if not self._overload_logged:
                log.warning("MQTT ingest overloaded; refusing messages", pending=len(self._queue))
                self._overload_logged = True
            return
        self._queue.append(msg)
        if not self._wake.is_set():
            self._wake.set()

    def pending(self) -> int:
        return len(self._queue)

    def _run(self) -> None:
        queue = self._queue
        while True:
            if not queue:
                if self._stop.is_set():
                    return
                self._wake.wait(0.5)
                self._wake.clear()
                continue
            # The first message opened a batch: let it fill for a moment, then take what is there.
            deadline = time.monotonic() + BATCH_WAIT_S
            while len(queue) < MAX_BATCH and not self._stop.is_set():
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                time.sleep(min(left, 0.002))
            n = min(len(queue), MAX_BATCH)
            batch = [queue.popleft() for _ in range(n)]
            self._overload_logged = False
            try:
                self.process(batch)
            except Exception:  # the worker's outermost boundary: keep it alive, tell the senders
                log.exception("MQTT ingest batch failed", messages=len(batch))
                failed = SafecityError("server error while storing; retry later")
                self._answer([self._reject(msg, failed, MAX_LOGGED_ERRORS + 1) for msg in batch])

    def process(self, batch: Sequence[Incoming]) -> None:
        """Parse, authorise and ingest one batch; answer every rejected message on its error topic."""
        self.received += len(batch)
        items: list[ObservationIn] = []
        origin: list[Incoming] = []
        answers: list[tuple[str, bytes]] = []
        conn: Connection | None = None
        try:
            for msg in batch:
                if msg.trusted and is_notification(msg.payload):
                    continue  # another server's notification, see is_notification
                try:
                    item = to_observation(msg)
                    if not msg.trusted:
                        if conn is None:
                            conn = self._connect()
                        self._authorise(conn, msg, item)
                except SafecityError as e:
                    answers.append(self._reject(msg, e, len(answers)))
                    continue
                items.append(item)
                origin.append(msg)
        finally:
            if conn is not None:
                conn.close()
        if items:
            result = self.ingest.ingest(items)
            self.stored += result.created
            for err in result.errors:
                answers.append(self._reject(origin[err.index], BadRequest(err.message), len(answers)))
        if len(answers) > MAX_LOGGED_ERRORS:
            log.warning("MQTT publishes rejected", rejected=len(answers), logged=MAX_LOGGED_ERRORS)
        self._answer(answers)

    def _authorise(self, conn: Connection, msg: Incoming, item: ObservationIn) -> None:
        p = msg.principal
        if p is None:
            raise Unauthorized(
                "publishing needs credentials: connect with a device API key as password (any username), "
                "or an operator's username and password"
            )
        if p.kind == "device":
            sid = item.stream_id
            info = self.ingest.stream(conn, item.stream_kind, sid) if type(sid) is int else None
            # An unknown stream is left to ingest, which answers it as HTTP does.
            if info is not None and info.thing_id != p.thing_id:
                raise Forbidden(
                    f"{item.stream_kind}: {item.stream_kind}({sid}) belongs to Thing({info.thing_id}); "
                    f"this device key is for Thing({p.thing_id})"
                )
            return
        if not p.has_any(_PUBLISHERS):
            raise Forbidden(
                f"user '{p.name}' may read but not publish Observations; ask for the operator role"
            )

    def _reject(self, msg: Incoming, error: SafecityError, nth: int) -> tuple[str, bytes]:
        """Log (the first few of a batch) and build the answer for one rejected message."""
        self.rejected += 1
        if nth < MAX_LOGGED_ERRORS:
            log.warning("MQTT publish rejected", topic=msg.topic, client=msg.client_id, reason=error.message)
        body = {"code": error.code, "message": error.message, "topic": msg.topic}
        return error_topic(msg.client_id), orjson.dumps(body)

    def _answer(self, answers: list[tuple[str, bytes]]) -> None:
        if not answers:
            return
        try:
            self.transport.publish_many(answers)
        except RuntimeError as e:  # the broker is shutting down; the log lines are the record
            log.debug("MQTT error answers not sent", count=len(answers), reason=str(e))


# ------------------------------------------------------------------------------------------------
# Receive: bus events to notifications
# ------------------------------------------------------------------------------------------------
def _parents() -> dict[str, list[tuple[Entity, Nav]]]:
    """For each entity type, the (parent type, to-many navigation) pairs that list it."""
    out: dict[str, list[tuple[Entity, Nav]]] = collections.defaultdict(list)
    for parent in ENTITIES.values():
        for nav in parent.navs:
            if nav.many:
                out[nav.target].append((parent, nav))
    return out


_PARENTS = _parents()


class Notifier:
    """Bus subscriber that publishes new and changed entities as SensorThings notifications."""

    def __init__(self, platform: Platform, transport: Transport, base: str) -> None:
        self.store = platform.store
        self.transport = transport
        self.reader = Reader(platform.store, base, 1)
        self.closed = False
        self.published = 0

    def on_observations(self, events: Sequence[Any]) -> None:
        if self.closed or not events:
            return
        listening = self.transport.listening()
        if listening is NOBODY:
            return  # the common case under heavy HTTP ingest: cost one snapshot per batch, nothing more
        wanted: dict[int, list[str]] = {}
        # Observations of a batch share few (stream, feature) pairs: decide the topics once per pair.
        per_pair: dict[tuple[int | None, int | None, int], list[str]] = {}
        for ev in events:
            if not isinstance(ev, ObservationAccepted):
                continue
            pair = (ev.datastream_id, ev.multi_datastream_id, ev.feature_of_interest_id)
            topics = per_pair.get(pair)
            if topics is None:
                if ev.datastream_id is not None:
                    stream = f"{ROOT}/Datastreams({ev.datastream_id})/Observations"
                else:
                    stream = f"{ROOT}/MultiDatastreams({ev.multi_datastream_id})/Observations"
                foi = f"{ROOT}/FeaturesOfInterest({ev.feature_of_interest_id})/Observations"
                topics = per_pair[pair] = [t for t in (f"{ROOT}/Observations", stream, foi) if listening(t)]
            if topics:
                wanted[ev.observation_id] = topics
        if not wanted:
            return
        entity = ENTITIES["Observation"]
        messages: list[tuple[str, bytes]] = []
        for row in self._rows(entity, list(wanted)):
            data = orjson.dumps(self.reader.render(entity, row, None))
            messages.extend((topic, data) for topic in wanted[row.id])
        self._publish(messages)

    def on_entities(self, events: Sequence[Any]) -> None:
        if self.closed:
            return
        listening = self.transport.listening()
        if listening is NOBODY:
            return
        created: dict[str, list[int]] = collections.defaultdict(list)
        updated: dict[str, list[int]] = collections.defaultdict(list)
        for ev in events:
            if not isinstance(ev, EntityChanged) or ev.entity not in ENTITIES:
                continue
            entity = ENTITIES[ev.entity]
            if ev.action == "created":
                created[ev.entity].append(ev.entity_id)
            elif ev.action == "updated" and listening(f"{ROOT}/{entity.set_name}({ev.entity_id})"):
                updated[ev.entity].append(ev.entity_id)
        messages: list[tuple[str, bytes]] = []
        with self.store.engine.connect() as conn:
            for name, ids in updated.items():
                entity = ENTITIES[name]
                for row in self._rows(entity, ids, conn):
                    messages.append(
                        (
                            f"{ROOT}/{entity.set_name}({row.id})",
                            orjson.dumps(self.reader.render(entity, row, None)),
                        )
                    )
            for name, ids in created.items():
                entity = ENTITIES[name]
                for row in self._rows(entity, ids, conn):
                    topics = [f"{ROOT}/{entity.set_name}"]
                    topics += self._parent_topics(conn, entity, row)
                    topics = [t for t in topics if listening(t)]
                    if topics:
                        data = orjson.dumps(self.reader.render(entity, row, None))
                        messages.extend((t, data) for t in topics)
        self._publish(messages)

    def _parent_topics(self, conn: Connection, entity: Entity, row: Row[Any]) -> list[str]:
        topics: list[str] = []
        for parent, nav in _PARENTS.get(entity.name, []):
            if nav.remote_fk:
                pid = row._mapping[nav.remote_fk]
                pids = [pid] if pid is not None else []
            else:
                assert nav.link is not None and nav.link_self and nav.link_target
                pids = list(
                    conn.execute(
                        select(nav.link.c[nav.link_self]).where(nav.link.c[nav.link_target] == row.id)
                    ).scalars()
                )
            topics += [f"{ROOT}/{parent.set_name}({pid})/{nav.name}" for pid in pids]
        return topics

    def _rows(self, entity: Entity, ids: list[int], conn: Connection | None = None) -> list[Row[Any]]:
        """The stored rows, fetched in one query per 5,000 ids (SQLite allows 32,766 parameters)."""
        if conn is None:
            with self.store.engine.connect() as c:
                return self._rows(entity, ids, c)
        rows: list[Row[Any]] = []
        table = entity.table
        for i in range(0, len(ids), 5000):
            chunk = ids[i : i + 5000]
            rows += conn.execute(select(table).where(table.c.id.in_(chunk)).order_by(table.c.id)).all()
        return rows

    def _publish(self, messages: list[tuple[str, bytes]]) -> None:
        if not messages:
            return
        try:
            self.transport.publish_many(messages)
        except RuntimeError as e:
            log.warning("MQTT notifications not sent", count=len(messages), reason=str(e))
            return
        self.published += len(messages)


# ------------------------------------------------------------------------------------------------
# Wiring
# ------------------------------------------------------------------------------------------------
class MqttService:
    """The running MQTT extension: a transport, the ingest pipeline and the notifier."""

    def __init__(self, transport: Transport, pipeline: Pipeline, notifier: Notifier) -> None:
        self.transport = transport
        self.pipeline = pipeline
        self.notifier = notifier
        self.endpoints: list[str] = list(transport.endpoints)

    async def stop(self) -> None:
        """Stop taking messages, ingest what was queued, then close the connection or broker."""
        import asyncio

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

    async def stop(self) -> None:
        if self.target is not None:
            await self.target.stop()


async def start_mqtt(settings: Settings, platform: Platform) -> MqttService:
    """Start the MQTT extension: the embedded broker, or a client of ``settings.mqtt_url``.

    Subscribes the notifier to the platform's bus; the bus must be started by the caller. Raises
    ConfigError when the embedded broker cannot listen or the external URL is malformed.
    """
    deferred = _Deferred()
    engine = platform.store.engine
    pipeline = Pipeline(platform.sensing.ingest, engine.connect, deferred)
    transport: Transport
    if settings.mqtt_url:
        from safecity.sensing.mqtt_client import ExternalBroker

        transport = await ExternalBroker.connect(settings.mqtt_url, pipeline.submit)
    else:
        from safecity.sensing.mqtt_broker import EmbeddedBroker

        transport = await EmbeddedBroker.start(settings, platform.auth, pipeline.submit)
    deferred.target = transport
    pipeline.start()
    notifier = Notifier(platform, transport, base_url(settings))
    platform.bus.subscribe(OBSERVATIONS_ACCEPTED, notifier.on_observations, "mqtt-notify-observations")
    platform.bus.subscribe(ENTITY_CHANGED, notifier.on_entities, "mqtt-notify-entities")
    log.info("MQTT extension started", endpoints=transport.endpoints)
    return MqttService(transport, pipeline, notifier)
