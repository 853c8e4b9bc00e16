# SPDX-License-Identifier: Apache-2.0
"""Delivery of issued alerts to every recipient on every channel, losing nothing.

:meth:`Delivery.enqueue` writes one queue row per recipient and channel inside the caller's
transaction (the one that issues the alert), so an issued alert always has its deliveries and a
rolled-back one has none. The idempotency key ``{identifier}|{subscription}|{channel}`` is unique:
enqueueing the same alert for the same recipient again writes nothing.

A worker thread claims due rows (``queued``, ``retrying``, or ``sending`` whose lease ran out), marks
them ``sending`` and commits, sends them outside any transaction, then records each outcome in its own
transaction: ``sent``/``delivered``, ``retrying`` with exponential backoff and jitter (up to
``warning.retry_max_s``, so a channel down for ten minutes delays its deliveries but loses none), or
``dead`` (permanent failure, or still failing ``warning.give_up_s`` after it was queued). A row that
succeeded is never claimed again. A crash between the send and its record leaves the row ``sending``;
it is claimed again when its lease runs out and sent again: at-least-once. The receiver gets the
idempotency key (``Idempotency-Key`` header, the e-mail Message-ID) to drop that rare repeat.

One recipient (channel and address) gets its alerts in queue order, one at a time: a newer row waits
while an older one for the same recipient is pending, so an Update never overtakes its Alert, even
after an outage with jittered retries. Its cost is head-of-line blocking, bounded by the give-up age.

Several processes may run workers on one PostgreSQL store: claims use ``FOR UPDATE SKIP LOCKED``.
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, Insert, exists, func, literal_column, select, update
from sqlalchemy.engine import Connection

from safecity.core.clock import Clock
from safecity.core.logging import get_logger
from safecity.core.worker import Worker
from safecity.store import Store
from safecity.warning.channels.base import Channel, PermanentFailure, SendResult, TemporaryFailure
from safecity.warning.delivery_tables import PENDING, deliveries
from safecity.warning.message import BROADCAST_CHANNELS, Message, Recipient

if TYPE_CHECKING:
    from safecity.settings import Settings

log = get_logger(__name__)

#: Statuses an operator may put back in the queue.
REQUEUEABLE = ("dead", "failed")
#: Rows claimed at a time, and how many are sent at once.
BATCH = 32
CONCURRENCY = 8
#: A claim looks at this many times ``batch`` of the earliest due rows.
WINDOW = 8


@dataclass(frozen=True)
class DeliveryStats:
    """Queue rows by channel and status, and the earliest due time of a pending row."""

    counts: dict[str, dict[str, int]]
    oldest_due: datetime | None

    def by_status(self) -> dict[str, int]:
        out: dict[str, int] = defaultdict(int)
        for statuses in self.counts.values():
            for status, n in statuses.items():
                out[status] += n
        return dict(out)

    @property
    def pending(self) -> int:
        by = self.by_status()
        return sum(by.get(s, 0) for s in PENDING)


@dataclass(frozen=True)
class DeliveryRow:
    """One delivery as the operator sees it (the alert page)."""

    id: int
    identifier: str
    subscription_id: int | None
    channel: str
    address: str
    status: str
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None


@dataclass(frozen=True)
class _Claimed:
    id: int
    attempts: int  # after this claim
    key: str
    created_at: datetime
    message: Message
    recipient: Recipient


def _pending(status: ColumnElement[str]) -> ColumnElement[bool]:
    # Literals, not bound parameters: SQLite uses a partial index only when it can match the index's
    # WHERE against the query's when preparing it.
    return status.in_([literal_column(f"'{s}'") for s in PENDING])


def render_payload(message: Message, recipient: Recipient) -> dict[str, Any]:
    """The queued payload: the message as this recipient's channel needs it. Texts in the recipient's
    language plus Korean and English (bilingual e-mail); all languages for the public stream; the CAP
    XML only for e-mail (attached) and the CAP JSON only for webhooks (in the body)."""
    languages = None if recipient.channel == "sse" else {recipient.language, "ko", "en"}
    trimmed = replace(
        message,
        cap_xml=message.cap_xml if recipient.channel == "email" else b"",
        cap_json=message.cap_json if recipient.channel == "webhook" else {},
    )
    return {"message": trimmed.to_payload(languages), "recipient": recipient.to_json()}


class Delivery:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        channels: Mapping[str, Channel],
        settings: Settings,
        *,
        poll_s: float = 1.0,
        batch: int = BATCH,
        concurrency: int = CONCURRENCY,
        rng: random.Random | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.channels = dict(channels)
        self.poll_s = poll_s
        self.batch = batch
        self.concurrency = concurrency
        self.retry_base = timedelta(seconds=settings.warning.retry_base_s)
        self.retry_max = timedelta(seconds=settings.warning.retry_max_s)
        self.give_up = timedelta(seconds=settings.warning.give_up_s)
        # A claimed row is the worker's until its lease ends; a worker that died mid-send leaves its rows
        # to be claimed again after it. It must outlast a whole batch of slow sends (each up to the send
        # timeout, and SMTP may spend it on connect, STARTTLS and DATA), with margin.
        rounds = math.ceil(batch / max(1, concurrency))
        self.lease = timedelta(
            seconds=settings.warning.lease_s or max(120.0, 6 * settings.warning.send_timeout_s * rounds)
        )
        self._rng = rng or random.Random()
        self.worker = Worker("warning-delivery", self.run_once, interval_s=self.poll_s)

    @property
    def available_channels(self) -> frozenset[str]:
        return frozenset(self.channels)

    # --- enqueue -------------------------------------------------------------------------------

    def enqueue(self, conn: Connection, message: Message, recipients: Iterable[Recipient]) -> int:
        """Queue ``message`` for each recipient, in the caller's transaction; returns the rows written.

        A recipient whose (alert, subscription, channel) is already queued is skipped (nothing is
        written: no recipient gets the same alert twice). A broadcast channel (sse, mastodon) is
        queued once per alert, as :meth:`Recipient.broadcast`. A recipient on a channel this process has no
        adapter for is recorded as ``failed`` with the reason, so the operator sees it (and can requeue
        it once the channel is configured). Call :meth:`notify` after the commit to send at once
        rather than at the next poll.
        """
        now = self.clock.now()
        rows: dict[str, dict[str, Any]] = {}
        for r in recipients:
            if r.channel in BROADCAST_CHANNELS:
                # One post reaches everyone, whichever subscription asked for it: never fail an
                # alert's issue over this, just deliver it once.
                r = replace(r, subscription_id=None, address="")
            key = r.idempotency_key(message.identifier)
            if key in rows:
                continue
            configured = r.channel in self.channels
            rows[key] = {
                "identifier": message.identifier,
                "subscription_id": r.subscription_id,
                "channel": r.channel,
                "address": r.address,
                "idempotency_key": key,
                "status": "queued" if configured else "failed",
                "attempts": 0,
                "next_attempt_at": now if configured else None,
                "last_error": None if configured else f"channel {r.channel} is not configured",
                "payload": render_payload(message, r),
                "created_at": now,
                "updated_at": now,
            }
        if not rows:
            return 0
        stmt = self._insert_ignoring_duplicates().returning(deliveries.c.id)
        return len(conn.execute(stmt, list(rows.values())).all())

    def _insert_ignoring_duplicates(self) -> Insert:
        if self.store.dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            return pg_insert(deliveries).on_conflict_do_nothing(index_elements=["idempotency_key"])
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(deliveries).on_conflict_do_nothing(index_elements=["idempotency_key"])

    def requeue(
        self,
        *,
        identifier: str | None = None,
        ids: Iterable[int] | None = None,
        statuses: Iterable[str] = REQUEUEABLE,
    ) -> int:
        """Put ``dead``/``failed`` deliveries (of one alert, or by id) back in the queue, due now."""
        now = self.clock.now()
        stmt = (
            update(deliveries)
            .where(deliveries.c.status.in_(tuple(statuses)))
            .values(status="queued", next_attempt_at=now, updated_at=now)
        )
        if identifier is not None:
            stmt = stmt.where(deliveries.c.identifier == identifier)
        if ids is not None:
            stmt = stmt.where(deliveries.c.id.in_(list(ids)))
        with self.store.write() as conn:
            n = conn.execute(stmt).rowcount
        self.notify()
        return n

    # --- the worker ----------------------------------------------------------------------------

    def notify(self) -> None:
        self.worker.notify()

    def start(self) -> None:
        self.worker.start()
        self.worker.notify()

    def stop(self) -> None:
        """Stop the worker after the batch in hand. Rows it claimed but did not finish are claimed
        again when their lease runs out."""
        self.worker.stop(timeout=30)

    def close(self) -> None:
        """Stop the worker and close the channels' connections."""
        self.stop()
        for channel in self.channels.values():
            channel.close()

    def drain(self, timeout: float = 10.0) -> bool:
        """Wait until the worker finds nothing due (tests, shutdown); True when it did in time."""
        if not self.worker.running:
            while self.run_once():
                pass
            return True
        return self.worker.wait_idle(timeout)

    def run_once(self, now: datetime | None = None) -> int:
        """Claim the rows due at ``now`` (default: the clock), send them and record the outcomes;
        returns how many were attempted."""
        claimed = self._claim(now or self.clock.now())
        if not claimed:
            return 0
        if len(claimed) == 1 or self.concurrency <= 1:
            for c in claimed:
                self._attempt(c)
        else:
            with ThreadPoolExecutor(
                max_workers=min(self.concurrency, len(claimed)), thread_name_prefix="warning-send"
            ) as pool:
                list(pool.map(self._attempt, claimed))
        return len(claimed)

    def _claim(self, now: datetime) -> list[_Claimed]:
        """Mark up to ``batch`` due rows ``sending`` (leased until ``now + lease``) and return them.

        Reads a window of the earliest due rows through the partial due index (so the cost does not
        grow with the queue) and claims those whose channel is here and whose recipient has no older
        pending row. A row that waits behind an older one (delivery in queue order) is put back by one
        base delay, so rows waiting behind a receiver that is down do not fill the window."""
        if not self.channels:
            return []
        d = deliveries
        earlier = deliveries.alias("earlier")
        blocked = (
            exists()
            .where(
                earlier.c.address == d.c.address,
                earlier.c.channel == d.c.channel,
                earlier.c.id < d.c.id,
                _pending(earlier.c.status),
            )
            .label("blocked")
        )
        # No channel filter in SQL: it would tempt the planner away from the due index (and all
        # processes normally share the settings; rows for a channel nobody has are marked failed).
        query = (
            select(d.c.id, d.c.attempts, d.c.channel, blocked)
            .where(_pending(d.c.status), d.c.next_attempt_at <= now)
            .order_by(d.c.next_attempt_at, d.c.id)
            .limit(self.batch * WINDOW)
        )
        if self.store.dialect == "postgresql":
            query = query.with_for_update(skip_locked=True, of=d)
        with self.store.write() as conn:
            window = conn.execute(query).all()
            waiting = [r.id for r in window if r.blocked]
            mine = [r for r in window if not r.blocked and r.channel in self.channels][: self.batch]
            if waiting:
                conn.execute(
                    update(d)
                    .where(d.c.id.in_(waiting))
                    .values(next_attempt_at=now + self.retry_base, updated_at=now)
                )
            if not mine:
                return []
            ids = [r.id for r in mine]
            conn.execute(
                update(d)
                .where(d.c.id.in_(ids))
                .values(
                    status="sending",
                    attempts=d.c.attempts + 1,
                    next_attempt_at=now + self.lease,
                    updated_at=now,
                )
            )
            rows = conn.execute(
                select(d.c.id, d.c.attempts, d.c.idempotency_key, d.c.created_at, d.c.payload)
                .where(d.c.id.in_(ids))
                .order_by(d.c.next_attempt_at, d.c.id)
            ).all()
        return [
            _Claimed(
                r.id,
                r.attempts,
                r.idempotency_key,
                r.created_at,
                Message.from_payload(r.payload["message"]),
                Recipient.from_json(r.payload["recipient"]),
            )
            for r in rows
        ]

    def _attempt(self, c: _Claimed) -> None:
        channel = self.channels[c.recipient.channel]
        try:
            result = channel.send(c.message, c.recipient, c.key)
        except TemporaryFailure as e:
            self._retry_or_give_up(c, str(e), e.retry_after_s)
        except PermanentFailure as e:
            self._record(c, status="dead", last_error=str(e), next_attempt_at=None)
            log.warning("warning delivery refused", delivery=c.id, channel=channel.name, error=str(e))
        except Exception as e:  # a channel's bug must not lose the delivery: retry, and say why
            log.exception("warning channel failed unexpectedly", delivery=c.id, channel=channel.name)
            self._retry_or_give_up(c, f"{type(e).__name__}: {e}", None)
        else:
            self._succeeded(c, result)

    def _succeeded(self, c: _Claimed, result: SendResult) -> None:
        now = self.clock.now()
        self._record(c, status=result.status, last_error=None, next_attempt_at=None, sent_at=now)

    def _retry_or_give_up(self, c: _Claimed, error: str, retry_after_s: float | None) -> None:
        now = self.clock.now()
        if now - c.created_at >= self.give_up:
            self._record(
                c,
                status="dead",
                last_error=f"gave up after {c.attempts} attempts: {error}",
                next_attempt_at=None,
            )
            log.warning("warning delivery given up", delivery=c.id, attempts=c.attempts, error=error)
            return
        self._record(
            c,
            status="retrying",
            last_error=error,
            next_attempt_at=now + self.backoff(c.attempts, retry_after_s),
        )

    def backoff(self, attempts: int, retry_after_s: float | None = None) -> timedelta:
        """Delay before the next try after ``attempts`` failed ones: ``base * 2**(attempts-1)`` capped
        at the maximum, with "equal jitter" (a random half of it) so that many deliveries failing
        together do not come back together; at least what the receiver asked for (Retry-After), but
        never more than the maximum."""
        exp = min(self.retry_max, self.retry_base * (1 << min(max(attempts, 1) - 1, 30)))
        delay = exp / 2 + exp / 2 * self._rng.random()
        if retry_after_s is not None:
            delay = max(delay, min(self.retry_max, timedelta(seconds=retry_after_s)))
        return delay

    def _record(self, c: _Claimed, **values: Any) -> None:
        d = deliveries
        now = self.clock.now()
        with self.store.write() as conn:
            n = conn.execute(
                update(d)
                .where(d.c.id == c.id, d.c.status == "sending", d.c.attempts == c.attempts)
                .values(updated_at=now, **values)
            ).rowcount
            if n and values["status"] not in PENDING:
                # The recipient's next alerts were put back while this one was pending: due now.
                conn.execute(
                    update(d)
                    .where(
                        d.c.address == c.recipient.address,
                        d.c.channel == c.recipient.channel,
                        d.c.id > c.id,
                        _pending(d.c.status),  # the recipient index's predicate
                        d.c.status == "queued",
                        d.c.next_attempt_at > now,
                    )
                    .values(next_attempt_at=now, updated_at=now)
                )
        if n == 0:
            # Our lease ran out and another worker claimed the row meanwhile; its outcome counts.
            log.warning("warning delivery outcome after lease expiry", delivery=c.id, status=values["status"])

    # --- what the operator and the metrics see -------------------------------------------------

    def stats(self, identifier: str | None = None) -> DeliveryStats:
        d = deliveries
        counts: dict[str, dict[str, int]] = defaultdict(dict)
        with self.store.engine.connect() as conn:
            q = select(d.c.channel, d.c.status, func.count()).group_by(d.c.channel, d.c.status)
            oq = select(func.min(d.c.next_attempt_at)).where(d.c.status.in_(("queued", "retrying")))
            if identifier is not None:
                q = q.where(d.c.identifier == identifier)
                oq = oq.where(d.c.identifier == identifier)
            for channel, status, n in conn.execute(q):
                counts[channel][status] = int(n)
            oldest = conn.execute(oq).scalar_one()
        return DeliveryStats(dict(counts), oldest)

    def rows(self, identifier: str) -> list[DeliveryRow]:
        """Every delivery of one alert, in queue order."""
        d = deliveries
        with self.store.engine.connect() as conn:
            result = conn.execute(
                select(
                    d.c.id,
                    d.c.identifier,
                    d.c.subscription_id,
                    d.c.channel,
                    d.c.address,
                    d.c.status,
                    d.c.attempts,
                    d.c.next_attempt_at,
                    d.c.last_error,
                    d.c.created_at,
                    d.c.sent_at,
                )
                .where(d.c.identifier == identifier)
                .order_by(d.c.id)
            ).all()
        return [DeliveryRow(*r) for r in result]
