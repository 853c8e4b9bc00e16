# SPDX-License-Identifier: Apache-2.0
"""Who may call what on /sta: public reads, device keys for observations, operators for the rest."""

from __future__ import annotations

import base64

from tests.conftest import Api, weather_station


def _basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def test_anonymous_reads_but_cannot_write(api: Api) -> None:
    api.create("/Things", weather_station())
    assert api.client.get("/sta/v1.1/Things").status_code == 200
    r = api.client.post("/sta/v1.1/Things", json={"name": "x", "description": ""})
    assert r.status_code == 401 and "credentials" in r.json()["message"]
    assert api.client.delete("/sta/v1.1/Things(1)").status_code == 401


def test_device_key_posts_observations_only_to_its_thing(api: Api) -> None:
    t1 = api.create("/Things", weather_station("A"))
    t2 = api.create("/Things", weather_station("B"))
    d1 = api.get(f"/Things({t1})/Datastreams").json()["value"][0]["@iot.id"]
    d2 = api.get(f"/Things({t2})/Datastreams").json()["value"][0]["@iot.id"]
    key = api.platform.auth.create_api_key(t1)
    dev = {"X-API-Key": key}
    obs = {"phenomenonTime": "2026-11-25T00:00:00Z", "result": 1.5}
    assert (
        api.client.post(f"/sta/v1.1/Datastreams({d1})/Observations", json=obs, headers=dev).status_code == 201
    )
    r = api.client.post(f"/sta/v1.1/Datastreams({d2})/Observations", json=obs, headers=dev)
    assert r.status_code == 403 and f"Thing({t2})" in r.json()["message"]
    r = api.client.post("/sta/v1.1/Things", json={"name": "x", "description": ""}, headers=dev)
    assert r.status_code == 403
    r = api.client.post(
        "/sta/v1.1/CreateObservations",
        headers=dev,
        json=[
            {
                "Datastream": {"@iot.id": d2},
                "components": ["phenomenonTime", "result"],
                "dataArray": [["2026-11-25T00:00:00Z", 1]],
            }
        ],
    )
    assert r.json() == ["error"]
    assert api.client.patch(f"/sta/v1.1/Things({t1})", json={"name": "y"}, headers=dev).status_code == 403
    # FROST-style HTTP Basic with the key as password works the same.
    r = api.client.post(
        f"/sta/v1.1/Datastreams({d1})/Observations",
        json={**obs, "phenomenonTime": "2026-11-25T00:10:00Z"},
        headers=_basic("gauge", key),
    )
    assert r.status_code == 201
    # A revoked key stops working.
    api.platform.auth.revoke_api_keys(t1)
    assert (
        api.client.post(f"/sta/v1.1/Datastreams({d1})/Observations", json=obs, headers=dev).status_code == 401
    )


def test_basic_auth_for_users_and_bad_credentials(api: Api) -> None:
    r = api.client.post(
        "/sta/v1.1/Things",
        json={"name": "x", "description": ""},
        headers=_basic("operator1", "operator-password"),
    )
    assert r.status_code == 201
    r = api.client.post(
        "/sta/v1.1/Things",
        json={"name": "x", "description": ""},
        headers=_basic("operator1", "wrong-password"),
    )
    assert r.status_code == 401
    r = api.client.get("/sta/v1.1/Things", headers={"Authorization": "Bearer not-a-token"})
    assert r.status_code == 401
    r = api.client.post("/auth/token", data={"username": "operator1", "password": "nope"})
    assert r.status_code == 401


def test_every_route_declares_its_roles(api: Api) -> None:
    from fastapi.routing import APIRoute

    from safecity.auth.deps import app_routes, route_roles

    # app_routes, not app.routes: FastAPI 0.165 keeps each included router as one entry there, so
    # walking app.routes saw only /health and /metrics (tests/auth/test_route_matrix.py has the rest)
    routes = [r for r in app_routes(api.client.app) if isinstance(r.original_route, APIRoute)]
    assert any(r.path == "/sta/v1.1/{path:path}" for r in routes)
    missing = [r.path for r in routes if route_roles(r) is None]
    assert missing == []
