# SPDX-License-Identifier: Apache-2.0
"""In-process bus over the outbox table (the embedded default).

A dispatcher thread serves each subscriber from its own cursor: it reads the subscriber's events after
its position in id (commit) order, hands them over in a batch, and moves the position only after the
handler returned. A handler that raises is given the same events again after a backoff on the
platform's clock: first one by one (to find the event that fails), then, after ``max_attempts``
failures on one event, that event goes to the dead letters and the subscriber moves on. Positions, retry
state and dead letters are written together once per round, so a crash re-delivers at most one round
(at-least-once: a subscriber detects a repeat by the envelope's id).

Events published by this process are kept in memory from their commit until every subscriber has them
(:class:`~safecity.bus.recent.RecentEvents`): the dispatcher then reads only their ids and headers from the outbox, not their
payloads, and hands over the very event that was published instead of decoding it again (py-spy had the
dispatcher re-reading and decoding outbox payloads, each a whole ingest batch). The outbox row is still
written whole, so another process, a restart or a dead letter reads the same event from it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import Connection

from safecity.bus import outbox as ob
from safecity.bus.events import ReplayRequested
from safecity.bus.port import DeadLetter, Decoder, Handler, HistoryGone, SubscriberState
from safecity.bus.recent import RecentEvents
from safecity.core.clock import Clock, SystemClock
from safecity.core.errors import Conflict, NotFound
from safecity.core.events import Envelope, Event, event_class
from safecity.core.logging import get_logger
from safecity.core.worker import Worker
from safecity.settings import BusSettings
from safecity.store import Store

log = get_logger(__name__)


@dataclass(slots=True)
class _Subscriber:
    name: str
    types: set[str]
    handler: Handler
    wants: Callable[[], bool] | None
    #: the ordering keys it takes (one partition of the work), None: every key
    keys: frozenset[str] | None = None
    cursor: ob.Cursor | None = None
    #: after a batch failed: deliver one by one up to this id, to find the event that fails
    isolate_upto: int = 0
    dirty: bool = False


@dataclass(slots=True)
class _Round:
    now: datetime
    head: int
    envelopes: dict[int, Envelope] = field(default_factory=dict)  # decoded once for all subscribers
    #: the events of every subscriber's types after a position, read once for the subscribers there
    #: (whether the read was cut at its limit, so more may follow)
    after: dict[tuple[int, int], tuple[list[ob.Row], bool]] = field(default_factory=dict)
    types: frozenset[str] = frozenset()
    dead: list[tuple[str, ob.Row, str, int]] = field(default_factory=list)
    replays: list[tuple[int, str | None]] = field(default_factory=list)
    handled: int = 0


class InProcessBus:
    def __init__(
        self,
        store: Store,
        clock: Clock | None = None,
        poll_s: float = 1.0,
        coalesce_s: float = 0.01,
        settings: BusSettings | None = None,
        batch: int = 200,
    ) -> None:
        self.store = store
        self.clock = clock or SystemClock()
        self.poll_s = poll_s
        self.coalesce_s = coalesce_s
        self.settings = settings or BusSettings()
        self.batch = batch
        self.relay_enabled = True
        self.shared = False
        self._subs: dict[str, _Subscriber] = {}
        self._decoders: dict[tuple[str, int], Decoder] = {}
        self._lock = threading.RLock()  # one round at a time (the thread, drain, tests)
        # the subscribers' registry: subscribe() must not wait for a round in hand (a process taking a
        # role over subscribes while its dispatcher works through the backlog; that wait was most of a
        # 6.8 s failover once). A round serves the subscribers it found when it began.
        self._subs_lock = threading.Lock()
        self._delivered_upto = -1
        self._pruned_at: datetime | None = None
        self._recent = RecentEvents(cap=max(64, 4 * batch))
        self._recent.listen(store.engine)
        # Between busy rounds, let a busy ingest commit a few more batches, so saving the positions costs
        # one write transaction per round rather than one per batch.
        self.worker = Worker(
            "bus-dispatcher", self.deliver_pending, interval_s=poll_s, busy_pause_s=coalesce_s
        )

    # -- the port ----------------------------------------------------------------------------------
    def subscribe(
        self,
        types: str | Iterable[str],
        handler: Handler,
        name: str,
        wants: Callable[[], bool] | None = None,
        keys: Iterable[str] | None = None,
    ) -> None:
        wanted = {types} if isinstance(types, str) else set(types)
        for t in wanted:
            event_class(t)  # a typo in a type name fails here, not silently never delivering
        taken = frozenset(keys) if keys is not None else None
        with self._subs_lock:
            known = self._subs.get(name)
            if known is not None:
                # the same subscriber again (a service restarted in the same process): it keeps its
                # cursor, takes the new handler
                known.types |= wanted
                known.handler, known.wants, known.keys = handler, wants, taken
                return
            sub = self._subs[name] = _Subscriber(name, wanted, handler, wants, taken)
            if self.shared:
                # the other processes mark an event delivered once every stored cursor passed it: this
                # subscriber's position is stored now, so nothing committed from here on passes it by
                with self.store.write() as conn:
                    sub.cursor = ob.load_cursor(conn, name)
                    if sub.cursor is None:
                        sub.cursor = ob.Cursor(name, ob.start_position(conn))
                        ob.save_cursors(conn, [sub.cursor], self.clock.now())

    def position(self, name: str) -> int | None:
        with self.store.engine.connect() as conn:
            c = ob.load_cursor(conn, name)
        return c.position if c is not None else None

    def history(
        self, types: Iterable[str], after: int, upto: int | None = None, keys: Iterable[str] | None = None
    ) -> Iterator[Envelope]:
        wanted = [types] if isinstance(types, str) else list(types)
        taken = list(keys) if keys is not None else None
        with self.store.engine.connect() as conn:
            oldest = ob.oldest(conn)
            if (oldest is not None and oldest > after + 1) or (oldest is None and (upto or 0) > after):
                raise HistoryGone(f"events after {after} were pruned (the oldest kept is {oldest})")
            end = ob.head(conn) if upto is None else upto
            position = after
            while position < end:
                rows = [r for r in ob.read_after(conn, position, wanted, 500, keys=taken) if r.id <= end]
                if not rows:
                    return
                for r in rows:
                    yield self._decode(conn, r)
                position = rows[-1].id

    def register_decoder(self, type_: str, decoder: Decoder, version: int = 1) -> None:
        self._decoders[(type_, version)] = decoder

    def publish(self, conn: Connection, event: Event | str, payload: dict[str, Any] | None = None) -> None:
        if isinstance(event, str):
            cls = event_class(event)
            model = cls.model_validate(payload or {})  # pydantic's ValidationError is a ValueError
            data = payload or {}
        else:
            model, data = event, event.to_json()
        header = (model.type, type(model).version, model.publisher(), model.ordering_key(), self.clock.now())
        oid = ob.append(
            conn,
            {
                "topic": header[0],
                "version": header[1],
                "source": header[2],
                "key": header[3],
                "payload": data,
                "created_at": header[4],
            },
        )
        self._recent.pending(conn, oid, model, header)

    def notify(self) -> None:
        self.worker.notify()

    def start(self) -> None:
        self.worker.start()
        self.worker.notify()

    def stop(self) -> None:
        self.worker.stop()
        self._recent.unlisten(self.store.engine)

    def pending(self) -> int:
        with self.store.engine.connect() as conn:
            return ob.pending(conn)

    def drain(self, timeout: float = 10.0) -> bool:
        if not self.worker.running:
            for _ in range(10_000):  # bounded: a subscriber failing on every try is still in backoff
                if self.deliver_pending() == 0:
                    break
            return self.pending() == 0
        self.worker.wait_idle(timeout)
        return self.pending() == 0

    def subscribers(self) -> list[SubscriberState]:
        with self._lock, self.store.engine.connect() as conn:
            subs = self._registered()
            self._load_cursors(conn, subs)
            out = []
            for s in subs:
                c = s.cursor
                assert c is not None
                out.append(
                    SubscriberState(
                        s.name,
                        tuple(sorted(s.types)),
                        c.position,
                        ob.lag(conn, c.position, s.types, s.keys),
                        c.attempts,
                        c.retry_at,
                        c.last_error,
                    )
                )
            return out

    def dead_letters(self, subscriber: str | None = None, include_replayed: bool = False) -> list[DeadLetter]:
        with self.store.engine.connect() as conn:
            return [self._letter(conn, d) for d in ob.dead_letters_of(conn, subscriber, include_replayed)]

    def replay(self, dead_letter_id: int, actor: str) -> DeadLetter:
        with self.store.write() as conn:
            if not ob.request_replay(conn, dead_letter_id, actor, self.clock.now()):
                found = ob.dead_letter(conn, dead_letter_id)
                if found is None:
                    raise NotFound(
                        f"no dead letter {dead_letter_id}; GET /bus/dead-letters lists them",
                        where="id",
                        message_ko=f"실패 이벤트 {dead_letter_id}이(가) 없습니다. GET /bus/dead-letters 에서 목록을 보세요",
                    )
                assert found.replayed_at is not None
                raise Conflict(
                    f"dead letter {dead_letter_id} was already replayed at {found.replayed_at.isoformat()}",
                    where="id",
                    message_ko=f"실패 이벤트 {dead_letter_id}은(는) {found.replayed_at.isoformat()}에 이미 재전달되었습니다",
                )
            d = ob.dead_letter(conn, dead_letter_id)
            assert d is not None
            letter = self._letter(conn, d)
            self.publish(
                conn,
                ReplayRequested(
                    dead_letter_id=d.id,
                    subscriber=d.subscriber,
                    event_id=d.row.id,
                    event_type=d.row.type,
                    actor=actor,
                ),
            )
        self.notify()
        return letter

    def prune(self) -> int:
        now = self.clock.now()
        cutoff = now - timedelta(hours=self.settings.retention_hours)
        with self.store.write() as conn:
            n = ob.prune(conn, cutoff)
        self._pruned_at = now
        if n:
            log.info("outbox pruned", events=n, delivered_before=cutoff.isoformat())
        return n

    # -- delivery ----------------------------------------------------------------------------------
    def deliver_pending(self, limit: int | None = None) -> int:
        """One round: every subscriber gets what is due; returns how many events were handed over or
        passed over (0: nothing to do now)."""
        with self._lock:
            relayed = self._relay()
            with self.store.engine.connect() as conn:
                rnd = _Round(self.clock.now(), self._head(conn))
                subs = self._registered()
                rnd.types = frozenset().union(*(s.types for s in subs))
                rnd.handled += relayed
                self._load_cursors(conn, subs)
                self._replay_requested(conn, rnd)
                for sub in subs:
                    self._serve(conn, sub, rnd, limit or self.batch)
            self._save(rnd)
            return rnd.handled

    def _registered(self) -> list[_Subscriber]:
        with self._subs_lock:
            return list(self._subs.values())

    def _load_cursors(self, conn: Connection, subs: list[_Subscriber]) -> None:
        for s in subs:
            if s.cursor is None:
                s.cursor = ob.load_cursor(conn, s.name)
                if s.cursor is None:
                    s.cursor = ob.Cursor(s.name, ob.start_position(conn))
                    s.dirty = True

    def _replay_requested(self, conn: Connection, rnd: _Round) -> None:
        for d in ob.requested_replays(conn):
            sub = self._subs.get(d.subscriber)
            if sub is None:
                continue  # its subscriber runs in another process, or not yet: it stays requested
            try:
                sub.handler([self._envelope(conn, d.row, rnd)])
            except Exception as e:  # a subscriber's boundary: logged, kept as a dead letter
                log.exception("dead letter replay failed", subscriber=sub.name, event_id=d.row.id)
                rnd.replays.append((d.id, _describe(e)))
            else:
                log.info("dead letter replayed", subscriber=sub.name, event_id=d.row.id)
                rnd.replays.append((d.id, None))
            rnd.handled += 1

    def _serve(self, conn: Connection, sub: _Subscriber, rnd: _Round, limit: int) -> None:
        c = sub.cursor
        assert c is not None
        if c.retry_at is not None and rnd.now < c.retry_at:
            return  # backing off
        if sub.wants is not None and c.attempts == 0 and not sub.wants():
            if rnd.head > c.position:  # not wanted now: passed over without being read
                rnd.handled += ob.lag(conn, c.position, sub.types, sub.keys)
                c.position = rnd.head
                sub.dirty = True
            return
        for _ in range(limit):  # a failing batch is retried one event at a time, within the round
            single = c.attempts > 0 or c.position < sub.isolate_upto
            rows = self._read(conn, sub, rnd, 1 if single else limit)
            if not rows:
                if (
                    rows is not None and rnd.head > c.position
                ):  # nothing of its types: later reads start later
                    c.position = rnd.head
                    sub.dirty = True
                return
            try:
                sub.handler([self._envelope(conn, r, rnd) for r in rows])
            except Exception as e:  # noqa: BLE001 - a subscriber's boundary: logged below with its error
                error = _describe(e)
                sub.dirty = True
                self._unhandled(sub, rows)
                if len(rows) > 1:
                    log.warning(
                        "bus subscriber failed; retrying one by one", subscriber=sub.name, error=error
                    )
                    sub.isolate_upto = rows[-1].id
                    continue
                c.attempts += 1
                c.last_error = error
                if c.attempts >= self.settings.max_attempts:
                    log.error(
                        "bus subscriber gave up; event kept as a dead letter",
                        subscriber=sub.name,
                        event_id=rows[0].id,
                        attempts=c.attempts,
                        error=error,
                    )
                    rnd.dead.append((sub.name, rows[0], error, c.attempts))
                    self._given_up(sub, rows[0])
                    c.position = rows[0].id
                    c.attempts, c.retry_at = 0, None
                    continue
                wait = min(self.settings.retry_base_s * 2 ** (c.attempts - 1), self.settings.retry_max_s)
                c.retry_at = rnd.now + timedelta(seconds=wait)
                log.warning(
                    "bus subscriber failed; will retry",
                    subscriber=sub.name,
                    event_id=rows[0].id,
                    attempts=c.attempts,
                    retry_in_s=wait,
                    error=error,
                )
                return
            self._handled(sub, rows)
            c.position = rows[-1].id
            c.attempts, c.retry_at, c.last_error = 0, None, None
            sub.dirty = True
            rnd.handled += len(rows)
            if not single:
                return  # one batch per subscriber and round: the others get their turn

    # -- where events come from: the outbox table here; a subclass reads them from a broker ----------
    def _relay(self) -> int:
        """Before a round: move committed events to where :meth:`_read` finds them (here they are
        already there). Returns how many were moved."""
        return 0

    def _head(self, conn: Connection) -> int:
        """The newest event id :meth:`_read` can return (a subscriber with nothing to read up to it
        moves its position there)."""
        return ob.head(conn)

    def _read(self, conn: Connection, sub: _Subscriber, rnd: _Round, limit: int) -> list[ob.Row] | None:
        """Up to ``limit`` of the subscriber's events after its position, in commit order; None: some
        are known to exist but cannot be read yet (the position must not move past them)."""
        assert sub.cursor is not None
        rows = self._rows_after(conn, sub, rnd, limit)
        missing: list[int] = []
        for r in rows:
            if r.id in rnd.envelopes:
                continue
            model = self._recent.get(r)
            if model is None:
                missing.append(r.id)
            else:  # published here: the event itself, not a decoding of its payload
                cls = type(model)
                rnd.envelopes[r.id] = Envelope(
                    id=r.id,
                    type=r.type,
                    version=cls.version,
                    time=r.time,
                    source=r.source,
                    key=r.key,
                    data=model,
                )
        if not missing:
            return rows
        found = ob.payloads(conn, missing)
        return [replace(r, payload=found[r.id]) if r.id in found else r for r in rows]

    def _rows_after(self, conn: Connection, sub: _Subscriber, rnd: _Round, limit: int) -> list[ob.Row]:
        """Up to ``limit`` of the subscriber's events after its position. Most subscribers of a round
        stand at the same position (the last head): one read of every subscriber's types serves them
        all, instead of one query each (py-spy under 10,000 obs/s: the dispatcher's largest cost)."""
        assert sub.cursor is not None
        position = sub.cursor.position
        # alone when retrying one event, or when its types are all there is (or were not known when the
        # round began: a subscriber added by a handler)
        keys = sub.keys
        if limit == 1 or not sub.types < rnd.types:
            return ob.read_after(conn, position, sub.types, limit, payload=False, keys=keys)
        shared = rnd.after.get((position, limit))
        if shared is None:
            got = ob.read_after(conn, position, rnd.types, limit, payload=False)
            shared = rnd.after[(position, limit)] = (got, len(got) >= limit)
        everyone, cut = shared
        types = sub.types
        mine = [r for r in everyone if r.type in types and (keys is None or r.key in keys)]
        if not mine and cut:
            # the shared read ended before any event of its types (and keys): they may still follow
            return ob.read_after(conn, position, types, limit, payload=False, keys=keys)
        return mine

    def _handled(self, sub: _Subscriber, rows: list[ob.Row]) -> None:
        """The handler took ``rows`` (a broker acknowledges them)."""

    def _unhandled(self, sub: _Subscriber, rows: list[ob.Row]) -> None:
        """The handler raised on ``rows``: they are read again, in order, when the retry is due."""

    def _given_up(self, sub: _Subscriber, row: ob.Row) -> None:
        """``row`` went to the dead letters: it is not read again."""

    def _envelope(self, conn: Connection, row: ob.Row, rnd: _Round) -> Envelope:
        env = rnd.envelopes.get(row.id)
        if env is None:
            env = rnd.envelopes[row.id] = self._decode(conn, row)
        return env

    def _decode(self, conn: Connection, row: ob.Row) -> Envelope:
        cls = event_class(row.type)
        if row.version == cls.version:
            data = cls.model_validate(row.payload)
        else:
            decoder = self._decoders.get((row.type, row.version))
            if decoder is None:
                raise ValueError(
                    f"{row.type} version {row.version}: no decoder (this release reads {cls.version})"
                )
            data = decoder(conn, row.payload)
        return Envelope(
            id=row.id,
            type=row.type,
            version=cls.version,
            time=row.time,
            source=row.source,
            key=row.key,
            data=data,
        )

    def _letter(self, conn: Connection, d: ob.DeadRow) -> DeadLetter:
        try:
            event = self._decode(conn, d.row)
        except (KeyError, ValueError):  # an undecodable event is shown as stored
            r = d.row
            event = Envelope.model_construct(
                id=r.id,
                type=r.type,
                version=r.version,
                time=r.time,
                source=r.source,
                key=r.key,
                data=_Raw.model_validate(r.payload),
            )
        return DeadLetter(
            d.id,
            d.subscriber,
            event,
            d.error,
            d.attempts,
            d.failed_at,
            d.replay_requested_at,
            d.replay_requested_by,
            d.replayed_at,
        )

    def _save(self, rnd: _Round) -> None:
        subs = self._registered()
        positions = [s.cursor.position for s in subs if s.cursor is not None]
        if self.shared:  # the subscribers of the other processes count too (their cursors are stored)
            with self.store.engine.connect() as conn:
                positions += [c.position for c in ob.all_cursors(conn)]
        upto = min(positions) if positions else rnd.head
        changed = [s.cursor for s in subs if s.dirty and s.cursor is not None]
        prune = self._pruned_at is None or rnd.now - self._pruned_at >= timedelta(
            seconds=self.settings.prune_every_s
        )
        if not (changed or rnd.dead or rnd.replays or upto > self._delivered_upto):
            if prune:
                self.prune()
            return
        with self.store.write() as conn:
            unread = [row.id for _, row, _, _ in rnd.dead if row.payload is ob.NOT_READ]
            found = ob.payloads(conn, unread) if unread else {}
            for name, row, error, attempts in rnd.dead:
                if row.payload is ob.NOT_READ:
                    row = replace(row, payload=found.get(row.id, {}))
                ob.add_dead_letter(conn, name, row, error, attempts, rnd.now)
            for dead_id, failure in rnd.replays:
                ob.finish_replay(conn, dead_id, rnd.now, failure)
            ob.save_cursors(conn, changed, rnd.now)
            if upto > self._delivered_upto:
                ob.mark_delivered(conn, upto, rnd.now)
        for s in subs:
            s.dirty = False
        self._delivered_upto = max(self._delivered_upto, upto)
        self._recent.forget_upto(upto)
        if prune:
            self.prune()


class _Raw(Event):
    """A dead letter's payload that no longer reads into its class (shown as stored)."""


def _describe(e: BaseException) -> str:
    return f"{type(e).__name__}: {e}"[:2000]
