# SPDX-License-Identifier: Apache-2.0
"""The whole platform on the NATS JetStream bus (SAFECITY_BUS_URL=nats://): the real subscribers
(rules, incidents, audit, notifiers) get the real events through the stream, none is left behind and
none goes to the dead letters."""

from __future__ import annotations

import uuid

from safecity.app import build_platform
from safecity.bus.jetstream import NatsBus
from safecity.sensing.events import OBSERVATIONS_ACCEPTED, ObservationAccepted, observations
from safecity.sensing.ingest import ObservationIn
from safecity.sensing.sta.model import ENTITIES
from safecity.settings import Settings
from tests.conftest import weather_station


def test_the_platform_runs_on_jetstream(settings: Settings, nats_url: str) -> None:
    s = settings.model_copy(
        update={
            "bus_url": nats_url,
            "bus": settings.bus.model_copy(update={"nats_stream": f"P{uuid.uuid4().hex[:12]}"}),
        }
    )
    platform = build_platform(s)
    try:
        assert isinstance(platform.bus, NatsBus)
        platform.sensing.write(lambda conn, w: w.create(conn, ENTITIES["Thing"], weather_station()))
        seen: list[ObservationAccepted] = []
        platform.bus.subscribe(
            OBSERVATIONS_ACCEPTED, lambda events: seen.extend(observations(events)), "test"
        )
        platform.sensing.ingest.ingest(
            [
                ObservationIn("Datastream", 1, f"2022-08-08T12:{m:02d}:00+09:00", float(m), True)
                for m in range(5)
            ]
        )
        assert platform.bus.drain(30)
        assert [o.result for o in seen] == [0.0, 1.0, 2.0, 3.0, 4.0]
        states = platform.bus.subscribers()
        assert states and all(st.lag == 0 and st.attempts == 0 for st in states)
        assert platform.bus.dead_letters() == []
    finally:
        platform.bus.close()  # type: ignore[attr-defined]
        platform.store.close()
