# SPDX-License-Identifier: Apache-2.0
"""Observations created by MQTT publish: parse each message like an HTTP POST, authorise it, ingest in batches.

Messages are collected (up to ``MAX_BATCH`` or ``BATCH_WAIT_S``) and stored in one ``Ingest.ingest`` call
on a worker thread, so the broker's event loop never waits for the store. A rejected message is logged
(topic, client, reason) and answered on the error topic (:func:`safecity.sensing.mqtt_port.error_topic`).
"""

from __future__ import annotations

import collections
import re
import time
from collections.abc import Callable, Sequence
from typing import Any

import orjson
from sqlalchemy.engine import Connection

from safecity.auth.model import Principal, Role
from safecity.core.errors import BadRequest, Forbidden, SafecityError, Unauthorized
from safecity.core.logging import get_logger
from safecity.core.worker import Worker
from safecity.sensing.data_array import parse_data_array
from safecity.sensing.ingest import DATASTREAM, MULTI_DATASTREAM, DataArrayGroup, Ingest, ObservationIn
from safecity.sensing.mqtt_port import Incoming, Transport, error_topic
from safecity.sensing.sta.model import ENTITIES

log = get_logger(__name__)

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

#: Gateways may publish many observations in one message, with the HTTP Data Array body.
CREATE_OBSERVATIONS = "v1.1/CreateObservations"
#: A Data Array message carries many observations, so it may be larger.
MAX_DATA_ARRAY_PAYLOAD = 16 * 1024 * 1024
_CREATE = re.compile(r"^v1\.1/(?:(Datastreams|MultiDatastreams|FeaturesOfInterest)\((\d+)\)/)?Observations$")
_OBSERVATION_KEYS = frozenset(
    [p.name for p in ENTITIES["Observation"].props]
    + [n.name for n in ENTITIES["Observation"].navs]
    + ["@iot.id"]
)
_PUBLISHERS = frozenset({Role.device, Role.operator})
#: An error answer: (topic, payload, the rejected publish's ``Incoming.reply_to``).
Answer = tuple[str, bytes, object | None]


class ServerBusy(SafecityError):
    """The server could not store the message now; sending it again later may work."""

    status = 503
    code = "unavailable"


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
    return ObservationIn.from_json(body, kind, stream, foi)


def _settle(messages: Sequence[Incoming], stored: bool) -> None:
    """Tell each message's transport it is settled. A ``settled`` callable with a ``settle_many``
    attribute (the external broker's) is told together with the others of its transport, in order: one
    write of all their acknowledgements instead of one per message."""
    together: dict[Callable[[list[Any], bool], None], list[Any]] = {}
    for msg in messages:
        settled = msg.settled
        if settled is None:
            continue
        many = getattr(settled, "settle_many", None)
        if many is None:
            settled(stored)
        else:
            together.setdefault(many, []).append(settled)
    for many, group in together.items():
        many(group, stored)


def is_notification(payload: bytes) -> bool:
    """A message a SensorThings server published (it has a selfLink); a device never sends one.

    With an external broker the server also receives what other servers on that broker publish on the
    same topics; taking those for create requests would copy Observations between databases.
    """
    return b'"@iot.selfLink"' in payload


class Pipeline:
    """Collects incoming publishes and ingests them in batches on one worker thread."""

    def __init__(self, ingest: Ingest, store_connect: Callable[[], Any], transport: Transport) -> None:
        self.ingest = ingest
        self._connect = store_connect
        self.transport = transport
        self._queue: collections.deque[Incoming] = collections.deque()
        # a queue that must not be dropped: on stop, what is queued is still ingested
        self.worker = Worker("mqtt-ingest", self._step, interval_s=0.5, drain_on_stop=True)
        self.received = 0
        self.stored = 0
        self.rejected = 0
        self._overload_logged = False
        #: Told of every batch once it is settled (stored or refused): the audit log's hook.
        #: The third argument holds the ``id()`` of each message refused whole (bad, not allowed).
        self.on_batch: Callable[[Sequence[Incoming], bool, frozenset[int]], None] | None = None
        self._refused: set[int] = set()
        #: Whether a device key is still live (AuthService.key_active): a key revoked in any process
        #: stops the publishes of a device that connected with it before (issue 13).
        self.key_active: Callable[[int], bool] | None = None

    def start(self) -> None:
        self.worker.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Ingest what is queued, then end the worker."""
        self.worker.stop(timeout)

    def submit(self, msg: Incoming) -> None:
        """Queue one message (any thread; never blocks)."""
        if len(self._queue) >= MAX_PENDING:
            busy = ServerBusy("server busy: too many observations waiting; retry later")
            self._answer([self._reject(msg, busy, MAX_LOGGED_ERRORS + 1)])
            self._refused.discard(id(msg))  # never in a batch: nothing to audit it against
            _settle([msg], False)
            if not self._overload_logged:
                log.warning("MQTT ingest overloaded; refusing messages", pending=len(self._queue))
                self._overload_logged = True
            return
        self._queue.append(msg)
        self.worker.notify()

    def pending(self) -> int:
        return len(self._queue)

    def _step(self) -> int:
        queue = self._queue
        if not queue:
            return 0
        # The first message opened a batch: let it fill for a moment, then take what is there.
        deadline = time.monotonic() + BATCH_WAIT_S
        while len(queue) < MAX_BATCH and not self.worker.stopping:
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
            failed = ServerBusy("server error while storing; retry later")
            self._answer([self._reject(msg, failed, MAX_LOGGED_ERRORS + 1) for msg in batch])
            _settle(batch, False)
            stored = False
        else:
            # Only now, after the commit, may the broker acknowledge (QoS 1 PUBACK).
            _settle(batch, True)
            stored = True
        refused, self._refused = frozenset(self._refused), set()
        if self.on_batch is not None:
            try:
                self.on_batch(batch, stored, refused)
            except Exception:  # the audit hook must never stop ingest; it says so loudly
                log.exception("could not queue the audit entry of an MQTT batch", messages=len(batch))
        return n

    def process(self, batch: Sequence[Incoming]) -> None:
        """Parse, authorise and ingest one batch; answer every rejected message on its error topic."""
        self.received += len(batch)
        items: list[ObservationIn] = []
        origin: list[Incoming] = []
        answers: list[Answer] = []
        conn: Connection | None = None
        try:
            arrays: list[Incoming] = []
            for msg in batch:
                if msg.trusted and is_notification(msg.payload):
                    continue  # another server's notification, see is_notification
                if msg.topic == CREATE_OBSERVATIONS:
                    arrays.append(msg)
                    continue
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
        if arrays:
            answers.extend(self._data_arrays(arrays, len(answers)))
        if items:
            result = self.ingest.ingest(items)
            self.stored += result.created
            for err in result.errors:
                answers.append(self._reject(origin[err.index], BadRequest(err.message), len(answers)))
        if len(answers) > MAX_LOGGED_ERRORS:
            log.warning("MQTT publishes rejected", rejected=len(answers), logged=MAX_LOGGED_ERRORS)
        self._answer(answers)

    def _data_arrays(self, messages: Sequence[Incoming], nth: int) -> list[Answer]:
        """Gateways' batches (the HTTP CreateObservations body), stored in one ingest call per
        publisher identity; each message's rejected rows are answered in one error message."""
        answers: list[Answer] = []
        by_device: dict[int | None, list[tuple[Incoming, list[DataArrayGroup]]]] = {}
        for msg in messages:
            p = msg.principal
            try:
                if not msg.trusted:
                    if p is None:
                        raise Unauthorized(
                            "publishing needs credentials: connect with a device API key as password "
                            "(any username), or an operator's username and password"
                        )
                    if p.kind != "device" and not p.has_any(_PUBLISHERS):
                        raise Forbidden(f"user '{p.name}' may read but not publish Observations")
                    if p.kind == "device":
                        self._check_key(p)
                if len(msg.payload) > MAX_DATA_ARRAY_PAYLOAD:
                    raise BadRequest(f"payload: {len(msg.payload)} bytes is over {MAX_DATA_ARRAY_PAYLOAD}")
                try:
                    body = orjson.loads(msg.payload)
                except orjson.JSONDecodeError as e:
                    raise BadRequest(f"payload: malformed JSON: {e}", where="payload") from None
                groups = parse_data_array(body)
            except SafecityError as e:
                answers.append(self._reject(msg, e, nth + len(answers)))
                continue
            device = p.thing_id if (p is not None and p.kind == "device" and not msg.trusted) else None
            by_device.setdefault(device, []).append((msg, groups))
        for device, entries in by_device.items():
            result, slots = self.ingest.ingest_data_array(
                [g for _, groups in entries for g in groups], device_thing=device
            )
            self.stored += result.created
            messages_by_item = {e.index: e.message for e in result.errors}
            # Answer positions follow the groups' rows in order; give each message its own share.
            position = 0
            for msg, groups in entries:
                n = sum(len(g.rows) for g in groups)
                failed = []
                for row, slot in enumerate(slots[position : position + n]):
                    if isinstance(slot, str):
                        failed.append({"row": row, "message": slot})
                    elif result.ids[slot] is None:
                        failed.append({"row": row, "message": messages_by_item.get(slot, "rejected")})
                position += n
                if failed and len(failed) == n:
                    self._refused.add(id(msg))  # no row of it was stored
                if failed:
                    self.rejected += len(failed)
                    log.warning(
                        "MQTT CreateObservations rows rejected",
                        client=msg.client_id,
                        rejected=len(failed),
                        first=failed[:3],
                    )
                    body_out = {
                        "code": "bad_request",
                        "message": f"{len(failed)} rows rejected",
                        "topic": msg.topic,
                        "rows": failed[:100],
                    }
                    answers.append((error_topic(msg.client_id), orjson.dumps(body_out), msg.reply_to))
        return answers

    def _authorise(self, conn: Connection, msg: Incoming, item: ObservationIn) -> None:
        p = msg.principal
        if p is None:
            raise Unauthorized(
                "publishing needs credentials: connect with a device API key as password (any username), "
                "or an operator's username and password"
            )
        if p.kind == "device":
            self._check_key(p)
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

    def _check_key(self, p: Principal) -> None:
        if p.key_id is not None and self.key_active is not None and not self.key_active(p.key_id):
            raise Unauthorized(
                "this device's API key was revoked; connect again with a new key from an operator"
            )

    def _reject(self, msg: Incoming, error: SafecityError, nth: int) -> Answer:
        """Log (the first few of a batch) and build the answer for one rejected message."""
        self.rejected += 1
        self._refused.add(id(msg))
        if nth < MAX_LOGGED_ERRORS:
            log.warning("MQTT publish rejected", topic=msg.topic, client=msg.client_id, reason=error.message)
        body = {"code": error.code, "message": error.message, "topic": msg.topic}
        return error_topic(msg.client_id), orjson.dumps(body), msg.reply_to

    def _answer(self, answers: list[Answer]) -> None:
        if not answers:
            return
        try:
            self.transport.answer(answers)
        except RuntimeError as e:  # the broker is shutting down; the log lines are the record
            log.debug("MQTT error answers not sent", count=len(answers), reason=str(e))
