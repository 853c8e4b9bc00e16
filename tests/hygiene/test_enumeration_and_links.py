# SPDX-License-Identifier: Apache-2.0
"""Two low findings of issue 13 over HTTP: subscription ids cannot be enumerated with a made-up token,
and links come from the configured public URL, never from the client's Host header."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from fastapi.testclient import TestClient

from safecity.app import build_platform, create_app
from safecity.geo.importer import import_layer
from safecity.settings import MqttSettings, Settings
from safecity.warning import subscription_router
from safecity.warning.targeting import TargetIndex
from tests.conftest import free_port
from tests.geo.data import DONGS_2021, MOIS_DISTRICTS
from tests.warning.test_subscriptions import anonymous

PUBLIC = "https://safecity.example.kr"


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(
        data_dir=tmp_path,
        mqtt=MqttSettings(enabled=False, port=free_port()),
        port=free_port(),
        public_url=PUBLIC,
    )
    platform = build_platform(settings)
    import_layer(platform, MOIS_DISTRICTS, "districts")
    import_layer(platform, DONGS_2021, "dongs")
    app = create_app(settings, platform, start_services=False)
    app.include_router(subscription_router.router)
    with platform.store.engine.connect() as conn:
        app.state.warning_targets = TargetIndex.from_store(conn)
    with TestClient(app) as c:
        yield c
    platform.bus.stop()
    platform.store.close()


def test_a_made_up_token_cannot_tell_which_subscriptions_exist(client: TestClient) -> None:
    r = client.post("/subscriptions", json=anonymous())
    assert r.status_code == 201, r.text
    existing, missing = r.json()["id"], r.json()["id"] + 1000
    stranger = {"X-Subscription-Token": "sct_made-up"}
    for method in ("GET", "DELETE", "PATCH"):
        body = {"active": False} if method == "PATCH" else None
        answers = [
            client.request(method, f"/subscriptions/{sid}", headers=stranger, json=body)
            for sid in (existing, missing)
        ]
        assert [a.status_code for a in answers] == [404, 404], method
        shapes = [
            {k: v for k, v in a.json().items() if k not in ("request_id", "message", "message_ko")}
            for a in answers
        ]
        assert shapes[0] == shapes[1]
    assert (
        client.get(
            f"/subscriptions/{existing}", headers={"X-Subscription-Token": r.json()["token"]}
        ).status_code
        == 200
    )


def _links(value: object) -> list[str]:
    """Every link to this server's own API in a JSON answer."""
    text = orjson.dumps(value).decode()
    return [u for u in re.findall(r'https?://[^"]+', text) if "/ogcapi" in u or "/sta/v1.1" in u]


@pytest.mark.parametrize("path", ["/ogcapi", "/ogcapi/collections", "/sta/v1.1", "/sta/v1.1/Things"])
def test_links_come_from_the_public_url_not_the_host_header(client: TestClient, path: str) -> None:
    r = client.get(path, headers={"Host": "evil.example"})
    assert r.status_code == 200, r.text
    assert "evil.example" not in r.text
    links = _links(r.json())
    if path != "/sta/v1.1/Things":  # an empty collection has none
        assert links, "no links to check"
    assert all(link.startswith(PUBLIC) for link in links), links
