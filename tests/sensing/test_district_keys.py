# SPDX-License-Identifier: Apache-2.0
"""Observation events are keyed by their Thing's district (issue 15), so the rule engine can be split by
district: one ingest batch becomes one event per district, each stream always under one key, and a
NATS subscriber of some keys gets only those districts' observations. On the in-process bus the
subscribers get every observation as before, in the batch's order."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select

from safecity.app import Platform, build_platform
from safecity.bus.jetstream import NatsBus
from safecity.bus.tables import outbox
from safecity.geo.importer import import_layer
from safecity.sensing import tables as t
from safecity.sensing.events import OBSERVATIONS_ACCEPTED, ObservationAccepted, observations
from safecity.sensing.ingest import ObservationIn
from safecity.sensing.sta.model import ENTITIES
from safecity.settings import Settings
from tests.conftest import weather_station
from tests.geo.data import MOIS_DISTRICTS

#: name, lon, lat, the key its observations go under (MOIS district codes; the last is off Seoul).
STATIONS = (
    ("Dongjak AWS", 126.9396, 37.5124, "district:11590"),
    ("Gangnam AWS", 127.0473, 37.5172, "district:11680"),
    ("Jeju AWS", 126.5312, 33.4996, "observations"),
)


def _streams(platform: Platform) -> list[int]:
    import_layer(platform, MOIS_DISTRICTS, "districts")
    ids = []
    for name, lon, lat, _ in STATIONS:
        body = weather_station(name, lon, lat)

        def create(conn: Any, w: Any, b: dict[str, Any] = body) -> Any:
            return w.create(conn, ENTITIES["Thing"], b)

        thing = platform.sensing.write(create)
        with platform.store.engine.connect() as conn:
            ids.append(
                conn.execute(select(t.datastreams.c.id).where(t.datastreams.c.thing_id == thing)).scalar_one()
            )
    return ids


def _batch(streams: list[int]) -> list[ObservationIn]:
    # interleaved: Dongjak, Gangnam, Jeju, Dongjak, ... (one call, one transaction)
    return [
        ObservationIn("Datastream", streams[k % 3], f"2022-08-08T12:{k:02d}:00+09:00", float(k), True)
        for k in range(9)
    ]


def test_one_event_per_district_and_every_observation_delivered_in_order(settings: Settings) -> None:
    platform = build_platform(settings)
    try:
        streams = _streams(platform)
        seen: list[ObservationAccepted] = []
        platform.bus.subscribe(OBSERVATIONS_ACCEPTED, lambda es: seen.extend(observations(es)), "test.keys")
        result = platform.sensing.ingest.ingest(_batch(streams))
        assert result.created == 9
        with platform.store.engine.connect() as conn:
            rows = conn.execute(
                select(outbox.c.key).where(outbox.c.topic == OBSERVATIONS_ACCEPTED).order_by(outbox.c.id)
            ).all()
        assert [r.key for r in rows] == [key for *_, key in STATIONS]
        assert platform.bus.drain(30)
        # every observation once; each stream's in its own order (the events follow each other)
        assert sorted(o.result for o in seen) == [float(k) for k in range(9)]
        for n, sid in enumerate(streams):
            assert [o.result for o in seen if o.datastream_id == sid] == [float(k) for k in range(n, 9, 3)]
    finally:
        platform.bus.stop()
        platform.store.close()


def test_a_nats_subscriber_of_one_district_gets_only_its_observations(
    settings: Settings, nats_url: str
) -> None:
    s = settings.model_copy(
        update={
            "bus_url": nats_url,
            "bus": settings.bus.model_copy(update={"nats_stream": f"K{uuid.uuid4().hex[:12]}"}),
        }
    )
    platform = build_platform(s)
    try:
        bus = platform.bus
        assert isinstance(bus, NatsBus)
        streams = _streams(platform)
        gangnam: list[ObservationAccepted] = []
        rest: list[ObservationAccepted] = []
        bus.subscribe(
            OBSERVATIONS_ACCEPTED,
            lambda es: gangnam.extend(observations(es)),
            "rules.p1",
            keys=["district:11680"],
        )
        bus.subscribe(
            OBSERVATIONS_ACCEPTED,
            lambda es: rest.extend(observations(es)),
            "rules.p2",
            keys=["district:11590", "observations"],
        )
        platform.sensing.ingest.ingest(_batch(streams))
        assert bus.drain(30)
        assert [o.result for o in gangnam] == [1.0, 4.0, 7.0]
        assert {o.datastream_id for o in gangnam} == {streams[1]}
        assert sorted(o.result for o in rest) == [0.0, 2.0, 3.0, 5.0, 6.0, 8.0]
    finally:
        bus.close()  # type: ignore[attr-defined]
        platform.store.close()
