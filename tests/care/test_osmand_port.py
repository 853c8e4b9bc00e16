# SPDX-License-Identifier: Apache-2.0
"""Traccar Client's own port (SAFECITY_CARE__OSMAND_PORT; the app's default server URL is
http://<server>:5055): the OsmAnd protocol at the root path, as /tracking/osmand answers it, and
nothing else there. Real HTTP on both stores."""

from __future__ import annotations

import time
from datetime import timedelta

import httpx
import pytest

from safecity.settings import Settings
from tests.care.conftest import START, CareEnv
from tests.conftest import free_port

PORT = free_port()


@pytest.fixture
def settings(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("SAFECITY_CARE__OSMAND_PORT", str(PORT))
    return settings


def _wait_open(url: str) -> None:
    deadline = time.monotonic() + 20
    while True:
        try:
            httpx.get(url, timeout=2)
            return
        except httpx.TransportError:
            assert time.monotonic() < deadline, "the OsmAnd port did not open"
            time.sleep(0.05)


def test_traccar_client_on_its_own_port(care_env: CareEnv) -> None:
    env = care_env
    env.clock.set(START + timedelta(hours=1))
    pid = env.child()
    key = env.device(pid)
    url = f"http://127.0.0.1:{PORT}"
    _wait_open(url + "/")
    at = int((START + timedelta(minutes=5)).timestamp())
    # Traccar Client's request as its documentation gives it (query parameters; speed in knots)
    q = {"id": key, "timestamp": str(at), "lat": "37.5665", "lon": "126.9780", "speed": "1.2", "batt": "81"}
    assert httpx.get(url + "/", params=q).status_code == 200
    assert httpx.post(url + "/", data={**q, "timestamp": str(at + 30)}).status_code == 200
    positions = env.call("mom", "GET", f"/care/people/{pid}/positions").json()
    assert [p["battery"] for p in positions] == [81.0, 81.0]
    bad = httpx.get(url + "/", params={**q, "lat": "north"})
    assert bad.status_code == 400 and bad.json()["where"] == "lat"
    assert httpx.get(url + "/", params={**q, "id": "trk_nobody"}).status_code == 401
    # nothing but the protocol on that port
    assert httpx.get(url + "/care/people").status_code == 404
    assert httpx.get(url + "/docs").status_code == 404
