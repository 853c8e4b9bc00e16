# SPDX-License-Identifier: Apache-2.0
"""What the running application writes to the audit log, and who may read it."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from safecity.app import Platform, build_platform, create_app
from safecity.audit.tables import audit_log
from safecity.auth.model import Role
from safecity.core.clock import ManualClock
from safecity.geo.importer import import_layer
from safecity.settings import Settings
from safecity.situation.incident_inputs import ManualIncidentIn
from tests.conftest import weather_station
from tests.geo.data import MOIS_DISTRICTS

#: someone's home and phone number: personal data
PERSON = {
    "kind": "person",
    "name": "김영희",
    "language": "ko",
    "audience": "elderly",
    "channels": [{"channel": "sms", "address": "010-1234-5678"}],
    "areas": [{"kind": "point", "lon": 126.9407, "lat": 37.5133}],
}
PASSWORDS = {"operator1": "operator-password", "admin1": "admin-password"}


class Ctx:
    def __init__(self, platform: Platform, client: TestClient) -> None:
        self.platform = platform
        self.client = client
        self.headers = {name: self._token(name) for name in PASSWORDS}

    def _token(self, name: str) -> dict[str, str]:
        r = self.client.post("/auth/token", data={"username": name, "password": PASSWORDS[name]})
        assert r.status_code == 200, r.text
        return {"Authorization": f"Bearer {r.json()['access_token']}"}

    def entries(self, **filters: Any) -> list[dict[str, Any]]:
        """Oldest first, straight from the log (not through /audit, which adds entries of its own).
        Alerts reach the log from the bus: what was committed is delivered first."""
        self.platform.bus.drain()
        self.platform.audit.flush()
        return [e.public() for e in reversed(self.platform.audit.search(limit=1000, **filters))]


def _ctx(settings: Settings) -> Iterator[Ctx]:
    platform = build_platform(settings, ManualClock(datetime(2026, 7, 15, 5, 0, tzinfo=UTC)))
    app = create_app(settings, platform, start_services=False)
    platform.auth.create_user("operator1", PASSWORDS["operator1"], {Role.operator})
    platform.auth.create_user("admin1", PASSWORDS["admin1"], {Role.admin})
    with TestClient(app) as client:
        yield Ctx(platform, client)
    platform.bus.stop()
    platform.store.close()


@pytest.fixture
def ctx(settings: Settings) -> Iterator[Ctx]:
    yield from _ctx(settings)


def test_every_write_is_recorded_with_who_what_where_and_status(ctx: Ctx) -> None:
    r = ctx.client.post("/sta/v1.1/Things", json=weather_station(), headers=ctx.headers["operator1"])
    assert r.status_code == 201
    ctx.client.post("/sta/v1.1/Things", json={"name": "x", "description": ""})  # anonymous: refused
    ctx.client.post("/sta/v1.1/Things", json={"name": "x"}, headers={"Authorization": "Bearer forged"})
    ctx.client.delete("/sta/v1.1/Things(999)", headers=ctx.headers["operator1"])
    ctx.client.get("/sta/v1.1/Things")  # a read of public data is not a write
    writes = [e for e in ctx.entries() if e["action"].startswith("http.")]
    assert [(e["action"], e["target"], e["actor"], e["actorKind"], e["outcome"]) for e in writes] == [
        ("http.POST", "/sta/v1.1/Things", "operator1", "user", "201"),
        ("http.POST", "/sta/v1.1/Things", "anonymous", "anonymous", "401"),
        ("http.POST", "/sta/v1.1/Things", "(invalid credentials)", "rejected", "401"),
        ("http.DELETE", "/sta/v1.1/Things(999)", "operator1", "user", "404"),
    ]
    assert writes[0]["client"] == "testclient"
    assert writes[0]["requestId"] == r.headers["x-request-id"]
    assert ctx.platform.audit.verify().intact


def test_logins_and_failed_logins_are_recorded_without_the_password(ctx: Ctx) -> None:
    r = ctx.client.post("/auth/token", data={"username": "operator1", "password": "not-the-password-xyz"})
    assert r.status_code == 401
    r = ctx.client.post("/auth/token", data={"username": "nobody", "password": "another-secret-xyz"})
    assert r.status_code == 401
    logins = ctx.entries(target_prefix="user:")
    assert [(e["action"], e["target"], e["actor"], e["outcome"]) for e in logins] == [
        ("auth.login", "user:operator1", "operator1", "200"),  # the fixture's logins
        ("auth.login", "user:admin1", "admin1", "200"),
        ("auth.login_failed", "user:operator1", "operator1", "401"),
        ("auth.login_failed", "user:nobody", "nobody", "401"),
    ]
    assert [e["actorKind"] for e in logins] == ["user", "user", "rejected", "rejected"]
    with ctx.platform.store.engine.connect() as conn:
        stored = " ".join(str(v) for row in conn.execute(select(audit_log)) for v in row)
    for secret in ("not-the-password-xyz", "another-secret-xyz", *PASSWORDS.values()):
        assert secret not in stored
    # the token request is not also recorded as a plain write
    assert ctx.entries(target_prefix="/auth/") == []


def test_an_admin_reading_or_changing_a_persons_subscription_is_recorded(ctx: Ctx) -> None:
    r = ctx.client.post("/subscriptions", json=PERSON, headers=ctx.headers["operator1"])
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    assert ctx.client.get(f"/subscriptions/{sid}", headers=ctx.headers["operator1"]).status_code == 403
    assert ctx.entries(action="personal.read") == []  # refused: nothing was read
    assert ctx.client.get(f"/subscriptions/{sid}", headers=ctx.headers["admin1"]).status_code == 200
    (read,) = ctx.entries(action="personal.read")
    assert (read["actor"], read["target"], read["details"]["kind"]) == (
        "admin1",
        f"subscription:{sid}",
        "person",
    )
    r = ctx.client.patch(f"/subscriptions/{sid}", json={"active": False}, headers=ctx.headers["admin1"])
    assert r.status_code == 200
    (change,) = ctx.entries(action="http.PATCH")
    assert change["actor"] == "admin1" and change["details"]["personal"] == f"subscription:{sid}"


def _incident(platform: Platform, level: int, district: str) -> int:
    body = ManualIncidentIn.model_validate(
        {
            "hazard": "heavy_rain",
            "level": level,
            "title_ko": "침수",
            "title_en": "Flooding",
            "districts": [district],
        }
    )
    incident = platform.incidents.open_manual(body, "operator1").id
    while platform.bus.pending():
        platform.bus.drain()
    return incident


@pytest.fixture
def alert_ctx(settings: Settings) -> Iterator[Ctx]:
    # evacuation orders are issued without an operator only where the city enables it
    for c in _ctx(settings.with_warning(auto_levels=[4], auto_evacuate=True)):
        import_layer(c.platform, MOIS_DISTRICTS, "districts")
        c.platform.warnings.start()
        yield c


def test_alerts_issued_and_cancelled_by_people_and_by_the_platform(alert_ctx: Ctx) -> None:
    ctx, ops = alert_ctx, alert_ctx.headers["operator1"]
    incident = _incident(ctx.platform, 3, "11590")
    (draft,) = ctx.client.get("/alerts", params={"state": "draft"}, headers=ops).json()["alerts"]
    assert ctx.client.post(f"/alerts/{draft['identifier']}/approve", headers=ops).status_code == 200
    ctx.platform.incidents.transition(incident, "dismissed", "operator1", reason="drain works, no flood")
    cancel = ctx.platform.warnings.draft_for(incident)
    assert cancel is not None and cancel.msg_type == "Cancel"
    assert ctx.client.post(f"/alerts/{cancel.identifier}/approve", headers=ops).status_code == 200
    _incident(ctx.platform, 4, "11680")  # level 4 is automatic: the platform issues it itself
    issued = ctx.client.get("/alerts", params={"state": "issued"}, headers=ops).json()["alerts"]
    (auto,) = [a for a in issued if a["auto"]]
    r = ctx.client.post(f"/alerts/{auto['identifier']}/cancel", json={"reason": "sensor fault"}, headers=ops)
    assert r.status_code == 200, r.text
    alerts = ctx.entries(target_prefix="alert:")
    assert [(e["action"], e["actor"], e["actorKind"]) for e in alerts] == [
        ("alert.issued", "operator1", "user"),
        ("alert.cancelled", "operator1", "user"),
        ("alert.issued", "system", "system"),
        ("alert.cancelled", "operator1", "user"),  # withdrawn by hand (POST /alerts/{id}/cancel)
    ]
    assert alerts[0]["target"] == f"alert:{draft['identifier']}"
    assert alerts[1]["details"]["msgType"] == "Cancel" and alerts[2]["details"]["auto"] is True


def test_only_admins_search_the_log_and_each_search_is_recorded(ctx: Ctx) -> None:
    ctx.client.post("/sta/v1.1/Things", json=weather_station(), headers=ctx.headers["operator1"])
    assert ctx.client.get("/audit").status_code == 401
    assert ctx.client.get("/audit", headers=ctx.headers["operator1"]).status_code == 403
    r = ctx.client.get(
        "/audit", params={"action": "http.POST", "target": "/sta/v1.1/"}, headers=ctx.headers["admin1"]
    )
    assert r.status_code == 200, r.text
    (entry,) = r.json()["entries"]
    assert (entry["actor"], entry["target"], entry["outcome"]) == ("operator1", "/sta/v1.1/Things", "201")
    assert len(entry["hash"]) == 64
    r = ctx.client.get("/audit", params={"limit": 2}, headers=ctx.headers["admin1"])
    first = r.json()
    assert len(first["entries"]) == 2
    r = ctx.client.get("/audit", params={"limit": 2, "before": first["next"]}, headers=ctx.headers["admin1"])
    assert r.json()["entries"][0]["seq"] == first["next"] - 1
    reads = ctx.entries(action="audit.read")
    assert len(reads) == 3 and reads[0]["actor"] == "admin1" and reads[0]["details"]["action"] == "http.POST"
    bad = ctx.client.get("/audit", params={"since": "yesterday"}, headers=ctx.headers["admin1"])
    assert bad.status_code == 400 and "since" in bad.json()["message"]
    naive = ctx.client.get("/audit", params={"since": "2026-01-01T00:00:00"}, headers=ctx.headers["admin1"])
    assert naive.status_code == 400


def test_device_observations_are_recorded_in_batches(ctx: Ctx) -> None:
    ops = ctx.headers["operator1"]
    thing = ctx.client.post("/sta/v1.1/Things", json=weather_station(), headers=ops).json()["@iot.id"]
    ds = ctx.client.get(f"/sta/v1.1/Things({thing})/Datastreams", headers=ops).json()["value"][0]["@iot.id"]
    key = ctx.platform.auth.create_api_key(thing)
    for minute in range(3):
        r = ctx.client.post(
            f"/sta/v1.1/Datastreams({ds})/Observations",
            json={"phenomenonTime": f"2026-07-15T05:0{minute}:00Z", "result": 1.0},
            headers={"X-API-Key": key},
        )
        assert r.status_code == 201, r.text
    device = ctx.entries(actor=f"thing:{thing}")  # entries() flushes the background writer first
    assert [(e["action"], e["actorKind"], e["outcome"]) for e in device] == [
        ("http.POST", "device", "201")
    ] * 3
    assert ctx.platform.audit.verify().intact


def test_a_nul_in_a_login_name_or_a_search_is_a_400(ctx: Ctx) -> None:
    r = ctx.client.post("/auth/token", data={"username": "op\x00x", "password": "whatever-password"})
    assert r.status_code == 401
    (failed,) = ctx.entries(action="auth.login_failed")
    assert failed["actor"] == "op\\x00x"
    for user, password in (("op\x00x", "whatever-password"), ("gauge", "sck_\x00")):
        basic = base64.b64encode(f"{user}:{password}".encode()).decode()
        r = ctx.client.post("/sta/v1.1/Things", json={}, headers={"Authorization": f"Basic {basic}"})
        assert r.status_code == 401, r.text
    r = ctx.client.get("/audit", params={"actor": "op\x00x"}, headers=ctx.headers["admin1"])
    assert r.status_code == 400 and r.json()["where"] == "actor"
