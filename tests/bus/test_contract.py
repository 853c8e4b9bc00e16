# SPDX-License-Identifier: Apache-2.0
"""The contract every bus adapter keeps, on every store: at-least-once per subscriber, in order per key,
retries on the injected clock, dead letters an operator replays, positions that survive a restart,
and an outbox that is pruned. Add an adapter to ``ADAPTERS`` and it must pass all of these."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from safecity.bus.inprocess import InProcessBus
from safecity.bus.port import Bus
from safecity.bus.tables import outbox
from safecity.capability import migration_folders, registered
from safecity.core.clock import ManualClock
from safecity.core.errors import NotFound
from safecity.core.events import Envelope, Event
from safecity.settings import BusSettings, Settings
from safecity.store import Store, open_store

T0 = datetime(2026, 12, 7, 3, 0, tzinfo=UTC)
SETTINGS = BusSettings(max_attempts=3, retry_base_s=10, retry_max_s=60, retention_hours=1, prune_every_s=3600)


class Ping(Event):
    """A test event: ``n`` counts per key."""

    type = "bustest.Ping"

    k: str
    n: int

    def ordering_key(self) -> str:
        return self.k


Factory = Callable[[Store, ManualClock], Bus]
ADAPTERS = ("inprocess", "nats")


@pytest.fixture(params=ADAPTERS)
def factory(request: pytest.FixtureRequest) -> Iterator[Factory]:
    if request.param == "inprocess":
        yield lambda store, clock: InProcessBus(store, clock, settings=SETTINGS, batch=5)
        return
    # a real NATS server with JetStream; a stream of this test's own (the server is the session's)
    from safecity.bus.jetstream import NatsBus

    url = request.getfixturevalue("nats_url")
    settings = SETTINGS.model_copy(update={"nats_stream": f"T{uuid.uuid4().hex[:12]}"})
    opened: list[NatsBus] = []

    def make(store: Store, clock: ManualClock) -> Bus:
        bus = NatsBus(store, url, clock, settings=settings, batch=5)
        opened.append(bus)
        return bus

    yield make
    for bus in opened:
        bus.close()


@pytest.fixture
def store(settings: Settings) -> Iterator[Store]:
    s = open_store(settings)
    # with the capabilities' branches: the session's PostgreSQL database may carry them already
    s.migrate(migration_folders(registered(settings)))
    yield s
    s.close()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


def publish(bus: Bus, store: Store, *events: Ping) -> None:
    with store.write() as conn:
        for e in events:
            bus.publish(conn, e)
    bus.notify()


def pings(key: str, first: int, last: int) -> list[Ping]:
    return [Ping(k=key, n=n) for n in range(first, last + 1)]


class Recorder:
    """A subscriber that fails while ``broken`` (or on the events named in ``fail_on``)."""

    def __init__(self) -> None:
        self.seen: list[Envelope] = []
        self.calls = 0
        self.broken = False
        self.fail_on: set[tuple[str, int]] = set()

    def __call__(self, events: Sequence[Envelope]) -> None:
        self.calls += 1
        if self.broken:
            raise RuntimeError("subscriber is down")
        for e in events:
            assert isinstance(e.data, Ping)
            if (e.data.k, e.data.n) in self.fail_on:
                raise ValueError(f"cannot handle {e.data.k}/{e.data.n}")
        self.seen.extend(events)

    def values(self, key: str | None = None) -> list[int]:
        return [e.data.n for e in self.seen if isinstance(e.data, Ping) and (key is None or e.data.k == key)]


def settle(bus: Bus) -> None:
    bus.drain(10)


def test_envelope_carries_identity_and_the_typed_payload(
    factory: Factory, store: Store, clock: ManualClock
) -> None:
    bus = factory(store, clock)
    rec = Recorder()
    bus.subscribe(Ping.type, rec, "rec")
    settle(bus)
    publish(bus, store, Ping(k="a", n=1))
    assert bus.drain(10)
    [env] = rec.seen
    assert (env.type, env.version, env.source, env.key, env.time) == ("bustest.Ping", 1, "bustest", "a", T0)
    assert env.data == Ping(k="a", n=1) and env.id > 0
    assert env.to_json()["data"] == {"k": "a", "n": 1}


def test_a_failing_subscriber_gets_the_same_events_again_after_the_fault_is_fixed(
    factory: Factory, store: Store, clock: ManualClock
) -> None:
    bus = factory(store, clock)
    rec, other = Recorder(), Recorder()
    bus.subscribe(Ping.type, rec, "flaky")
    bus.subscribe(Ping.type, other, "steady")
    settle(bus)
    rec.broken = True
    publish(bus, store, *pings("a", 1, 4))
    assert not bus.drain(10)  # the flaky one is backing off: not delivered to every subscriber
    assert other.values() == [1, 2, 3, 4]  # one failing subscriber does not hold the others back
    assert rec.values() == []
    [state] = [s for s in bus.subscribers() if s.name == "flaky"]
    assert state.attempts == 1 and state.retry_at == T0 + timedelta(seconds=10)
    assert state.last_error == "RuntimeError: subscriber is down" and state.lag == 4
    calls = rec.calls
    settle(bus)
    assert rec.calls == calls  # the backoff runs on the platform's clock: nothing before it is due
    rec.broken = False
    clock.advance(timedelta(seconds=10))
    assert bus.drain(10)
    assert rec.values() == [1, 2, 3, 4]
    assert bus.pending() == 0 and bus.dead_letters() == []


def test_backoff_doubles_up_to_the_limit_then_the_event_is_a_dead_letter_an_operator_replays(
    factory: Factory, store: Store, clock: ManualClock
) -> None:
    bus = factory(store, clock)
    rec = Recorder()
    bus.subscribe(Ping.type, rec, "rec")
    settle(bus)
    rec.fail_on = {("a", 2)}
    publish(bus, store, *pings("a", 1, 3))
    settle(bus)
    waits = []
    for _ in range(SETTINGS.max_attempts - 1):
        [state] = bus.subscribers()
        assert state.retry_at is not None
        waits.append((state.retry_at - clock.now()).total_seconds())
        clock.set(state.retry_at)
        settle(bus)
    assert waits == [10, 20]
    # given up on 2 after three failures: it is kept, and the subscriber went on with 3
    assert rec.values() == [1, 3]
    [dead] = bus.dead_letters()
    assert (dead.subscriber, dead.attempts, dead.error) == ("rec", 3, "ValueError: cannot handle a/2")
    assert dead.event.data == Ping(k="a", n=2) and dead.replayed_at is None
    assert bus.drain(10) and bus.pending() == 0
    # replayed while still broken: it stays dead, one more attempt counted
    bus.replay(dead.id, "admin1")
    settle(bus)
    [again] = bus.dead_letters()
    assert again.attempts == 4 and again.replay_requested_at is None
    rec.fail_on = set()
    assert bus.replay(dead.id, "admin1").replay_requested_by == "admin1"
    settle(bus)
    assert rec.values() == [1, 3, 2]
    assert bus.dead_letters() == []
    [done] = bus.dead_letters(include_replayed=True)
    assert done.replayed_at == clock.now()
    with pytest.raises(NotFound):
        bus.replay(done.id + 100, "admin1")


def test_nothing_is_lost_or_reordered_per_key(factory: Factory, store: Store, clock: ManualClock) -> None:
    bus = factory(store, clock)
    rec = Recorder()
    bus.subscribe(Ping.type, rec, "rec")
    settle(bus)
    # interleaved keys over several transactions; the subscriber fails on one event of each key once
    for first in range(1, 30, 6):
        publish(bus, store, *pings("a", first, first + 5), *pings("b", first, first + 2))
    rec.fail_on = {("a", 9), ("b", 4)}
    settle(bus)
    rec.fail_on = set()
    clock.advance(timedelta(seconds=10))
    assert bus.drain(10)
    for key, last in (("a", 30), ("b", 27)):
        got = rec.values(key)
        expected = [n for first in range(1, 30, 6) for n in range(first, first + (6 if key == "a" else 3))]
        assert expected[-1] == last
        # the recorder keeps only what it handled without failing: each event once, in publishing order
        assert got == expected


def test_a_restart_resumes_from_the_cursor(
    factory: Factory, store: Store, clock: ManualClock, settings: Settings
) -> None:
    first = factory(store, clock)
    rec = Recorder()
    first.subscribe(Ping.type, rec, "rec")
    settle(first)
    publish(first, store, *pings("a", 1, 3))
    assert first.drain(10)
    first.stop()
    # events committed while the subscriber was down, then a new process
    publish(first, store, *pings("a", 4, 5))
    store2 = open_store(settings)
    try:
        second = factory(store2, clock)
        rec2 = Recorder()
        second.subscribe(Ping.type, rec2, "rec")
        assert second.drain(10)
        assert rec2.values() == [4, 5]  # not 1-3 again
        # a subscriber never seen before starts at the oldest event not yet delivered to all
        publish(second, store2, *pings("a", 6, 6))
        newcomer = Recorder()
        second.subscribe(Ping.type, newcomer, "newcomer")
        assert second.drain(10)
        assert newcomer.values() == [6] and rec2.values() == [4, 5, 6]
    finally:
        store2.close()


def test_only_the_subscribed_types_are_delivered_and_unknown_types_are_refused(
    factory: Factory, store: Store, clock: ManualClock
) -> None:
    bus = factory(store, clock)
    rec = Recorder()
    with pytest.raises(KeyError, match=r"bustest\.Nope"):
        bus.subscribe("bustest.Nope", rec, "rec")
    bus.subscribe("sensing.EntityChanged", rec, "rec")
    settle(bus)
    publish(bus, store, *pings("a", 1, 2))
    assert bus.drain(10) and rec.seen == []


def test_a_payload_that_does_not_fit_its_class_writes_nothing(
    factory: Factory, store: Store, clock: ManualClock
) -> None:
    bus = factory(store, clock)
    with pytest.raises(ValueError, match="n"), store.write() as conn:
        bus.publish(conn, Ping.type, {"k": "a"})
    with store.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(outbox)).scalar_one() == 0


def test_events_delivered_to_every_subscriber_are_pruned_after_the_retention(
    factory: Factory, store: Store, clock: ManualClock
) -> None:
    bus = factory(store, clock)
    rec, slow = Recorder(), Recorder()
    bus.subscribe(Ping.type, rec, "rec")
    bus.subscribe(Ping.type, slow, "slow")
    settle(bus)
    publish(bus, store, *pings("a", 1, 2))
    slow.broken = True
    settle(bus)
    clock.advance(timedelta(hours=2))
    assert bus.prune() == 0  # the slow subscriber has not had them: kept however old
    slow.broken = False
    settle(bus)
    assert slow.values() == [1, 2] and bus.pending() == 0
    assert bus.prune() == 0  # delivered just now: kept for the retention period
    clock.advance(timedelta(hours=1, seconds=1))
    assert bus.prune() == 2
    with store.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(outbox)).scalar_one() == 0


class Pong(Ping):
    type = "bustest.Pong"


def test_a_subscriber_of_a_rarer_type_gets_it_behind_a_burst_of_others(
    factory: Factory, store: Store, clock: ManualClock
) -> None:
    """The in-process dispatcher reads the events of every subscriber's types once per position and round
    (up to its batch, 5 here): a subscriber of a type that comes only after more than a batch of
    another type must still get it, and the subscriber of both every event, in order."""
    bus = factory(store, clock)
    rare, both = Recorder(), Recorder()
    bus.subscribe(Pong.type, rare, "test.rare")
    bus.subscribe([Ping.type, Pong.type], both, "test.both")
    publish(bus, store, *pings("a", 1, 12))
    publish(bus, store, Pong(k="a", n=13))
    publish(bus, store, *pings("a", 14, 20))
    settle(bus)
    assert rare.values() == [13]
    assert both.values() == list(range(1, 21))


def _outbox_size(store: Store) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(outbox)).scalar_one())


def test_an_event_after_the_outbox_was_pruned_empty_reaches_every_subscriber(
    factory: Factory, store: Store, clock: ManualClock
) -> None:
    """What lost a guardian's wandering alert: a platform starts and publishes its first event, every
    subscriber handles it (their cursors stand at its id), the retention passes and the dispatcher's
    own pruning empties the outbox. The next event must get an id above every cursor (SQLite gave the
    largest id left plus one: 1 again, passed over by every subscriber and never marked delivered)."""
    bus = factory(store, clock)
    rec, other = Recorder(), Recorder()
    bus.subscribe(Ping.type, rec, "rec")
    bus.subscribe(Ping.type, other, "other")
    settle(bus)
    publish(bus, store, Ping(k="a", n=1))
    settle(bus)
    [first] = rec.seen
    clock.advance(timedelta(hours=SETTINGS.retention_hours, seconds=SETTINGS.prune_every_s + 1))
    settle(bus)  # a round with nothing to deliver: it prunes (every prune_every_s)
    assert _outbox_size(store) == 0, "the retention's pruning emptied the outbox"
    publish(bus, store, Ping(k="a", n=2))
    assert bus.drain(10), "the new event was delivered to every subscriber"
    assert rec.values() == [1, 2] and other.values() == [1, 2]
    assert rec.seen[1].id > first.id


def test_an_event_after_the_outbox_was_pruned_empty_reaches_the_subscribers_of_a_restart(
    factory: Factory, store: Store, clock: ManualClock, settings: Settings
) -> None:
    """The same after a restart: only the stored cursors remember where the subscribers stand."""
    first = factory(store, clock)
    rec = Recorder()
    first.subscribe(Ping.type, rec, "rec")
    settle(first)
    publish(first, store, *pings("a", 1, 3))
    settle(first)
    clock.advance(timedelta(hours=SETTINGS.retention_hours, seconds=1))
    assert first.prune() == 3
    first.stop()
    store2 = open_store(settings)
    try:
        second = factory(store2, clock)
        rec2 = Recorder()
        second.subscribe(Ping.type, rec2, "rec")
        settle(second)
        publish(second, store2, Ping(k="a", n=4))
        assert second.drain(10)
        assert rec2.values() == [4] and rec2.seen[0].id > rec.seen[-1].id
    finally:
        store2.close()
