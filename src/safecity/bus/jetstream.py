# SPDX-License-Identifier: Apache-2.0
"""The bus over NATS JetStream (``SAFECITY_BUS_URL=nats://host:4222``), for several processes.

Publishing does not change: an event is written to the outbox inside the publisher's transaction
(it exists exactly when its data does). A **relay** moves committed outbox rows, in id order, into one
JetStream stream; every message carries ``Nats-Msg-Id`` = the event id, so a relay that publishes a row
again after a crash (before it saved its position) is deduplicated by the server. On PostgreSQL the relay
takes a transaction-scoped advisory lock, so of several processes one relays at a time (and the stream
keeps commit order). Subjects are ``<prefix>.<event type>.<ordering key>``: a consumer can take one
type, or one key of it (a district), so work can be partitioned between processes.

Each subscriber has a **durable pull consumer** on the stream, named after it. Its messages are handed
to the handler in stream (commit) order and acknowledged after it returned. The subscriber's position
(the last event id handled), its retries on the platform's clock and its dead letters are kept in the
store exactly as the in-process bus keeps them (this class is that bus with another source of events):
a message at or before the position is a repeat (a crash between the handler and the acknowledgement)
and is acknowledged without being handed over. A handler that raises has its messages
read again from the first of them (the consumer is recreated at its sequence, which keeps the order
where a negative acknowledgement would not) and is not asked again before its backoff is due.

Failover: a process that takes over a subscriber whose consumer still has unacknowledged messages (the
previous holder died mid-batch) recreates the consumer from its acknowledgement floor, so the next
messages come in order and none is skipped; the handler may see a repeat, never a gap.

Library: nats-py, the NATS maintainers' asyncio client; it runs on an event loop in a thread of its own,
because the bus port (and the dispatcher worker) is synchronous.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import threading
from collections.abc import Callable, Coroutine, Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

import nats
from nats.aio.msg import Msg
from nats.js import JetStreamContext, api
from nats.js.errors import NotFoundError
from sqlalchemy import select, text
from sqlalchemy.engine import Connection

from safecity.bus import outbox as ob
from safecity.bus.inprocess import InProcessBus, _Round, _Subscriber
from safecity.bus.port import Handler
from safecity.bus.tables import outbox
from safecity.core.clock import Clock
from safecity.core.logging import get_logger
from safecity.settings import BusSettings

if TYPE_CHECKING:
    from safecity.store import Store

log = get_logger(__name__)
T = TypeVar("T")

#: The relay's position (the last event id published to the stream) is kept as a cursor of this name.
RELAY = "~nats-relay"
#: The advisory lock key serialising relays on PostgreSQL (arbitrary; distinct from the outbox's).
_RELAY_LOCK = 0x5AFEC17B06
#: How long one broker call may take before the round fails (and is retried by the worker).
_CALL_TIMEOUT_S = 10.0
#: A key is one subject token: letters, digits, ``_`` and ``-`` stay; anything else is written ``~HEX~``.
_TOKEN_SAFE = re.compile(r"[^A-Za-z0-9_\-]")


def key_token(key: str) -> str:
    """The subject token for an ordering key (``district:11110`` → ``district~3A~11110``)."""
    if not key:
        return "_"
    return _TOKEN_SAFE.sub(lambda m: f"~{ord(m.group()):X}~", key)


def _durable(name: str) -> str:
    # consumer names may not hold '.', '*', '>' or white space
    return _TOKEN_SAFE.sub("_", name)


class _Loop:
    """An asyncio event loop on a daemon thread; :meth:`run` calls a coroutine on it and waits."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="nats-io", daemon=True)
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = _CALL_TIMEOUT_S) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        if not self.thread.is_alive():
            self.loop.close()


class _Pull:
    """One subscriber's consumer: its pull subscription and the messages it holds unacknowledged."""

    def __init__(self, sub: JetStreamContext.PullSubscription, filters: tuple[str, ...]) -> None:
        self.sub = sub
        self.filters = filters
        self.held: dict[int, Msg] = {}  # event id → message handed to the handler, not yet (n)acked


class NatsBus(InProcessBus):
    def __init__(
        self,
        store: Store,
        url: str,
        clock: Clock | None = None,
        settings: BusSettings | None = None,
        batch: int = 200,
        poll_s: float = 1.0,
    ) -> None:
        super().__init__(store, clock, poll_s=poll_s, settings=settings, batch=batch)
        self.url = url
        self.stream = self.settings.nats_stream
        self.prefix = self.stream.lower()
        self._io = _Loop()
        self._pulls: dict[str, _Pull] = {}
        self._keys: dict[str, tuple[str, ...]] = {}
        try:
            self._nc = self._io.run(
                nats.connect(url, name="safecity", max_reconnect_attempts=-1, connect_timeout=5)
            )
            self._js = self._nc.jetstream()
            self._io.run(self._ensure_stream())
        except Exception:
            self._io.close()
            raise
        version = self._nc.connected_server_version
        # a consumer with several filter subjects needs nats-server 2.10; before, one filter for all
        # events and the other types are acknowledged and passed over
        self._multi_filter = (version.major, version.minor) >= (2, 10)

    # -- the port ----------------------------------------------------------------------------------
    def subscribe(
        self,
        types: str | Iterable[str],
        handler: Handler,
        name: str,
        wants: Callable[[], bool] | None = None,
        keys: Iterable[str] | None = None,
    ) -> None:
        """As the port's; with ``keys`` the subscriber's consumer filters on those keys' subjects."""
        super().subscribe(types, handler, name, wants, keys)
        if keys is not None:
            self._keys[name] = tuple(sorted(set(keys)))
        else:
            self._keys.pop(name, None)

    def stop(self) -> None:
        super().stop()

    def close(self) -> None:
        """Stop the dispatcher and close the connection (the consumers stay on the server)."""
        self.stop()
        try:
            self._io.run(self._nc.drain(), timeout=5)
        except Exception as e:  # noqa: BLE001 - closing: a dead connection is closed already
            log.warning("nats close failed", error=str(e))
        self._io.close()

    # -- relay -------------------------------------------------------------------------------------
    async def _ensure_stream(self) -> None:
        try:
            await self._js.stream_info(self.stream)
        except NotFoundError:
            await self._js.add_stream(
                name=self.stream,
                subjects=[f"{self.prefix}.>"],
                storage=api.StorageType.FILE,
                # the stream keeps what the outbox keeps: a week by default
                max_age=self.settings.retention_hours * 3600,
                # Nats-Msg-Id deduplication window: longer than a relay's restart
                duplicate_window=self.settings.nats_duplicate_window_s,
            )

    def subject(self, type_: str, key: str) -> str:
        return f"{self.prefix}.{type_}.{key_token(key)}"

    def _relay(self) -> int:
        if not self.relay_enabled:
            return 0  # another process holds the role ``relay``
        with self.store.write() as conn:
            if (
                conn.dialect.name == "postgresql"
                and not conn.execute(
                    text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": _RELAY_LOCK}
                ).scalar_one()
            ):
                return 0  # another process relays now
            cursor = ob.load_cursor(conn, RELAY) or ob.Cursor(RELAY, ob.start_position(conn))
            rows = _read_all_after(conn, cursor.position, self.batch * 5)
            if not rows:
                if ob.load_cursor(conn, RELAY) is None:
                    ob.save_cursors(conn, [cursor], self.clock.now())
                return 0
            self._io.run(self._publish(rows))
            cursor.position = rows[-1].id
            ob.save_cursors(conn, [cursor], self.clock.now())
        return len(rows)

    async def _publish(self, rows: list[ob.Row]) -> None:
        acks = await asyncio.gather(
            *(
                self._js.publish(
                    self.subject(r.type, r.key),
                    _encode(r),
                    headers={"Nats-Msg-Id": str(r.id)},
                    stream=self.stream,
                )
                for r in rows
            )
        )
        dup = sum(1 for a in acks if a.duplicate)
        if dup:
            log.info("relay: events already in the stream (deduplicated)", events=dup)

    # -- reading -----------------------------------------------------------------------------------
    def _head(self, conn: Connection) -> int:
        c = ob.load_cursor(conn, RELAY)
        return c.position if c is not None else 0

    def _filters(self, sub: _Subscriber) -> tuple[str, ...]:
        keys = self._keys.get(sub.name)
        wanted = sorted(sub.types)
        if keys is not None:
            subjects = [self.subject(t, k) for t in wanted for k in keys]
        else:
            subjects = [f"{self.prefix}.{t}.*" for t in wanted]
        if len(subjects) > 1 and not self._multi_filter:
            return (f"{self.prefix}.>",)
        return tuple(subjects)

    def _pull(self, sub: _Subscriber) -> _Pull:
        filters = self._filters(sub)
        known = self._pulls.get(sub.name)
        if known is not None and known.filters == filters:
            return known
        pull = self._io.run(self._bind(sub.name, filters))
        self._pulls[sub.name] = pull
        return pull

    async def _bind(self, name: str, filters: tuple[str, ...], start: int | None = None) -> _Pull:
        """Bind to the subscriber's consumer, creating it if needed; ``start`` (a stream sequence):
        recreate it to deliver from there."""
        durable = _durable(name)
        info: api.ConsumerInfo | None = None
        with contextlib.suppress(NotFoundError):
            info = await self._js.consumer_info(self.stream, durable)
        if info is not None:
            cfg = info.config
            same = tuple(cfg.filter_subjects or ([cfg.filter_subject] if cfg.filter_subject else []))
            if start is None and (info.num_ack_pending or same != filters):
                # a previous holder died mid-batch (or the filter changed): start again after the
                # last message acknowledged in order, so nothing is skipped and nothing comes early
                start = (info.ack_floor.stream_seq if info.ack_floor else 0) + 1
            if start is not None:
                await self._js.delete_consumer(self.stream, durable)
                info = None
        if info is None:
            config = api.ConsumerConfig(
                durable_name=durable,
                name=durable,
                ack_policy=api.AckPolicy.EXPLICIT,
                ack_wait=self.settings.nats_ack_wait_s,
                max_deliver=-1,  # the retries and dead letters are the bus's, on the platform's clock
                max_ack_pending=max(self.batch * 5, 1000),
                deliver_policy=api.DeliverPolicy.BY_START_SEQUENCE if start else api.DeliverPolicy.ALL,
                opt_start_seq=start,
            )
            if len(filters) == 1:
                config.filter_subject = filters[0]
            else:
                config.filter_subjects = list(filters)
            await self._js.add_consumer(self.stream, config=config)
        sub = await self._js.pull_subscribe_bind(durable=durable, stream=self.stream)
        return _Pull(sub, filters)

    def _read(self, conn: Connection, sub: _Subscriber, rnd: _Round, limit: int) -> list[ob.Row] | None:
        c = sub.cursor
        assert c is not None
        keys = self._keys.get(sub.name)
        if not _due(conn, c.position, rnd.head, sub.types, keys):
            return []  # nothing of its own relayed after its position: no broker round trip
        pull = self._pull(sub)
        for _ in range(1000):  # bounded: each pass acknowledges what it passes over
            msgs = self._io.run(self._fetch(pull, limit))
            if not msgs:
                if self._io.run(self._consumer_idle(sub.name)):
                    # the outbox lists events the consumer no longer holds: they were acknowledged
                    # (handled) before a crash left the position behind. Move on to the head.
                    return []
                # held unacknowledged for a holder that died: redelivered after the ack wait
                log.info("bus: waiting for the broker to redeliver", subscriber=sub.name)
                return None
            rows: list[ob.Row] = []
            passed: list[Msg] = []
            for m in msgs:
                row = _decode_row(m.data)
                if row.id <= c.position or row.type not in sub.types or (keys and row.key not in keys):
                    passed.append(m)  # a repeat, or (old servers) a type it does not take
                else:
                    rows.append(row)
                    pull.held[row.id] = m
            if passed:
                self._io.run(_ack_all(passed))
            if rows:
                return rows
        return []

    async def _fetch(self, pull: _Pull, limit: int) -> list[Msg]:
        try:
            return await pull.sub.fetch(limit, timeout=self.settings.nats_fetch_timeout_s)
        except (TimeoutError, nats.errors.TimeoutError):
            return []

    async def _consumer_idle(self, name: str) -> bool:
        info = await self._js.consumer_info(self.stream, _durable(name))
        return not info.num_pending and not info.num_ack_pending

    def _take(self, sub: _Subscriber, rows: list[ob.Row]) -> list[Msg]:
        held = self._pulls[sub.name].held
        return [m for m in (held.pop(r.id, None) for r in rows) if m is not None]

    def _handled(self, sub: _Subscriber, rows: list[ob.Row]) -> None:
        self._io.run(_ack_all(self._take(sub, rows)))

    def _unhandled(self, sub: _Subscriber, rows: list[ob.Row]) -> None:
        # Read again from the first of them. Not a negative acknowledgement: JetStream queues naked
        # messages behind those already waiting for redelivery, which breaks the order when the retry
        # takes them one at a time. Recreating the consumer at that sequence keeps it.
        msgs = self._take(sub, rows)
        pull = self._pulls[sub.name]
        for m in pull.held.values():
            msgs.append(m)  # nothing else should be held; if it is, it is read again too
        pull.held.clear()
        if not msgs:
            return
        start = min(m.metadata.sequence.stream for m in msgs)
        self._pulls[sub.name] = self._io.run(self._rebind(pull, sub.name, start))

    async def _rebind(self, pull: _Pull, name: str, start: int) -> _Pull:
        await pull.sub.unsubscribe()
        return await self._bind(name, pull.filters, start)

    def _given_up(self, sub: _Subscriber, row: ob.Row) -> None:
        msgs = self._take(sub, [row])
        self._io.run(_term_all(msgs))


async def _ack_all(msgs: list[Msg]) -> None:
    for m in msgs:
        await m.ack()


async def _term_all(msgs: list[Msg]) -> None:
    for m in msgs:
        await m.term()


def _encode(r: ob.Row) -> bytes:
    return json.dumps(
        {
            "id": r.id,
            "type": r.type,
            "version": r.version,
            "source": r.source,
            "key": r.key,
            "payload": r.payload,
            "time": r.time.isoformat(),
        },
        separators=(",", ":"),
        ensure_ascii=False,
    ).encode()


def _decode_row(data: bytes) -> ob.Row:
    d = json.loads(data)
    return ob.Row(
        int(d["id"]),
        d["type"],
        int(d["version"]),
        d["source"],
        d["key"],
        d["payload"],
        datetime.fromisoformat(d["time"]),
    )


def _read_all_after(conn: Connection, position: int, limit: int) -> list[ob.Row]:
    rows = conn.execute(
        select(*ob._ROW).where(outbox.c.id > position).order_by(outbox.c.id).limit(limit)
    ).all()
    return [ob.Row(*r) for r in rows]


def _due(conn: Connection, position: int, head: int, types: set[str], keys: tuple[str, ...] | None) -> bool:
    q = select(outbox.c.id).where(
        outbox.c.id > position, outbox.c.id <= head, outbox.c.topic.in_(list(types))
    )
    if keys is not None:
        q = q.where(outbox.c.key.in_(list(keys)))
    return conn.execute(q.limit(1)).first() is not None
