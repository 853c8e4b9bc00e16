# SPDX-License-Identifier: Apache-2.0
"""A running platform per store, seeded once per module, for the fuzz tests that go through the API.

Module scope because hypothesis calls a test body many times: a fresh platform per example would spend
the time budget on migrations instead of inputs.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from safecity.app import Platform, build_platform, create_app
from safecity.auth.model import Role
from safecity.settings import MqttSettings, Settings
from tests.conftest import _truncate_pg, free_port, weather_station

OPERATOR = ("fuzz-operator", "fuzz-operator-password")


@dataclass
class Stack:
    dialect: str
    platform: Platform
    client: TestClient
    headers: dict[str, str]

    def get(self, path: str, **kw: Any) -> Any:
        return self.client.get(path, headers=self.headers, **kw)


def open_stack(
    dialect: str, data_dir: Any, store_url: str | None
) -> tuple[Platform, TestClient, dict[str, str]]:
    cfg = Settings(
        data_dir=data_dir,
        store_url=store_url,
        mqtt=MqttSettings(enabled=False, port=free_port()),
        port=free_port(),
        # fuzzing sends hundreds of requests a second from one address; the limiter is tested elsewhere
        rate_limit_per_s=1e6,
        rate_limit_burst=1_000_000,
    )
    platform = build_platform(cfg)
    platform.auth.create_user(OPERATOR[0], OPERATOR[1], {Role.operator})
    client = TestClient(create_app(cfg, platform, start_services=False))
    client.__enter__()
    r = client.post("/auth/token", data={"username": OPERATOR[0], "password": OPERATOR[1]})
    assert r.status_code == 200, r.text
    return platform, client, {"Authorization": f"Bearer {r.json()['access_token']}"}


def seed_observations(client: TestClient, headers: dict[str, str]) -> None:
    """Two stations with numbers, a string and a null-ish spread of results and times."""
    for n, (lon, lat) in enumerate([(127.0473, 37.5172), (126.9780, 37.5665)]):
        body = weather_station(f"Station {n}", lon, lat)
        body["properties"]["rank"] = n
        r = client.post("/sta/v1.1/Things", json=body, headers=headers)
        assert r.status_code == 201, r.text
    streams = client.get("/sta/v1.1/Datastreams", headers=headers).json()["value"]
    rows: list[list[Any]] = []
    for i in range(12):
        result: Any = [0, 1.5, -2, 10, 0.25, 7, 3, "wet", 100, 2.5, -0.5, 42][i]
        rows.append([f"2026-11-{1 + i:02d}T0{i % 10}:15:00Z", result])
    batch = [
        {
            "Datastream": {"@iot.id": s["@iot.id"]},
            "components": ["phenomenonTime", "result"],
            "dataArray": rows,
        }
        for s in streams
    ]
    r = client.post("/sta/v1.1/CreateObservations", json=batch, headers=headers)
    assert r.status_code in (200, 201), r.text


@pytest.fixture(scope="module")
def stacks(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[dict[str, Stack]]:
    """The same seeded data on SQLite and on PostgreSQL."""
    pg = request.getfixturevalue("pg_url")
    _truncate_pg(pg)
    out: dict[str, Stack] = {}
    try:
        for dialect, url in (("sqlite", None), ("postgresql", pg)):
            platform, client, headers = open_stack(dialect, tmp_path_factory.mktemp(dialect), url)
            out[dialect] = Stack(dialect, platform, client, headers)
            seed_observations(client, headers)
        yield out
    finally:
        for s in out.values():
            s.client.__exit__(None, None, None)
            s.platform.bus.stop()
            s.platform.store.close()
