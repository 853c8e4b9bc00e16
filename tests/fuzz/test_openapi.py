# SPDX-License-Identifier: Apache-2.0
"""schemathesis over the application's whole OpenAPI: no operation answers 5xx, anonymous or administrator.

Every operation in the schema is called with schema-conforming (positive) and schema-violating (negative)
requests, a few of each, derandomized so a CI failure reproduces locally. The only excluded operations are
listed in :data:`EXCLUDED` with their reason.

The check is ``not_a_server_error``. Response-schema conformance is not checked: the routes declare
only their success responses, so every documented 4xx would count as a violation.

schemathesis' own pytest integration (``from_fixture``) does not run under pytest 9, so the operations are
driven through its Python API (``APIOperation.as_strategy``) with hypothesis directly.
"""

from __future__ import annotations

import time
import traceback
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.python import asgi as st_asgi

from safecity.app import build_platform, create_app
from safecity.auth.model import Role
from safecity.geo.roads.graph import graph_path
from safecity.settings import Settings
from tests.conftest import _truncate_pg, free_port, weather_station
from tests.geo.roads.osm_data import gongdeok

ADMIN = ("fuzz-admin", "fuzz-admin-password")
# Examples per operation, per generation mode, per identity. PostgreSQL gets a short pass: the handlers
# are the same, only the SQL differs, and the whole file must stay under ~90 s on two shared cores.
EXAMPLES = {"sqlite": 6, "postgresql": 2}

# Operations not fuzzed, each with its reason; every other operation in the schema is.
EXCLUDED = {
    ("GET", "/situation/stream"): "SSE never ends, a call would hang; tests/situation covers it",
    ("GET", "/alerts/stream"): "SSE never ends, a call would hang; tests/test_ops_page.py covers it",
}


@dataclass
class Target:
    schema: Any
    admin_headers: dict[str, str]
    examples: int


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def target(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    store_url = None
    if request.param == "postgresql":
        store_url = request.getfixturevalue("pg_url")
        _truncate_pg(store_url)
    cfg = Settings(
        data_dir=tmp_path_factory.mktemp("fuzz"),
        store_url=store_url,
        mqtt_enabled=False,
        port=free_port(),
        mqtt_port=free_port(),
        # The anonymous limiter would answer 429 to most calls and hide the handlers from the fuzzer;
        # the limiter has its own tests.
        rate_limit_per_s=1e6,
        rate_limit_burst=1_000_000,
    )
    # A real road network (the Gongdeok OSM extract), as a deployment has: without one, the routing and
    # dispatch handlers stop at their "import roads first" 503 and the fuzzer never reaches them.
    gongdeok().save(graph_path(cfg.data_dir))
    platform = build_platform(cfg)
    platform.auth.create_user(ADMIN[0], ADMIN[1], {Role.admin})
    app = create_app(cfg, platform, start_services=False)
    with TestClient(app) as client:
        token = client.post("/auth/token", data={"username": ADMIN[0], "password": ADMIN[1]})
        assert token.status_code == 200, token.text
        headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        # Something to find: ids 1.. exist, so generated small ids reach the handlers' real paths.
        r = client.post("/sta/v1.1/Things", json=weather_station(), headers=headers)
        assert r.status_code == 201, r.text
        incident = {"hazard": "heavy_rain", "level": 2, "title_ko": "호우", "districts": ["11590"]}
        r = client.post("/incidents", json=incident, headers=headers)
        assert r.status_code == 201, r.text
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    try:
        yield Target(schema, headers, EXAMPLES[request.param])
    finally:
        st_asgi.shutdown_lifespans()
        platform.bus.stop()
        platform.store.close()


def _fuzz(target: Target, headers: dict[str, str]) -> tuple[int, Counter[int], list[str]]:
    """Run every operation; return (operations, calls per status code, failures)."""
    failures: list[str] = []
    statuses: Counter[int] = Counter()
    operations = 0
    for result in target.schema.get_all_operations():
        operation = result.ok()
        key = (operation.method.upper(), operation.path)
        if key in EXCLUDED:
            continue
        operations += 1
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=target.examples,
                deadline=None,
                derandomize=True,
                database=None,
                phases=[Phase.explicit, Phase.generate, Phase.shrink],
                suppress_health_check=list(HealthCheck),
            )
            def run(case: schemathesis.Case) -> None:  # type: ignore[type-arg]
                response = case.call(headers=headers)
                statuses[response.status_code] += 1
                case.validate_response(response, checks=[not_a_server_error], headers=headers)

            try:
                run()
            except Unsatisfiable:
                pass  # nothing in the schema to violate (no parameters, or free-form ones)
            except Exception as e:  # noqa: BLE001 - every failure is collected and reported together
                where = traceback.extract_tb(e.__traceback__)[-1]
                failures.append(
                    f"{key[0]} {key[1]} [{mode.value}]: {type(e).__name__}: {e} "
                    f"(raised at {where.filename}:{where.lineno})"
                )
    return operations, statuses, failures


@pytest.mark.parametrize("identity", ["anonymous", "admin"])
def test_no_server_error(target: Target, identity: str) -> None:
    headers = target.admin_headers if identity == "admin" else {}
    start = time.monotonic()
    operations, statuses, failures = _fuzz(target, headers)
    print(
        f"\n{identity}: {operations} operations, {statuses.total()} calls in "
        f"{time.monotonic() - start:.1f} s, by status {dict(sorted(statuses.items()))}"
    )
    assert not failures, "\n\n".join(failures)


def test_a_control_character_in_the_feed_district_is_a_400(target: Target) -> None:
    """Found by the run above: ?district=\\x00 reached the Atom XML and lxml raised ValueError (a 500)."""
    client = TestClient(target.schema.app)
    r = client.get("/alerts/feed.atom", params={"district": "\x00"})
    assert r.status_code == 400 and r.json()["where"] == "query/district", r.text
    assert client.get("/alerts/feed.atom", params={"district": "11590"}).status_code == 200
