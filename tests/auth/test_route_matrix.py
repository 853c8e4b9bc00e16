# SPDX-License-Identifier: Apache-2.0
"""Every route × every role, over real HTTP: the declared roles are what the server enforces.

The routes come from the application itself, so a new endpoint is in the matrix the day it is added,
and one without ``dependencies=[allow(...)]`` fails :func:`test_every_route_declares_its_roles` by name.
Each route is called with path parameters that name nothing (id 999999, ``no-such-...``) and an empty
body, so a role that may pass gets a 400/404/409 instead of changing anything, and a role that may not
gets 401 (anonymous) or 403 (signed in). Authorisation does not depend on the store, so the matrix runs
on the embedded one.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import APIRouter
from fastapi.routing import APIRoute

from safecity.app import build_platform, create_app
from safecity.auth.deps import app_routes, route_roles
from safecity.auth.model import Principal, Role
from safecity.settings import MqttSettings, Settings
from tests.conftest import weather_station

#: Routes that are not API routes, public on purpose. Anything else that is not an APIRoute fails.
PUBLIC_BY_DESIGN = {
    "/openapi.json": "the API description: names routes and fields, holds no data",
    "/docs": "Swagger UI page rendering /openapi.json",
    "/docs/oauth2-redirect": "Swagger UI's OAuth2 helper page",
    "/redoc": "ReDoc page rendering /openapi.json",
}

#: Path parameters that name nothing, so an allowed call is a 404 and never a change.
PARAMS = {
    "path": "Things(999999)",
    "shelter_id": "999999",
    "zone_id": "999999",
    "closure_id": "999999",
    "incident_id": "999999",
    "subscription_id": "999999",
    "dead_letter_id": "999999",
    "key_prefix": "sck_no-such-key",
    "rule_id": "no-such-rule",
    "identifier": "no-such-alert",
    "collectionId": "no-such-collection",
    "featureId": "999999",
    "mapping_id": "999999",
    "name": "no-such-file.css",
    "call_id": "999999",
    "callsign": "no-such-unit",
    "hospital_code": "no-such-hospital",
    "person_id": "999999",
    "purpose": "location",
    "fence_id": "999999",
    "trip_id": "999999",
    "task_id": "999999",
}
PARAM = re.compile(r"\{([^}:]+)(?::[^}]+)?\}")


@dataclass(frozen=True)
class Caller:
    name: str
    principal: Principal  # what the guard will see, for the expected outcome
    headers: dict[str, str]


#: Allowed by the declaration, refused in the handler, on purpose (method, path, caller) -> (status, why).
REFINED = {
    **{
        (m, "/subscriptions/{subscription_id}", "anonymous"): (
            401,
            "declared public for the subscriber's X-Subscription-Token; without token or credentials "
            "the handler refuses before looking the id up",
        )
        for m in ("GET", "PATCH", "DELETE")
    },
    **{
        ("POST", "/auth/refresh", caller): (
            401,
            "declared public so any signed-in user can refresh; only a user's bearer token is refreshed "
            "(none from the anonymous caller, a device key is not one)",
        )
        for caller in ("anonymous", "device")
    },
    ("POST", "/sta/v1.1/{path:path}", "device"): (
        403,
        "declared device for POST .../Observations; a device may not create other entities (Things here)",
    ),
}


def _fill(path: str, method: str) -> str:
    if path.startswith("/static/vendor/"):
        return "/static/vendor/no-such-file.js"
    if path == "/sta/v1.1/{path:path}" and method == "POST":
        return "/sta/v1.1/Things"  # a create: an empty body is a 400 for whoever may create

    def value(m: re.Match[str]) -> str:
        name = m.group(1)
        assert name in PARAMS, f"{method} {path}: add a value naming nothing for '{name}' to PARAMS"
        return PARAMS[name]

    return PARAM.sub(value, path)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, list[Any], list[Caller]]]:
    from tests.conftest import free_port

    settings = Settings(
        data_dir=tmp_path_factory.mktemp("matrix"),
        mqtt=MqttSettings(enabled=False, port=free_port()),
        port=free_port(),
        # hundreds of anonymous calls in a second: not what the rate limit is tested with here
        rate_limit_per_s=100_000.0,
        rate_limit_burst=100_000,
        sse_max_per_client=1000,
    )
    platform = build_platform(settings)
    app = create_app(settings, platform)
    callers = [Caller("anonymous", Principal("anonymous", frozenset({Role.public})), {})]
    for role in (Role.operator, Role.dispatcher, Role.admin):
        platform.auth.create_user(f"matrix-{role}", "matrix-password", {role})
    config = uvicorn.Config(app, host="127.0.0.1", port=settings.port, log_level="warning", lifespan="on")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.02)
    url = f"http://127.0.0.1:{settings.port}"
    try:
        for role in (Role.operator, Role.dispatcher, Role.admin):
            r = httpx.post(
                url + "/auth/token", data={"username": f"matrix-{role}", "password": "matrix-password"}
            )
            assert r.status_code == 200, r.text
            callers.append(
                Caller(
                    role.value,
                    Principal(f"matrix-{role}", frozenset({role}), "user"),
                    {"Authorization": f"Bearer {r.json()['access_token']}"},
                )
            )
        ops = callers[1].headers
        thing = httpx.post(url + "/sta/v1.1/Things", json=weather_station(), headers=ops).json()["@iot.id"]
        key = platform.auth.create_api_key(thing)
        callers.insert(
            1,
            Caller(
                "device", Principal(f"thing:{thing}", frozenset({Role.device}), "device"), {"X-API-Key": key}
            ),
        )
        yield url, app_routes(app), callers
    finally:
        srv.should_exit = True
        thread.join(timeout=10)
        platform.bus.stop()
        platform.store.close()


def _status(client: httpx.Client, method: str, path: str, headers: dict[str, str]) -> int:
    body = None if method in ("GET", "DELETE") else b"{}"
    hdrs = {**headers, "Content-Type": "application/json"} if body is not None else headers
    # streamed, and closed after the status line: event streams (/alerts/stream) never end by themselves
    with client.stream(method, path, headers=hdrs, content=body) as r:
        return r.status_code


def _undeclared(routes: list[Any]) -> list[str]:
    """API routes without ``allow(...)``, and other routes (mounts, static files) without a reason."""
    api = [r for r in routes if isinstance(r.original_route, APIRoute)]
    missing = [
        f"{'/'.join(sorted(r.methods))} {r.path}: no allow(...)" for r in api if route_roles(r) is None
    ]
    others = sorted({r.path for r in routes if not isinstance(r.original_route, APIRoute)})
    return missing + [
        f"{p}: not an API route and not in PUBLIC_BY_DESIGN" for p in others if p not in PUBLIC_BY_DESIGN
    ]


def test_every_route_declares_its_roles(server: tuple[str, list[Any], list[Caller]]) -> None:
    _, routes, _ = server
    assert len(routes) > 50  # the walk sees the routers' routes, not only the app's own few
    assert _undeclared(routes) == []


def test_a_new_route_without_a_declaration_is_named(tmp_path: Path) -> None:
    from starlette.routing import Mount
    from starlette.staticfiles import StaticFiles

    from tests.conftest import free_port

    settings = Settings(
        data_dir=tmp_path, mqtt=MqttSettings(enabled=False, port=free_port()), port=free_port()
    )
    platform = build_platform(settings)
    try:
        app = create_app(settings, platform, start_services=False)
        router = APIRouter()
        router.add_api_route("/forgotten/{item_id}", lambda item_id: None, methods=["DELETE"])
        app.include_router(router)
        app.router.routes.append(Mount("/files", StaticFiles(directory=tmp_path)))
        assert _undeclared(app_routes(app)) == [
            "DELETE /forgotten/{item_id}: no allow(...)",
            "/files: not an API route and not in PUBLIC_BY_DESIGN",
        ]
    finally:
        platform.bus.stop()
        platform.store.close()


def test_public_by_design_routes_answer_anyone(server: tuple[str, list[Any], list[Caller]]) -> None:
    url, _, _ = server
    with httpx.Client(base_url=url, timeout=30) as client:
        for path in PUBLIC_BY_DESIGN:
            assert client.get(path).status_code == 200, path


def test_declared_roles_are_enforced_for_every_route_and_role(
    server: tuple[str, list[Any], list[Caller]],
) -> None:
    url, routes, callers = server
    violations: list[str] = []
    checked = 0
    with httpx.Client(base_url=url, timeout=30) as client:
        for route in routes:
            roles = route_roles(route)
            if roles is None or not isinstance(route.original_route, APIRoute):
                continue  # reported by test_every_route_declares_its_roles
            for method in sorted(route.methods - {"HEAD"}):
                path = route.path
                for caller in callers:
                    status = _status(client, method, _fill(path, method), caller.headers)
                    checked += 1
                    refined = REFINED.get((method, path, caller.name))
                    if refined is not None:
                        expected: str = str(refined[0])
                        ok = status == refined[0]
                    elif caller.principal.has_any(roles):
                        expected, ok = "not 401/403", status not in (401, 403)
                    else:
                        want = 403 if caller.principal.authenticated else 401
                        expected, ok = str(want), status == want
                    if not ok:
                        violations.append(
                            f"{method} {path} as {caller.name}: got {status}, expected {expected} "
                            f"(declared {sorted(r.value for r in roles)})"
                        )
    assert checked > 200
    assert violations == []


def test_subscriptions_declared_public_are_guarded_in_the_handler(
    server: tuple[str, list[Any], list[Caller]],
) -> None:
    """The matrix calls them with an id that does not exist; here, someone's real subscription."""
    url, _, callers = server
    by = {c.name: c.headers for c in callers}
    person = {
        "kind": "person",
        "name": "김영희",
        "language": "ko",
        "audience": "elderly",
        "channels": [{"channel": "sms", "address": "010-1234-5678"}],
        "areas": [{"kind": "point", "lon": 126.9407, "lat": 37.5133}],
    }
    with httpx.Client(base_url=url, timeout=30) as client:
        # only operators register people (an anonymous subscription is the citizen page's)
        assert client.post("/subscriptions", json=person).status_code == 401
        assert client.post("/subscriptions", json=person, headers=by["device"]).status_code == 403
        r = client.post("/subscriptions", json=person, headers=by["operator"])
        assert r.status_code == 201, r.text
        path = f"/subscriptions/{r.json()['id']}"
        expected = {"anonymous": 401, "device": 403, "operator": 403, "admin": 200}
        for name, status in expected.items():
            assert client.get(path, headers=by[name]).status_code == status, name
            r = client.patch(path, json={"active": True}, headers=by[name])
            assert r.status_code == status, (name, r.text)
        for name in ("anonymous", "device", "operator"):
            assert client.delete(path, headers=by[name]).status_code == expected[name], name
        assert client.delete(path, headers=by["admin"]).status_code == 204
