# SPDX-License-Identifier: Apache-2.0
"""A platform with a dispatcher, an administrator and a few stations and units (real HTTP client,
real store on each adapter)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from safecity.app import Platform, create_app
from safecity.auth.model import Role
from safecity.settings import Settings

# Two stations in Mapo-gu (Gongdeok, near the shared OSM extract) and one in Yongsan-gu
STATIONS = [
    {
        "code": "mapo-1",
        "name_ko": "공덕119안전센터",
        "name_en": "Gongdeok 119 centre",
        "district": "11440",
        "lon": 126.9515,
        "lat": 37.5445,
    },
    {
        "code": "mapo-2",
        "name_ko": "아현119안전센터",
        "name_en": "Ahyeon 119 centre",
        "district": "11440",
        "lon": 126.9560,
        "lat": 37.5500,
    },
    {
        "code": "yongsan-1",
        "name_ko": "청파119안전센터",
        "name_en": "Cheongpa 119 centre",
        "district": "11170",
        "lon": 126.9650,
        "lat": 37.5460,
    },
]
UNITS = [
    {"callsign": "공덕구급1", "type": "ambulance", "station": "mapo-1", "crew": 3},
    {"callsign": "공덕펌프1", "type": "pumper", "station": "mapo-1", "crew": 4},
    {"callsign": "아현구급1", "type": "ambulance", "station": "mapo-2", "crew": 3},
    {"callsign": "아현펌프1", "type": "pumper", "station": "mapo-2", "crew": 4},
    {"callsign": "청파구급1", "type": "ambulance", "station": "yongsan-1", "crew": 3},
    {"callsign": "청파사다리1", "type": "ladder", "station": "yongsan-1", "crew": 3},
    {"callsign": "청파구조1", "type": "rescue", "station": "yongsan-1", "crew": 5},
]


@dataclass
class Desk:
    client: TestClient
    platform: Platform
    dispatcher: dict[str, str]
    admin: dict[str, str]
    operator: dict[str, str]

    def get(self, path: str, **kw: Any) -> Any:
        return self.client.get(path, headers=self.dispatcher, **kw)

    def post(self, path: str, body: Any = None, **kw: Any) -> Any:
        return self.client.post(path, json=body, headers=self.dispatcher, **kw)


def _token(client: TestClient, name: str) -> dict[str, str]:
    r = client.post("/auth/token", data={"username": name, "password": f"{name}-password"})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


@pytest.fixture
def desk(settings: Settings, platform: Platform) -> Iterator[Desk]:
    app = create_app(settings, platform, start_services=False)
    for name, role in (("disp", Role.dispatcher), ("boss", Role.admin), ("op", Role.operator)):
        platform.auth.create_user(name, f"{name}-password", {role})
    with TestClient(app) as client:
        d = Desk(client, platform, _token(client, "disp"), _token(client, "boss"), _token(client, "op"))
        for s in STATIONS:
            assert client.post("/dispatch/stations", json=s, headers=d.admin).status_code == 201
        for u in UNITS:
            r = client.post("/dispatch/units", json=u, headers=d.admin)
            assert r.status_code == 201, r.text
        yield d
