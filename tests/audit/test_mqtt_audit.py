# SPDX-License-Identifier: Apache-2.0
"""MQTT publishes are writes too: each ingest batch leaves one audit entry per publisher, naming the
device, its client id, the topics, how many messages and whether they were stored (real embedded
broker, real MQTT client)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from safecity.audit.model import AuditEntry
from tests.sensing.test_mqtt import Peer, running, until


def test_a_device_publish_is_audited(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running(tmp_path) as env:
            dev = await Peer(env.settings.mqtt.port, password=env.key).open()
            topic = f"v1.1/Datastreams({env.datastream})/Observations"
            for minute in range(3):
                await dev.publish(
                    topic, {"phenomenonTime": f"2024-07-01T09:0{minute}:00+09:00", "result": 12.5 + minute}
                )
            audit = env.platform.audit

            def entries() -> list[AuditEntry]:
                audit.flush()
                return audit.search(action="mqtt.PUBLISH")

            await until(
                "the publishes audited",
                lambda: sum(json.loads(e.details)["messages"] for e in entries()) == 3,
            )
            found = entries()
            for e in found:
                assert e.actor_kind == "device" and e.outcome == "stored"
                assert e.target == topic and e.client
            assert audit.verify().intact
            dev.close()

    asyncio.run(scenario())


def test_a_refused_publish_is_audited_as_refused(tmp_path: Path) -> None:
    """Issue 13: the audit said "stored" for publishes the server refused."""

    async def scenario() -> None:
        async with running(tmp_path) as env:
            anonymous = await Peer(env.settings.mqtt.port).open()
            other = await Peer(env.settings.mqtt.port, password=env.other_key).open()
            topic = f"v1.1/Datastreams({env.datastream})/Observations"
            await anonymous.publish(topic, {"result": 1})  # no credentials
            await other.publish(topic, {"result": 2})  # another Thing's stream
            await other.publish(topic, b"{broken")
            audit = env.platform.audit

            def entries() -> list[AuditEntry]:
                audit.flush()
                return audit.search(action="mqtt.PUBLISH")

            await until(
                "the publishes audited",
                lambda: sum(json.loads(e.details)["messages"] for e in entries()) == 3,
            )
            assert {(e.actor_kind, e.outcome) for e in entries()} == {
                ("anonymous", "refused"),
                ("device", "refused"),
            }
            assert env.count() == 0
            anonymous.close()
            other.close()

    asyncio.run(scenario())
