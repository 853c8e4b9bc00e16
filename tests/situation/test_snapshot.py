# SPDX-License-Identifier: Apache-2.0
"""The rule engine's saved state (issue 15): a process killed after it saved its state and handled more
observations is replaced by one that restores the state and reads only the events after it again (not
the observations' history), with the same conditions and no second incident; a partitioned engine
restores only its districts' state. On both stores; the restart also over NATS JetStream."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import func, select

from safecity.app import Platform, build_platform
from safecity.bus.tables import outbox
from safecity.core.clock import ManualClock
from safecity.geo.importer import import_layer
from safecity.sensing import tables as t
from safecity.sensing.ingest import ObservationIn
from safecity.sensing.sta.model import ENTITIES
from safecity.settings import Settings
from safecity.settings.nested import SituationSettings
from safecity.situation.events import CONDITION_CHANGED
from safecity.situation.tables import engine_state
from safecity.situation.tables import incidents as t_incidents
from tests.conftest import weather_station
from tests.geo.data import MOIS_DISTRICTS

KST = timezone(timedelta(hours=9))
START = datetime(2022, 8, 8, 17, 0, tzinfo=KST)
GAUGES = (("Dongjak AWS", 126.9396, 37.5124), ("Seocho AWS", 127.0327, 37.4837))  # shares 1 and 2 of 2
#: 10-minute rainfall: a heavy rain advisory (3 h >= 60 mm) by the 6th reading, more after
RAIN = [10.0] * 12


def _gauges(platform: Platform) -> list[int]:
    import_layer(platform, MOIS_DISTRICTS, "districts")
    ids = []
    for name, lon, lat in GAUGES:
        body = weather_station(name, lon, lat)

        def create(conn: Any, w: Any, b: dict[str, Any] = body) -> Any:
            return w.create(conn, ENTITIES["Thing"], b)

        thing = platform.sensing.write(create)
        with platform.store.engine.connect() as conn:
            ids.append(
                conn.execute(select(t.datastreams.c.id).where(t.datastreams.c.thing_id == thing)).scalar_one()
            )
    return ids


def _rain(platform: Platform, streams: list[int], readings: range) -> None:
    batch = [
        ObservationIn("Datastream", sid, (START + timedelta(minutes=10 * (k + 1))).isoformat(), RAIN[k], True)
        for k in readings
        for sid in streams
    ]
    assert platform.sensing.ingest.ingest(batch).created == len(batch)
    platform.bus.drain(30)


def _conditions(platform: Platform) -> list[tuple[Any, ...]]:
    return sorted(
        (c["rule"], c["subject"], c["level"], c["since"]) for c in platform.situation.engine.active()
    )


def _count(platform: Platform, q: Any) -> int:
    with platform.store.engine.connect() as conn:
        return int(conn.execute(q).scalar_one())


def _crash(platform: Platform) -> None:
    """As a kill -9: nothing saved on the way out."""
    platform.situation.clock_worker.stop()
    _close(platform)


def _close(platform: Platform) -> None:
    close = getattr(platform.bus, "close", None)  # NATS: the connection too
    close() if close else platform.bus.stop()
    platform.store.close()


@pytest.fixture(params=["embedded", "nats"])
def bus_settings(request: pytest.FixtureRequest, settings: Settings) -> Settings:
    """The settings on the embedded bus, or on NATS JetStream (a server of the test session's own)."""
    if request.param == "embedded":
        return settings
    stream = f"S{uuid.uuid4().hex[:12]}"
    return settings.model_copy(
        update={
            "bus_url": request.getfixturevalue("nats_url"),
            "bus": settings.bus.model_copy(update={"nats_stream": stream}),
        }
    )


def test_a_restart_resumes_from_the_saved_state_and_the_events_after_it(bus_settings: Settings) -> None:
    settings = bus_settings
    clock = ManualClock(START + timedelta(hours=3))  # after every reading (a future one is flagged)
    first = build_platform(settings, clock)
    streams = _gauges(first)
    first.situation.start(ticker=False)
    _rain(first, streams, range(0, 7))  # an advisory at both gauges
    assert first.situation.state.save() == 2  # one row per district
    saved = _conditions(first)
    _rain(first, streams, range(7, 10))  # handled, then the process dies before saving again
    before = _conditions(first)
    assert before and before != saved  # the readings after the state changed the conditions
    incidents = _count(first, select(func.count()).select_from(t_incidents))
    changes = _count(first, select(func.count()).where(outbox.c.topic == CONDITION_CHANGED))
    assert incidents == 1
    _crash(first)

    second = build_platform(settings, clock)
    second.situation.start(ticker=False)
    resumed = second.situation.state.resumed
    assert resumed["keys"] == 2 and resumed["streams"] == 2
    assert resumed["warmed"] == 0  # no observation read back from history
    assert resumed["events"] == 2  # the ingest batch after the state: one event per district
    assert _conditions(second) == before
    second.bus.drain(30)
    # nothing happened twice: no second incident, no condition change published again
    assert _count(second, select(func.count()).select_from(t_incidents)) == incidents
    assert _count(second, select(func.count()).where(outbox.c.topic == CONDITION_CHANGED)) == changes
    # and it goes on from there, with the one incident
    _rain(second, streams, range(10, 12))
    assert _conditions(second)
    assert _count(second, select(func.count()).select_from(t_incidents)) == incidents
    second.situation.stop()  # saves its state
    with second.store.engine.connect() as conn:
        rows = conn.execute(select(engine_state.c.key, engine_state.c.position)).all()
    assert {r.key for r in rows} == {"district:11590", "district:11650"}
    assert len({r.position for r in rows}) == 1 and rows[0].position == second.situation.position
    _close(second)


def test_a_partitioned_engine_takes_only_its_districts_state(settings: Settings) -> None:
    clock = ManualClock(START + timedelta(hours=3))
    whole = build_platform(settings, clock)
    streams = _gauges(whole)
    whole.situation.start(ticker=False)
    _rain(whole, streams, range(0, 8))
    whole.situation.stop()
    before = _conditions(whole)
    _crash(whole)

    s = settings.model_copy(update={"situation": SituationSettings(partition="2/2")})
    part = build_platform(s, clock, roles=frozenset({"rules"}))
    part.situation.start(ticker=False)
    assert part.situation.state.resumed["keys"] == 1 and part.situation.state.resumed["warmed"] == 0
    # Seocho's condition, as the whole-city engine left it; Dongjak's is the other share's
    assert _conditions(part) == [c for c in before if c[1] == f"ds:{streams[1]}"]
    assert {c[1] for c in before} == {f"ds:{sid}" for sid in streams} and _conditions(part)
    part.situation.stop()
    part.bus.stop()
    part.store.close()
