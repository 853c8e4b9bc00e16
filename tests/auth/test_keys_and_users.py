# SPDX-License-Identifier: Apache-2.0
"""Device keys can be revoked, and a deleted or deactivated user's token stops (issue 13): at once in
the process that did it, within KEY_RECHECK_S in every other, over HTTP and MQTT, on both stores.

"Another process" is real: ``safecity apikey revoke`` runs as a command on the same store while the
server's platform keeps its caches; the server's cache clock is injected and moved past the recheck.
"""

from __future__ import annotations

import asyncio
import base64
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, update

from safecity.app import Platform, build_platform, create_app
from safecity.auth.model import Role
from safecity.auth.service import KEY_RECHECK_S
from safecity.auth.tables import users
from safecity.sensing.sta.model import ENTITIES
from safecity.settings import Settings
from tests.conftest import weather_station
from tests.sensing.test_mqtt import Peer, running, until


class Clock:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Ctx:
    settings: Settings
    platform: Platform
    client: TestClient
    clock: Clock
    datastream: int

    def token(self, user: str, password: str) -> dict[str, str]:
        r = self.client.post("/auth/token", data={"username": user, "password": password})
        assert r.status_code == 200, r.text
        return {"Authorization": f"Bearer {r.json()['access_token']}"}

    def post_observation(self, key: str) -> Any:
        return self.client.post(
            f"/sta/v1.1/Datastreams({self.datastream})/Observations",
            json={"result": 1.0},
            headers={"X-API-Key": key},
        )

    def command(self, *args: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "SAFECITY_DATA_DIR": str(self.settings.data_dir)}
        env.pop("SAFECITY_STORE_URL", None)
        if self.settings.store_url:
            env["SAFECITY_STORE_URL"] = self.settings.store_url
        return subprocess.run(
            [sys.executable, "-m", "safecity", *args], env=env, capture_output=True, text=True, timeout=120
        )


@pytest.fixture
def ctx(settings: Settings) -> Iterator[Ctx]:
    platform = build_platform(settings)
    clock = Clock()
    platform.auth.monotonic = clock
    thing = platform.sensing.write(lambda conn, w: w.create(conn, ENTITIES["Thing"], weather_station()))
    platform.auth.create_user("admin1", "admin-password", {Role.admin})
    platform.auth.create_user("operator1", "operator-password", {Role.operator})
    app = create_app(settings, platform, start_services=False)
    with TestClient(app) as client:
        ds = client.get(f"/sta/v1.1/Things({thing})/Datastreams").json()["value"][0]["@iot.id"]
        yield Ctx(settings, platform, client, clock, ds)


def test_a_key_revoked_by_the_command_stops_in_the_running_server(ctx: Ctx) -> None:
    key = ctx.platform.auth.create_api_key(1)
    assert ctx.post_observation(key).status_code == 201  # verified and cached by the server
    done = ctx.command("apikey", "revoke", key[:12])
    assert done.returncode == 0, done.stderr
    assert "revoked 1 key" in done.stderr
    ctx.clock.now += KEY_RECHECK_S
    refused = ctx.post_observation(key)
    assert refused.status_code == 401 and "revoked" in refused.json()["message"]
    again = ctx.command("apikey", "revoke", key)
    assert again.returncode == 1 and "no live key" in again.stderr
    assert ctx.command("apikey", "revoke").returncode == 2


def test_an_admin_revokes_a_key_over_http_at_once(ctx: Ctx) -> None:
    key = ctx.platform.auth.create_api_key(1)
    assert ctx.post_observation(key).status_code == 201
    operator = ctx.token("operator1", "operator-password")
    assert ctx.client.delete(f"/auth/keys/{key[:12]}", headers=operator).status_code == 403
    admin = ctx.token("admin1", "admin-password")
    r = ctx.client.delete(f"/auth/keys/{key[:12]}", headers=admin)
    assert r.status_code == 200 and r.json() == {"revoked": 1}
    assert ctx.post_observation(key).status_code == 401  # this process: no wait at all
    assert ctx.client.delete(f"/auth/keys/{key[:12]}", headers=admin).status_code == 404
    ctx.platform.audit.flush()
    assert any(e.action == "auth.key_revoked" for e in ctx.platform.audit.entries())


@pytest.mark.parametrize("how", ["deactivated", "deleted"])
def test_a_gone_users_token_stops(ctx: Ctx, how: str) -> None:
    operator = ctx.token("operator1", "operator-password")
    basic = {"Authorization": "Basic " + base64.b64encode(b"operator1:operator-password").decode()}
    assert ctx.client.get("/sta/v1.1/Things", headers=operator).status_code == 200
    assert ctx.client.get("/incidents", headers=basic).status_code == 200  # verified, then remembered
    with ctx.platform.store.write() as conn:  # as another process (an administrator's tool) would
        if how == "deleted":
            conn.execute(delete(users).where(users.c.username == "operator1"))
        else:
            conn.execute(update(users).where(users.c.username == "operator1").values(active=False))
    ctx.clock.now += KEY_RECHECK_S
    r = ctx.client.get("/incidents", headers=operator)
    assert r.status_code == 401 and "log in again" in r.json()["message"]
    assert ctx.client.get("/incidents", headers=basic).status_code == 401  # the remembered password too


def test_a_revoked_key_stops_a_live_mqtt_connection(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running(tmp_path) as env:
            clock = Clock()
            env.platform.auth.monotonic = clock
            topic = f"v1.1/Datastreams({env.datastream})/Observations"
            device = await Peer(env.settings.mqtt.port, password=env.key).open()
            await device.subscribe(f"v1.1/errors/{device.client_id}")
            await device.publish(topic, {"result": 1})
            await until("the first row", lambda: env.count() == 1)
            other = build_platform(env.settings)  # another process on the same store
            try:
                assert other.auth.revoke_api_keys(env.thing) == 1
            finally:
                other.bus.stop()
                other.store.close()
            clock.now += KEY_RECHECK_S
            await device.publish(topic, {"result": 2})
            (answer,) = await until("the refusal", lambda: device.received())
            assert answer["code"] == "unauthorized" and "revoked" in answer["message"]
            assert env.count() == 1
            device.close()

    asyncio.run(scenario())
