# SPDX-License-Identifier: Apache-2.0
"""The rule engine split by district (issue 15): two engines over one store, SAFECITY_SITUATION__PARTITION
1/2 and 2/2, each plan only their districts' streams and take only their districts' observation events
(keys ``district:<code>``), so every condition is evaluated by one engine, once. On both stores, over the
embedded bus and over NATS JetStream (a server of the test session's own)."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import select

from safecity.app import Platform, build_platform
from safecity.bus.tables import outbox
from safecity.core.clock import ManualClock
from safecity.geo.importer import import_layer
from safecity.sensing import tables as t
from safecity.sensing.events import OBSERVATIONS_ACCEPTED
from safecity.sensing.ingest import ObservationIn
from safecity.sensing.sta.model import ENTITIES
from safecity.settings import Settings
from safecity.settings.nested import SituationSettings
from safecity.situation.events import CONDITION_CHANGED
from safecity.situation.partition import Partition
from tests.conftest import weather_station
from tests.geo.data import MOIS_DISTRICTS

KST = timezone(timedelta(hours=9))
START = datetime(2022, 8, 8, 19, 0, tzinfo=KST)
#: name, lon, lat, the share of its district (crc32(code) % 2 + 1; Jeju lies outside every district)
GAUGES = (
    ("Dongjak AWS", 126.9396, 37.5124, "district:11590", 1),
    ("Seocho AWS", 127.0327, 37.4837, "district:11650", 2),
    ("Jeju AWS", 126.5312, 33.4996, "observations", 1),
)


def test_shares_are_stable_and_cover_every_district_once() -> None:
    one, two = (Partition.of(SituationSettings(partition=f"{i}/2")) for i in (1, 2))
    for code in ("11110", "11590", "11650", "11680", "26110"):
        assert one.owns(code) != two.owns(code)
    assert one.owns(None) and not two.owns(None)  # outside every district: share 1
    named = Partition.of(SituationSettings(districts=["11650", "none"]))
    assert named.owns("11650") and named.owns(None) and not named.owns("11590")
    assert {one.tag, two.tag} == {".p1of2", ".p2of2"} and Partition().tag == ""
    with pytest.raises(ValueError, match="PARTITION=3/2"):
        SituationSettings(partition="3/2")


def _platforms(settings: Settings, clock: ManualClock, nats: str | None) -> list[Platform]:
    update: dict[str, Any] = {}
    if nats:
        update = {
            "bus_url": nats,
            "bus": settings.bus.model_copy(update={"nats_stream": f"P{uuid.uuid4().hex[:12]}"}),
        }
    out = []
    for share in (1, 2):
        s = settings.model_copy(update={**update, "situation": SituationSettings(partition=f"{share}/2")})
        # as `safecity worker --role rules` (the outbox shared with the other processes)
        out.append(build_platform(s, clock, roles=frozenset({"rules"})))
    return out


def _gauges(platform: Platform) -> list[int]:
    import_layer(platform, MOIS_DISTRICTS, "districts")
    ids = []
    for name, lon, lat, _, _ in GAUGES:
        body = weather_station(name, lon, lat)

        def create(conn: Any, w: Any, b: dict[str, Any] = body) -> Any:
            return w.create(conn, ENTITIES["Thing"], b)

        thing = platform.sensing.write(create)
        with platform.store.engine.connect() as conn:
            ids.append(
                conn.execute(select(t.datastreams.c.id).where(t.datastreams.c.thing_id == thing)).scalar_one()
            )
    return ids


@pytest.fixture(params=["embedded", "nats"])
def engines(request: pytest.FixtureRequest, settings: Settings) -> Iterator[tuple[list[Platform], list[int]]]:
    nats = request.getfixturevalue("nats_url") if request.param == "nats" else None
    clock = ManualClock(START + timedelta(hours=2))  # after the readings (a future one is flagged)
    platforms = _platforms(settings, clock, nats)
    try:
        streams = _gauges(platforms[0])
        yield platforms, streams
    finally:
        for p in platforms:
            close = getattr(p.bus, "close", None)
            close() if close else p.bus.stop()
            p.store.close()


def test_two_engines_split_the_districts_and_evaluate_each_condition_once(
    engines: tuple[list[Platform], list[int]],
) -> None:
    platforms, streams = engines
    for p in platforms:
        p.situation.start(ticker=False)
    # an evening of heavy rain at every gauge: 15 mm every 10 minutes (3 h sum 60 mm at 19:40)
    batch = [
        ObservationIn("Datastream", sid, (START + timedelta(minutes=10 * k)).isoformat(), 15.0, True)
        for k in range(1, 7)
        for sid in streams
    ]
    assert platforms[0].sensing.ingest.ingest(batch).created == len(batch)
    for _ in range(3):  # each bus marks an event delivered once both processes' subscribers have it
        for p in platforms:
            p.bus.drain(30)
    assert platforms[0].bus.pending() == 0
    by_share = {
        share: {sid for sid, g in zip(streams, GAUGES, strict=True) if g[4] == share} for share in (1, 2)
    }
    for share, p in enumerate(platforms, start=1):
        engine = p.situation.engine
        assert {i for i in engine.streams if i > 0} == by_share[share]
        assert engine.processed == 6 * len(by_share[share])  # only its own districts' observations
        assert {c["subject"] for c in engine.active()} >= {f"ds:{sid}" for sid in by_share[share]}
    with platforms[0].store.engine.connect() as conn:
        keys = Counter(
            r.key for r in conn.execute(select(outbox.c.key).where(outbox.c.topic == OBSERVATIONS_ACCEPTED))
        )
        changes = [
            r.payload
            for r in conn.execute(select(outbox.c.payload).where(outbox.c.topic == CONDITION_CHANGED))
        ]
    assert set(keys) == {g[3] for g in GAUGES}
    # every level a condition went through was published once: by the one engine that owns it
    seen = Counter((c["subject"], c["rule"], c["level"], c["at"]) for c in changes)
    assert seen and max(seen.values()) == 1
    engine_changes = sum(
        len(b.history) for p in platforms for b in p.situation.engine.bindings if b.group is None
    )
    assert len(changes) == engine_changes
    assert {c["subject"] for c in changes} == {f"ds:{sid}" for sid in streams}
