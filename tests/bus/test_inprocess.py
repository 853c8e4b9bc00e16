# SPDX-License-Identifier: Apache-2.0
"""The embedded bus: events are delivered after commit, in order, and survive a crash before delivery."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from safecity.app import Platform, build_platform
from safecity.bus.inprocess import InProcessBus
from safecity.sensing.events import OBSERVATIONS_ACCEPTED, ObservationAccepted, observations
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
