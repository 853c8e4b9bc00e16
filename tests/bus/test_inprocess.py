# SPDX-License-Identifier: Apache-2.0
"""The embedded bus: events are delivered after commit, in order, and survive a crash before delivery."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from safecity.app import Platform, build_platform
from safecity.bus.inprocess import InProcessBus
from safecity.core.events import Envelope
from safecity.sensing.events import (
    OBSERVATIONS_ACCEPTED,
    ObservationAccepted,
    ObservationsAccepted,
    observations,
)
from safecity.sensing.ingest import ObservationIn
from safecity.sensing.sta.model import ENTITIES
from safecity.settings import Settings
from tests.conftest import weather_station


def _stream(platform: Platform) -> int:
    platform.sensing.write(lambda conn, w: w.create(conn, ENTITIES["Thing"], weather_station()))
    return 1


def _obs(ds: int, minute: int, value: float) -> ObservationIn:
    return ObservationIn("Datastream", ds, f"2022-08-08T12:{minute:02d}:00+09:00", value, True)


def test_observation_accepted_reaches_subscribers_in_order(platform: Platform) -> None:
    ds = _stream(platform)
    seen: list[ObservationAccepted] = []
    platform.bus.subscribe(OBSERVATIONS_ACCEPTED, lambda events: seen.extend(observations(events)), "test")
    platform.sensing.ingest.ingest([_obs(ds, m, float(m)) for m in range(5)])
    platform.sensing.ingest.ingest([_obs(ds, 2, 2.0)])  # a retry: stored once, announced once
    assert platform.bus.drain(10)
    assert [e.result for e in seen] == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert seen[0].phenomenon_time.isoformat() == "2022-08-08T03:00:00+00:00"
    assert all(e.datastream_id == ds for e in seen)
    assert platform.bus.pending() == 0


def test_events_committed_before_a_crash_are_delivered_after_restart(settings: Settings) -> None:
    first = build_platform(settings)
    ds = _stream(first)
    first.sensing.ingest.ingest([_obs(ds, m, 1.0) for m in range(3)])
    # The process "dies" here: nothing was delivered (no dispatcher ran).
    assert first.bus.pending() >= 1
    first.store.close()
    second = build_platform(settings)
    seen: list[Any] = []

    def handler(events: Sequence[Any]) -> None:
        seen.extend(observations(events))

    second.bus.subscribe(OBSERVATIONS_ACCEPTED, handler, "late-subscriber")
    second.bus.start()
    try:
        assert second.bus.drain(10)
    finally:
        second.bus.stop()
    assert len(seen) == 3
    second.store.close()


def test_a_failing_subscriber_does_not_block_others(platform: Platform) -> None:
    ds = _stream(platform)
    seen: list[Any] = []

    def broken(events: Sequence[Any]) -> None:
        raise RuntimeError("boom")

    platform.bus.subscribe(OBSERVATIONS_ACCEPTED, broken, "broken")
    platform.bus.subscribe(OBSERVATIONS_ACCEPTED, lambda es: seen.extend(observations(es)), "good")
    platform.sensing.ingest.ingest([_obs(ds, 0, 1.0)])
    assert isinstance(platform.bus, InProcessBus)
    platform.bus.deliver_pending()
    assert len(seen) == 1


def _batch(oid: int, value: float) -> ObservationsAccepted:
    t = datetime(2022, 8, 8, 3, tzinfo=UTC)
    return ObservationsAccepted.of([ObservationAccepted(oid, 1, None, 1, t, None, None, value, 0)])


def test_an_event_published_here_is_handed_over_itself_and_a_rolled_back_savepoint_publishes_nothing(
    platform: Platform,
) -> None:
    """The dispatcher reads only the headers of events this process published (issue 15): it hands over
    the published object itself, never one whose savepoint or transaction rolled back."""
    got: list[Envelope] = []
    platform.bus.subscribe(OBSERVATIONS_ACCEPTED, got.extend, "test-recent")
    kept = _batch(1, 1.0)
    with platform.store.write() as conn:
        savepoint = conn.begin_nested()
        platform.bus.publish(conn, _batch(2, 2.0))
        savepoint.rollback()
        platform.bus.publish(conn, kept)
    with contextlib.suppress(RuntimeError), platform.store.write() as conn:
        platform.bus.publish(conn, _batch(3, 3.0))
        raise RuntimeError("rolled back")
    assert platform.bus.drain(10)
    assert [e.data for e in got] == [kept]
    assert got[0].data is kept  # not decoded again from the outbox
    assert [o.result for o in observations(got)] == [1.0]


def test_an_event_published_by_another_process_is_read_from_the_outbox(settings: Settings) -> None:
    writer = build_platform(settings)
    sent = _batch(7, 7.5)
    with writer.store.write() as conn:
        writer.bus.publish(conn, sent)
    reader = build_platform(settings)
    got: list[Envelope] = []
    reader.bus.subscribe(OBSERVATIONS_ACCEPTED, got.extend, "test-other-process")
    assert reader.bus.drain(10)
    assert [e.data for e in got] == [sent] and got[0].data is not sent
    writer.store.close()
    reader.store.close()


def test_subscribing_does_not_wait_for_the_round_in_hand(platform: Platform) -> None:
    """A process taking a role over subscribes while its dispatcher works through a backlog: the
    subscription is made at once (it once waited for the round, most of a 6.8 s failover) and served
    from the next round."""
    ds = _stream(platform)
    inside, release = threading.Event(), threading.Event()

    def slow(events: Sequence[Envelope]) -> None:
        inside.set()
        release.wait(30)

    late: list[ObservationAccepted] = []
    platform.bus.subscribe(OBSERVATIONS_ACCEPTED, slow, "slow")
    platform.sensing.ingest.ingest([_obs(ds, 1, 1.0)])
    bus = platform.bus
    assert isinstance(bus, InProcessBus)
    round_ = threading.Thread(target=bus.deliver_pending)
    round_.start()
    try:
        assert inside.wait(30)  # the round is in the slow handler, holding the round
        subscribed = threading.Thread(
            target=platform.bus.subscribe,
            args=(OBSERVATIONS_ACCEPTED, lambda es: late.extend(observations(es)), "late"),
        )
        subscribed.start()
        subscribed.join(10)
        assert not subscribed.is_alive(), "subscribe waited for the dispatcher's round"
    finally:
        release.set()
        round_.join(30)
    platform.sensing.ingest.ingest([_obs(ds, 2, 2.0)])
    assert platform.bus.drain(10)
    assert [e.result for e in late][-1:] == [2.0]
