# SPDX-License-Identifier: Apache-2.0
"""The delivery queue on both stores, against real receivers: nothing lost, nothing sent twice.

The key scenario: the webhook target goes down mid-run, its deliveries wait in ``retrying``; it comes
back, the worker runs, and every pending alert arrives exactly once (counted per idempotency key at the
receiver). Time is a ManualClock moved past the backoff delays.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from safecity.core.clock import ManualClock, SystemClock
from safecity.settings import Settings
from safecity.store import Store, open_store
from safecity.warning.channels.base import Channel, SendResult, TemporaryFailure
from safecity.warning.channels.webhook import WebhookChannel
from safecity.warning.delivery import Delivery, render_payload
from safecity.warning.delivery_tables import deliveries
from safecity.warning.message import Message, Recipient
from tests.migrating import migrate_all
from tests.warning.test_channels import Receiver, sample_message, verify_signature

T0 = datetime(2026, 11, 25, 1, 30, tzinfo=UTC)


@pytest.fixture
def wsettings(settings: Settings) -> Settings:
    return settings.with_warning(retry_base_s=2.0, retry_max_s=60.0, send_timeout_s=2.0)


@pytest.fixture
def store(wsettings: Settings) -> Iterator[Store]:
    s = open_store(wsettings)
    migrate_all(s)
    yield s
    s.close()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def webhook() -> Iterator[WebhookChannel]:
    channel = WebhookChannel(timeout_s=2)
    yield channel
    channel.close()


def hooks(receiver: Receiver, n: int) -> list[Recipient]:
    return [
        Recipient(i, "webhook", f"{receiver.url}/hook/{i}", "ko", "public", f"secret-{i}")
        for i in range(1, n + 1)
    ]


def enqueue(delivery: Delivery, store: Store, message: Message, recipients: list[Recipient]) -> int:
    with store.write() as conn:
        return delivery.enqueue(conn, message, recipients)


def statuses(store: Store) -> dict[str, str]:
    with store.engine.connect() as conn:
        return {k: s for k, s in conn.execute(select(deliveries.c.idempotency_key, deliveries.c.status))}


def new_delivery(
    store: Store, clock: ManualClock, channels: dict[str, Channel], settings: Settings
) -> Delivery:
    return Delivery(store, clock, channels, settings, rng=random.Random(5))


def test_webhook_down_mid_run_loses_nothing_and_sends_each_once(
    store: Store, clock: ManualClock, webhook: WebhookChannel, wsettings: Settings
) -> None:
    receiver = Receiver().start()
    try:
        delivery = new_delivery(store, clock, {"webhook": webhook}, wsettings)
        subscribers = hooks(receiver, 5)
        first = sample_message("KR-SEOUL-2026-0001")
        assert enqueue(delivery, store, first, subscribers) == 5
        assert delivery.run_once() == 5
        assert set(statuses(store).values()) == {"delivered"}

        receiver.stop()  # the target goes down
        update_ = sample_message("KR-SEOUL-2026-0002", "Update")
        cancel = sample_message("KR-SEOUL-2026-0003", "Cancel")
        assert enqueue(delivery, store, update_, subscribers) == 5
        assert delivery.run_once() == 5
        assert enqueue(delivery, store, cancel, subscribers) == 5
        # Down for ten minutes: retried with growing delays, never given up, never lost.
        for _ in range(20):
            clock.advance(timedelta(seconds=30))
            delivery.run_once()
        now = statuses(store)
        assert len(now) == 15
        # the Updates are being retried; each subscriber's Cancel waits behind its Update (order kept)
        assert {k.split("|")[0] for k, s in now.items() if s == "retrying"} == {"KR-SEOUL-2026-0002"}
        assert {k.split("|")[0] for k, s in now.items() if s == "queued"} == {"KR-SEOUL-2026-0003"}
        rows = {r.attempts for r in delivery.rows("KR-SEOUL-2026-0002")}
        assert min(rows) >= 5  # 2 s doubling to 60 s: several tries in ten minutes
        stats = delivery.stats()
        assert stats.counts["webhook"] == {"delivered": 5, "retrying": 5, "queued": 5}
        assert stats.pending == 10
        assert stats.oldest_due is not None

        receiver.start()  # back on the same port
        clock.advance(timedelta(seconds=wsettings.warning.retry_max_s))
        assert delivery.run_once() == 5  # the Updates
        assert delivery.run_once() == 5  # then the Cancels
        assert set(statuses(store).values()) == {"delivered"}
        # Nothing more to do, also once every lease would have run out.
        clock.advance(timedelta(hours=1))
        assert delivery.run_once() == 0

        counts = receiver.per_key()
        assert len(counts) == 15
        assert set(counts.values()) == {1}  # every alert to every subscriber exactly once
        for req in receiver.requests:
            sub = int(req.path.rsplit("/", 1)[1])
            assert verify_signature(f"secret-{sub}", req)
        assert [r.json()["msgType"] for r in receiver.requests if r.path == "/hook/1"] == [
            "Alert",
            "Update",
            "Cancel",
        ]
        # A repeated enqueue writes nothing and sends nothing.
        assert enqueue(delivery, store, update_, subscribers) == 0
        assert delivery.run_once() == 0
        assert len(receiver.requests) == 15
    finally:
        receiver.stop()


def test_repeated_enqueue_writes_nothing(
    store: Store, clock: ManualClock, wsettings: Settings, webhook: WebhookChannel
) -> None:
    delivery = new_delivery(store, clock, {"webhook": webhook}, wsettings)
    message = sample_message()
    people = [
        Recipient(1, "webhook", "http://127.0.0.1:9/", "ko"),
        Recipient(2, "webhook", "http://127.0.0.1:9/", "en"),
    ]
    assert enqueue(delivery, store, message, [*people, people[0]]) == 2  # a duplicate within one call too
    assert enqueue(delivery, store, message, people) == 0
    assert enqueue(delivery, store, message, [*people, Recipient(3, "webhook", "http://x/", "ko")]) == 1
    # The same subscription on another channel, and the next alert, are new deliveries.
    with_sse = [Recipient.broadcast("sse"), Recipient.broadcast("sse", "en"), Recipient(4, "sse", "", "ko")]
    assert enqueue(delivery, store, message, with_sse) == 1  # a broadcast goes out once per alert
    assert enqueue(delivery, store, sample_message("KR-SEOUL-2026-0099"), people) == 2
    assert sorted(statuses(store)) == [
        "KR-SEOUL-2026-0042|*|sse",
        "KR-SEOUL-2026-0042|1|webhook",
        "KR-SEOUL-2026-0042|2|webhook",
        "KR-SEOUL-2026-0042|3|webhook",
        "KR-SEOUL-2026-0099|1|webhook",
        "KR-SEOUL-2026-0099|2|webhook",
    ]
    # A rolled-back transaction (the alert was not issued after all) leaves no deliveries.
    with pytest.raises(RuntimeError), store.write() as conn:
        delivery.enqueue(conn, sample_message("KR-SEOUL-2026-0100"), people)
        raise RuntimeError("issue failed")
    assert delivery.rows("KR-SEOUL-2026-0100") == []


def test_a_new_delivery_on_the_same_store_resumes_queued_rows(
    store: Store, clock: ManualClock, wsettings: Settings
) -> None:
    receiver = Receiver().start()
    try:
        # The first process queued the alert and stopped before sending.
        first = new_delivery(store, clock, {"webhook": WebhookChannel(2)}, wsettings)  # closed below
        assert enqueue(first, store, sample_message(), hooks(receiver, 3)) == 3
        first.close()
        # The second one sends it, from the stored payload alone.
        channel = WebhookChannel(2)
        second = new_delivery(store, clock, {"webhook": channel}, wsettings)
        assert second.run_once() == 3
        channel.close()
        assert set(statuses(store).values()) == {"delivered"}
        assert len(receiver.requests) == 3
        assert receiver.requests[0].json()["text"]["headline"] == "동작구 침수 경보"
    finally:
        receiver.stop()


def test_a_crash_mid_send_is_retried_after_the_lease_with_the_same_key(
    store: Store, clock: ManualClock, wsettings: Settings, webhook: WebhookChannel
) -> None:
    receiver = Receiver().start()
    try:
        crashed = new_delivery(store, clock, {"webhook": webhook}, wsettings)
        enqueue(crashed, store, sample_message(), hooks(receiver, 2))
        # The worker claimed the rows (committed "sending"), sent one, and died before recording it.
        claimed = crashed._claim(clock.now())
        webhook.send(claimed[0].message, claimed[0].recipient, claimed[0].key)
        assert set(statuses(store).values()) == {"sending"}

        restarted = new_delivery(store, clock, {"webhook": webhook}, wsettings)
        assert restarted.run_once() == 0  # still leased to the dead worker
        clock.advance(restarted.lease)
        assert restarted.run_once() == 2
        assert set(statuses(store).values()) == {"delivered"}
        assert [r.attempts for r in restarted.rows(sample_message().identifier)] == [2, 2]
        # at-least-once: the row in flight at the crash arrives twice, with the same key to drop it by
        counts = receiver.per_key()
        assert sorted(counts.values()) == [1, 2]
        assert counts[claimed[0].key] == 2
        # the late outcome of the dead worker does not overwrite the new one
        crashed._succeeded(claimed[1], SendResult("delivered"))
        assert set(statuses(store).values()) == {"delivered"}
    finally:
        receiver.stop()


def test_outcomes_backoff_and_giving_up(store: Store, clock: ManualClock, wsettings: Settings) -> None:
    receiver = Receiver().start()
    try:
        answers = {"/gone": (410, {}, b"unsubscribed"), "/busy": (429, {"Retry-After": "45"}, b"slow down")}
        receiver.respond = lambda r: answers.get(r.path, (500, {}, b"broken"))
        channel = WebhookChannel(2)
        delivery = new_delivery(store, clock, {"webhook": channel}, wsettings.with_warning(give_up_s=600))
        people = [
            Recipient(1, "webhook", receiver.url + "/gone", "ko"),
            Recipient(2, "webhook", receiver.url + "/busy", "ko"),
            Recipient(3, "webhook", receiver.url + "/broken", "ko"),
        ]
        enqueue(delivery, store, sample_message(), people)
        delivery.run_once()
        rows = {r.subscription_id: r for r in delivery.rows(sample_message().identifier)}
        assert rows[1].status == "dead"
        assert "HTTP 410" in (rows[1].last_error or "")
        assert rows[2].status == "retrying"
        assert rows[2].next_attempt_at == T0 + timedelta(seconds=45)  # at least what the receiver asked
        assert rows[3].status == "retrying"
        assert rows[3].next_attempt_at is not None
        assert T0 + timedelta(seconds=1) <= rows[3].next_attempt_at <= T0 + timedelta(seconds=2)
        assert "HTTP 500" in (rows[3].last_error or "")
        # past the give-up age the still-failing deliveries are dead; the dead one was never retried
        clock.advance(timedelta(seconds=601))
        assert delivery.run_once() == 2
        rows = {r.subscription_id: r for r in delivery.rows(sample_message().identifier)}
        assert {r.status for r in rows.values()} == {"dead"}
        assert (rows[3].last_error or "").startswith("gave up after 2 attempts")
        assert len([r for r in receiver.requests if r.path == "/gone"]) == 1
        # the operator puts them back once the receiver is fixed
        receiver.respond = lambda r: (204, {}, b"")
        assert delivery.requeue(identifier=sample_message().identifier) == 3
        assert delivery.run_once() == 3
        assert delivery.stats().by_status() == {"delivered": 3}
        channel.close()
    finally:
        receiver.stop()


def test_backoff_doubles_with_jitter_up_to_the_maximum(
    store: Store, clock: ManualClock, wsettings: Settings
) -> None:
    delivery = new_delivery(store, clock, {}, wsettings)
    for attempts, full in [(1, 2), (2, 4), (3, 8), (5, 32), (6, 60), (40, 60)]:
        for _ in range(20):
            d = delivery.backoff(attempts).total_seconds()
            assert full / 2 <= d <= full
    assert delivery.backoff(1, retry_after_s=3600) == timedelta(seconds=60)


class Flaky:
    """A channel that fails temporarily the first ``n`` times, and one that breaks with a bug."""

    name = "sms"

    def __init__(self, n: int) -> None:
        self.n = n
        self.sent: list[str] = []

    def send(self, message: Message, recipient: Recipient, key: str) -> SendResult:
        if self.n > 0:
            self.n -= 1
            if self.n % 2:
                raise TemporaryFailure("gateway busy")
            raise KeyError("a bug in the adapter")
        self.sent.append(key)
        return SendResult("sent", "ok")

    def close(self) -> None:
        pass


def test_unconfigured_channels_fail_visibly_and_a_bug_is_retried(
    store: Store, clock: ManualClock, wsettings: Settings
) -> None:
    delivery = new_delivery(store, clock, {}, wsettings)
    message = sample_message()
    sms = [Recipient(1, "sms", "+821011112222", "ko"), Recipient(2, "sms", "+821033334444", "en")]
    assert enqueue(delivery, store, message, sms) == 2
    assert delivery.run_once() == 0
    assert {(r.status, r.last_error) for r in delivery.rows(message.identifier)} == {
        ("failed", "channel sms is not configured")
    }
    flaky = Flaky(2)
    configured = new_delivery(store, clock, {"sms": flaky}, wsettings)
    assert configured.requeue(statuses=["failed"]) == 2
    configured.run_once()
    assert {r.status for r in configured.rows(message.identifier)} == {"retrying"}
    errors = {r.last_error for r in configured.rows(message.identifier)}
    assert errors == {"gateway busy", "KeyError: 'a bug in the adapter'"}
    clock.advance(timedelta(minutes=1))
    configured.run_once()
    assert sorted(flaky.sent) == [f"{message.identifier}|1|sms", f"{message.identifier}|2|sms"]
    assert {r.status for r in configured.rows(message.identifier)} == {"sent"}
    assert all(r.sent_at == T0 + timedelta(minutes=1) for r in configured.rows(message.identifier))


def test_payload_keeps_what_the_channel_needs() -> None:
    m = sample_message()
    email = render_payload(m, Recipient(1, "email", "a@example.org", "ja"))
    assert set(email["message"]["texts"]) == {"ko", "en"}
    assert email["message"]["cap_xml"] and not email["message"]["cap_json"]
    assert Message.from_payload(email["message"]).cap_xml == m.cap_xml
    hook = render_payload(m, Recipient(1, "webhook", "http://x/", "ko", secret="s"))
    assert hook["message"]["cap_json"] == m.cap_json and not hook["message"]["cap_xml"]
    assert Recipient.from_json(hook["recipient"]).secret == "s"
    assert Message.from_payload(render_payload(m, Recipient.broadcast("sse"))["message"]).texts == m.texts
    with pytest.raises(ValueError, match="broadcast"):
        Recipient.broadcast("email")


def test_the_worker_thread_delivers_after_the_target_comes_back(store: Store, wsettings: Settings) -> None:
    """The same as the key scenario, with the real thread and the real clock (short delays)."""
    fast = wsettings.with_warning(retry_base_s=0.05, retry_max_s=0.2)
    receiver = Receiver()
    channel = WebhookChannel(2)
    delivery = Delivery(store, SystemClock(), {"webhook": channel}, fast, poll_s=0.05)
    delivery.start()
    try:
        enqueue(delivery, store, sample_message(), hooks(receiver, 4))  # the receiver is not up yet
        delivery.notify()
        deadline = time.monotonic() + 10
        while delivery.stats().by_status().get("retrying", 0) < 4:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        receiver.start()
        deadline = time.monotonic() + 10
        while delivery.stats().by_status() != {"delivered": 4}:
            assert time.monotonic() < deadline, delivery.stats()
            time.sleep(0.02)
        assert set(receiver.per_key().values()) == {1}
        assert len(receiver.per_key()) == 4
    finally:
        delivery.close()
        receiver.stop()


def test_rows_in_flight_are_not_claimed_twice(store: Store, clock: ManualClock, wsettings: Settings) -> None:
    delivery = new_delivery(store, clock, {"sms": Flaky(0)}, wsettings)
    enqueue(delivery, store, sample_message(), [Recipient(i, "sms", f"+8210{i}", "ko") for i in range(5)])
    a = delivery._claim(clock.now())
    b = delivery._claim(clock.now())
    assert len(a) == 5 and b == []
    # a row whose status was set behind the worker's back is not overwritten by its outcome
    with store.write() as conn:
        conn.execute(update(deliveries).where(deliveries.c.id == a[0].id).values(status="dead"))
    delivery._succeeded(a[0], SendResult("sent"))
    assert delivery.rows(sample_message().identifier)[0].status == "dead"


def test_a_backlog_behind_a_down_receiver_does_not_hold_up_others(
    store: Store, clock: ManualClock, wsettings: Settings, webhook: WebhookChannel
) -> None:
    up = Receiver().start()
    try:
        down = f"http://127.0.0.1:{up.port + 1 if up.port < 65535 else 1}/hook"
        delivery = Delivery(store, clock, {"webhook": webhook}, wsettings, batch=4, rng=random.Random(1))
        # 50 alerts for a receiver that is down: more than a claim's window (4 x 8 rows)
        for i in range(50):
            enqueue(
                delivery,
                store,
                sample_message(f"KR-SEOUL-2026-1{i:03d}"),
                [Recipient(1, "webhook", down, "ko")],
            )
        enqueue(
            delivery, store, sample_message("KR-SEOUL-2026-2000"), [Recipient(2, "webhook", up.url, "ko")]
        )
        for _ in range(3):
            delivery.run_once()
        assert [r.headers["idempotency-key"] for r in up.requests] == ["KR-SEOUL-2026-2000|2|webhook"]
        by = delivery.stats().by_status()
        assert by == {"retrying": 1, "queued": 49, "delivered": 1}
        # the down receiver's alerts are tried one at a time, oldest first
        assert [r.attempts for r in delivery.rows("KR-SEOUL-2026-1000")] == [1]
        assert [r.attempts for r in delivery.rows("KR-SEOUL-2026-1001")] == [0]
    finally:
        up.stop()
