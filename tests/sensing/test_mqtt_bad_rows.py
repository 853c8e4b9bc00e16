# SPDX-License-Identifier: Apache-2.0
"""One bad publish never costs other rows or other devices their observations (issue 13), on both stores.

A string with a NUL character once failed a whole MQTT ingest batch on PostgreSQL: every device's
messages in it were neither stored nor acknowledged.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import select

from safecity.sensing import tables as t
from tests.conftest import _truncate_pg
from tests.sensing.test_mqtt import Peer, running, until


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest) -> str | None:
    if request.param == "sqlite":
        return None
    url: str = request.getfixturevalue("pg_url")
    _truncate_pg(url)
    return url


def _burst(peer: Peer, messages: list[tuple[str, Any]]) -> list[Any]:
    """Publish all at QoS 1 without waiting in between, so they share ingest batches."""
    return [peer.client.publish(topic, orjson.dumps(body), qos=1) for topic, body in messages]


def test_a_nul_publish_is_refused_alone(tmp_path: Path, store_url: str | None) -> None:
    async def scenario() -> None:
        async with running(tmp_path, store_url=store_url) as env:
            with env.platform.store.engine.connect() as conn:
                other_ds = conn.execute(
                    select(t.datastreams.c.id).where(t.datastreams.c.id != env.datastream)
                ).scalar_one()
            port = env.settings.mqtt.port
            mine, theirs = (
                f"v1.1/Datastreams({env.datastream})/Observations",
                f"v1.1/Datastreams({other_ds})/Observations",
            )
            device = await Peer(port, password=env.key).open()
            await device.subscribe(f"v1.1/errors/{device.client_id}")
            other = await Peer(port, password=env.other_key).open()

            def when(i: int) -> str:
                return f"2024-07-01T{i // 60:02d}:{i % 60:02d}:00Z"

            bad = [(mine, {"phenomenonTime": when(1000), "result": "a\x00b"})]
            gateway_body = [
                {
                    "Datastream": {"@iot.id": env.datastream},
                    "components": ["phenomenonTime", "result"],
                    "dataArray": [[when(1001), 1.0], [when(1002), {"k": "\x00"}], [when(1003), 3.0]],
                }
            ]
            sent = _burst(device, [(mine, {"phenomenonTime": when(i), "result": i}) for i in range(50)] + bad)
            sent += _burst(device, [("v1.1/CreateObservations", gateway_body)])
            sent += _burst(other, [(theirs, {"phenomenonTime": when(i), "result": i}) for i in range(100)])
            await until("every publish acknowledged", lambda: all(s.is_published() for s in sent), 30)
            with env.platform.store.engine.connect() as conn:
                rows = conn.execute(
                    select(t.observations.c.datastream_id, t.observations.c.result_number)
                ).all()
            assert sorted(r for d, r in rows if d == other_ds) == [float(i) for i in range(100)]
            assert sorted(r for d, r in rows if d == env.datastream) == sorted(
                [float(i) for i in range(50)] + [1.0, 3.0]
            )
            answers = await until(
                "the two refusals", lambda: len(device.received()) >= 2 and device.received()
            )
            assert any("NUL" in a["message"] for a in answers)
            assert any("NUL" in row["message"] for a in answers for row in a.get("rows", []))
            device.close()
            other.close()

    asyncio.run(scenario())
