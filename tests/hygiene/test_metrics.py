# SPDX-License-Identifier: Apache-2.0
"""The operations metrics appear on /metrics and move with what the platform does: ingest by transport,
rule evaluation time, outbox depth, failed deliveries, stale sensors. On both stores."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from safecity.app import Platform, build_platform, create_app
from safecity.auth.model import Role
from safecity.core.clock import ManualClock
from safecity.geo.importer import import_layer
from safecity.settings import Settings
from tests.conftest import free_port, weather_station
from tests.geo.data import MOIS_DISTRICTS
from tests.situation.test_heavy_rain import DONGJAK, GAUGES, START


def scrape(client: TestClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    r = client.get("/metrics")
    assert r.status_code == 200
    out = {}
    for family in text_string_to_metric_families(r.text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(m: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    return m.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture
def city(settings: Settings) -> Iterator[tuple[Platform, TestClient, dict[str, str], ManualClock]]:
    clock = ManualClock(START)
    # the district office's (down) receiver is on this machine: an allowed internal network
    settings = settings.model_copy(update={"webhook_allow_networks": ["127.0.0.0/8"]})
    platform = build_platform(settings, clock)
    import_layer(platform, MOIS_DISTRICTS, "districts")
    platform.auth.create_user("duty-officer", "duty-officer-password", {Role.operator})
    platform.situation.start(ticker=False)
    platform.warnings.start()
    app = create_app(settings, platform, start_services=False)
    try:
        with TestClient(app) as client:
            r = client.post(
                "/auth/token", data={"username": "duty-officer", "password": "duty-officer-password"}
            )
            yield platform, client, {"Authorization": f"Bearer {r.json()['access_token']}"}, clock
    finally:
        platform.situation.stop()
        platform.bus.stop()
        platform.store.close()


def test_operations_metrics_move(city: Any) -> None:
    platform, client, headers, clock = city
    # a district office whose webhook is down: its deliveries fail
    r = client.post(
        "/subscriptions",
        json={
            "kind": "system",
            "name": "Dongjak-gu office",
            "language": "en",
            "channels": [{"channel": "webhook", "address": f"http://127.0.0.1:{free_port()}/down"}],
            "areas": [{"kind": "district", "code": "11590"}],
        },
        headers=headers,
    )
    assert r.status_code == 201, r.text
    streams = []
    for name, lon, lat, _code, _ in GAUGES:
        tid = client.post("/sta/v1.1/Things", json=weather_station(name, lon, lat), headers=headers).json()[
            "@iot.id"
        ]
        streams.append(
            client.get(f"/sta/v1.1/Things({tid})/Datastreams", headers=headers).json()["value"][0]["@iot.id"]
        )
    while platform.bus.pending():
        platform.bus.drain()
    text = client.get("/metrics").text
    for name in (
        "safecity_observations_accepted",
        "safecity_rule_batch_seconds",
        "safecity_outbox_pending",
        "safecity_alert_deliveries",
        "safecity_sensors_stale",
    ):
        assert f"# HELP {name}" in text, name
    m0 = scrape(client)
    assert value(m0, "safecity_outbox_pending") == 0
    assert value(m0, "safecity_rule_batch_seconds_count") == 0

    drafts: list[dict[str, Any]] = []
    for i, v in enumerate(DONGJAK[:12]):  # to 19:00: Dongjak's advisory drafts an alert
        when = START + timedelta(minutes=10 * (i + 1))
        clock.set(when)
        body = [
            {
                "Datastream": {"@iot.id": ds},
                "components": ["phenomenonTime", "result"],
                "dataArray": [[when.isoformat(), v * f]],
            }
            for ds, (*_, f) in zip(streams, GAUGES, strict=True)
        ]
        assert client.post("/sta/v1.1/CreateObservations", json=body, headers=headers).status_code == 201
        if i == 0:
            m1 = scrape(client)
            # three observations over HTTP, their event waiting in the outbox for the rules
            assert value(m1, "safecity_observations_accepted_total", transport="http") == 3
            assert value(m1, "safecity_outbox_pending") >= 1
        while platform.bus.pending():
            platform.bus.drain()
        platform.situation.tick(when)
        while platform.bus.pending():
            platform.bus.drain()
        drafts += client.get("/alerts", params={"state": "draft"}, headers=headers).json()["alerts"]
    m2 = scrape(client)
    assert value(m2, "safecity_observations_accepted_total", transport="http") == 36
    assert value(m2, "safecity_outbox_pending") == 0
    assert value(m2, "safecity_rule_batch_seconds_count") >= 12
    assert value(m2, "safecity_rule_batch_seconds_sum") > 0

    assert drafts, "the storm drafted no alert"
    r = client.post(f"/alerts/{drafts[0]['identifier']}/approve", headers=headers)
    assert r.status_code == 200, r.text
    while platform.delivery.run_once(clock.now()):
        pass
    m3 = scrape(client)
    failing = value(m3, "safecity_alert_deliveries", channel="webhook", status="retrying") + value(
        m3, "safecity_alert_deliveries", channel="webhook", status="failed"
    )
    assert failing >= 1, {k: v for k, v in m3.items() if "deliveries" in k[0]}

    assert value(m3, "safecity_sensors_stale") == 0
    clock.set(clock.now() + timedelta(hours=2))  # the gauges report every 10 min: now they are silent
    assert value(scrape(client), "safecity_sensors_stale") == 3


def test_observations_over_mqtt_are_counted_as_mqtt(tmp_path: Path) -> None:
    from tests.sensing.test_mqtt import Peer, running, until

    async def scenario() -> None:
        async with running(tmp_path) as env:
            dev = await Peer(env.settings.mqtt.port, password=env.key).open()
            await dev.publish(
                f"v1.1/Datastreams({env.datastream})/Observations",
                {"phenomenonTime": "2024-07-01T09:00:00+09:00", "result": 12.5},
            )
            registry = env.platform.metrics.registry
            await until(
                "the MQTT observation counted",
                lambda: (
                    registry.get_sample_value("safecity_observations_accepted_total", {"transport": "mqtt"})
                    == 1.0
                ),
            )
            assert (
                registry.get_sample_value("safecity_observations_accepted_total", {"transport": "http"})
                is None
            )
            dev.close()

    asyncio.run(scenario())
