# SPDX-License-Identifier: Apache-2.0
"""``/subscriptions`` on both stores: anonymous self-service, operators' registrations, who sees what."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from structlog.testing import capture_logs

from safecity.app import Platform, create_app
from safecity.auth.deps import route_roles
from safecity.auth.model import Role
from safecity.geo.importer import import_layer
from safecity.settings import Settings
from safecity.warning import subscription_router
from safecity.warning.targeting import TargetIndex
from tests.geo.data import DONGS_2021, MOIS_DISTRICTS

DONGJAK = "11590"
NORYANGJIN = (126.9424, 37.5113)  # 노량진역, 동작구
GANGNAM = (127.0473, 37.5172)  # 강남구청


class Client:
    def __init__(self, client: TestClient, platform: Platform) -> None:
        self.client = client
        self.platform = platform
        self.as_operator = self._login("operator1", "operator-password", Role.operator)
        self.as_admin = self._login("admin1", "admin-password", Role.admin)

    def _login(self, name: str, password: str, role: Role) -> dict[str, str]:
        self.platform.auth.create_user(name, password, {role})
        r = self.client.post("/auth/token", data={"username": name, "password": password})
        assert r.status_code == 200, r.text
        return {"Authorization": f"Bearer {r.json()['access_token']}"}


@pytest.fixture
def api(settings: Settings, platform: Platform) -> Iterator[Client]:
    import_layer(platform, MOIS_DISTRICTS, "districts")
    import_layer(platform, DONGS_2021, "dongs")
    app = create_app(settings, platform, start_services=False)
    app.include_router(subscription_router.router)
    with platform.store.engine.connect() as conn:
        app.state.warning_targets = TargetIndex.from_store(conn)
    with TestClient(app) as client:
        yield Client(client, platform)


def anonymous(lon: float = NORYANGJIN[0], lat: float = NORYANGJIN[1], **kw: Any) -> dict[str, Any]:
    return {
        "kind": "anonymous",
        "language": "en",
        "audience": "foreigner",
        "channels": [{"channel": "sse"}],
        "areas": [{"kind": "point", "lon": lon, "lat": lat}],
        **kw,
    }


def person() -> dict[str, Any]:
    return {
        "kind": "person",
        "name": "김영희",
        "language": "ko",
        "audience": "elderly",
        "channels": [
            {"channel": "sms", "address": "010-1234-5678"},
            {"channel": "email", "address": "y@example.kr"},
        ],
        "areas": [
            {"kind": "point", "lon": NORYANGJIN[0], "lat": NORYANGJIN[1]},
            {"kind": "district", "code": "11680"},
            {"kind": "dong", "code": "1159051000"},
        ],
    }


def test_every_route_declares_roles() -> None:
    for route in subscription_router.router.routes:
        assert route_roles(route) is not None, route


def test_anonymous_subscription_is_managed_with_its_token(api: Client) -> None:
    r = api.client.post("/subscriptions", json=anonymous())
    assert r.status_code == 201, r.text
    body = r.json()
    sid, token = body["id"], body["token"]
    assert body["districts"] == [DONGJAK] and body["audience"] == "foreigner"
    head = {"X-Subscription-Token": token}
    r = api.client.get(f"/subscriptions/{sid}", headers=head)
    assert r.status_code == 200 and "token" not in r.json() and r.json()["areas"][0]["lon"] == NORYANGJIN[0]
    # Nobody else: not without credentials, not with a wrong token, not an operator.
    assert api.client.get(f"/subscriptions/{sid}").status_code == 401
    assert (
        api.client.get(f"/subscriptions/{sid}", headers={"X-Subscription-Token": "sct_x"}).status_code == 404
    )
    assert api.client.get(f"/subscriptions/{sid}", headers=api.as_operator).status_code == 403
    # Move it to 강남구 with the token; the target index follows at once.
    index: TargetIndex = api.client.app.state.warning_targets  # type: ignore[attr-defined]
    assert sid in index.recipients(None, [DONGJAK])
    r = api.client.patch(
        f"/subscriptions/{sid}",
        json={"areas": [{"kind": "point", "lon": GANGNAM[0], "lat": GANGNAM[1], "radius_m": 500}]},
        headers=head,
    )
    assert r.status_code == 200, r.text
    assert r.json()["districts"] == ["11680"]
    assert sid not in index.recipients(None, [DONGJAK]) and sid in index.recipients(None, ["11680"])
    assert api.client.delete(f"/subscriptions/{sid}", headers=head).status_code == 204
    assert api.client.get(f"/subscriptions/{sid}", headers=head).status_code == 404
    assert sid not in index.recipients(None, ["11680"])


def test_anonymous_rules(api: Client) -> None:
    cases = [
        (anonymous(channels=[{"channel": "email", "address": "a@b.kr"}]), "channels[0].channel"),
        (anonymous(areas=[{"kind": "district", "code": DONGJAK}]), "areas"),
        (
            anonymous(channels=[{"channel": "webhook", "address": "http://10.0.0.5/hook"}]),
            "channels[0].address",
        ),
        (
            anonymous(channels=[{"channel": "webhook", "address": "https://127.0.0.1/hook"}]),
            "channels[0].address",
        ),
        (anonymous(lon=NORYANGJIN[1], lat=NORYANGJIN[0]), "body/areas/0/point/lat"),  # swapped
        (anonymous(lon=129.0756, lat=35.1796), "areas[0]"),  # Busan
    ]
    for body, where in cases:
        r = api.client.post("/subscriptions", json=body)
        assert r.status_code == 400 and r.json()["where"] == where, r.text
    r = api.client.post("/subscriptions", json=anonymous(lon=129.0756, lat=35.1796))
    assert "outside every district" in r.json()["message"]
    ok = anonymous(
        channels=[{"channel": "webhook", "address": "https://example.org/hook", "secret": "s" * 32}]
    )
    r = api.client.post("/subscriptions", json=ok)
    assert r.status_code == 201, r.text
    assert r.json()["channels"] == [
        {"channel": "webhook", "address": "https://example.org/hook", "secret_set": True}
    ]


def test_person_subscriptions_need_an_operator_and_only_admins_read_them(api: Client) -> None:
    assert api.client.post("/subscriptions", json=person()).status_code == 401
    r = api.client.post("/subscriptions", json=person(), headers=api.as_operator)
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    assert r.json()["districts"] == ["11590", "11680"]
    assert r.json()["channels"][0]["address"] == "01012345678"
    assert api.client.get(f"/subscriptions/{sid}", headers=api.as_operator).status_code == 403
    with capture_logs() as logs:
        r = api.client.get(f"/subscriptions/{sid}", headers=api.as_admin)
    assert r.status_code == 200 and r.json()["name"] == "김영희"
    audit = [e for e in logs if e.get("audit")]
    assert audit == [
        {
            "event": "subscription accessed",
            "audit": True,
            "actor": "admin1",
            "action": "read",
            "subscription_id": sid,
            "kind": "person",
            "log_level": "info",
        }
    ]
    with capture_logs() as logs:
        r = api.client.patch(f"/subscriptions/{sid}", json={"active": False}, headers=api.as_admin)
    assert r.status_code == 200 and r.json()["active"] is False
    assert [e["action"] for e in logs if e.get("audit")] == ["update"]


def test_system_subscriptions_are_readable_by_operators(api: Client) -> None:
    body = {
        "kind": "system",
        "name": "노량진초등학교 방송실",
        "channels": [{"channel": "webhook", "address": "http://pa.school.local/alert"}],
        "areas": [
            {
                "kind": "polygon",
                "coordinates": [[[126.93, 37.50], [126.95, 37.50], [126.95, 37.52], [126.93, 37.50]]],
            }
        ],
    }
    r = api.client.post("/subscriptions", json=body, headers=api.as_operator)
    assert r.status_code == 201, r.text
    assert DONGJAK in r.json()["districts"]
    r = api.client.get(f"/subscriptions/{r.json()['id']}", headers=api.as_operator)
    assert r.status_code == 200 and r.json()["kind"] == "system"


@pytest.mark.parametrize(
    ("area", "where", "message"),
    [
        ({"kind": "district", "code": "11999"}, "areas[1].code", "areas[1].code: unknown district 11999"),
        ({"kind": "dong", "code": "1159099999"}, "areas[1].code", "unknown dong 1159099999"),
        ({"kind": "district", "code": "1159"}, "body/areas/1/district/code", "pattern"),
        (
            {
                "kind": "polygon",
                "coordinates": [[[126.9, 37.5], [127.0, 37.6], [127.0, 37.5], [126.9, 37.6], [126.9, 37.5]]],
            },
            "areas[1].coordinates",
            "invalid geometry",
        ),
        ({"kind": "point", "lon": 126.9, "lat": 37.5, "radius_m": 900000}, "body/areas/1/point/radius_m", ""),
        ({"kind": "circle", "lon": 126.9}, "body/areas/1", ""),
    ],
)
def test_validation_names_the_field(api: Client, area: dict[str, Any], where: str, message: str) -> None:
    body = person()
    body["areas"] = [body["areas"][1], area]
    r = api.client.post("/subscriptions", json=body, headers=api.as_operator)
    assert r.status_code == 400, r.text
    assert r.json()["where"] == where and message in r.json()["message"], r.json()


def test_stats_show_counts_not_locations(api: Client) -> None:
    for _ in range(3):
        assert api.client.post("/subscriptions", json=anonymous()).status_code == 201
    assert api.client.post("/subscriptions", json=anonymous(*GANGNAM, language="zh-CN")).status_code == 201
    assert api.client.post("/subscriptions", json=person(), headers=api.as_operator).status_code == 201
    assert api.client.get("/subscriptions/stats").status_code == 401
    r = api.client.get("/subscriptions/stats", headers=api.as_operator)
    assert r.status_code == 200, r.text
    s = r.json()
    assert (s["total"], s["active"]) == (5, 5)
    assert s["by_kind"] == {"anonymous": 4, "person": 1}
    assert s["by_district"] == {"11590": 4, "11680": 2}
    assert s["by_channel"] == {"email": 1, "sms": 1, "sse": 4}
    assert s["by_language"] == {"en": 3, "ko": 1, "zh-CN": 1}
    assert "126.94" not in r.text and "김영희" not in r.text
