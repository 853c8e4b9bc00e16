# SPDX-License-Identifier: Apache-2.0
"""Roles (safecity.app.RoleRunner): a process builds only its roles' subscribers and workers; of two
processes with the same singleton roles one holds them and the other waits, and takes them over when
the holder goes. Two apps in one test process stand for two processes: each leadership is its own
PostgreSQL session (or its own open file on SQLite), exactly as between processes."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from safecity.app import create_app
from safecity.capability import SINGLETON_ROLES
from safecity.cli import app as cli_app
from safecity.settings import Settings

CORE = frozenset(SINGLETON_ROLES)


def _fast(settings: Settings) -> Settings:
    return settings.model_copy(update={"bus": settings.bus.model_copy(update={"leader_interval_s": 0.05})})


@contextmanager
def _process(settings: Settings, roles: frozenset[str]) -> Iterator[tuple[TestClient, Any]]:
    app = create_app(settings, roles=roles)
    with TestClient(app) as client:
        yield client, app.state.platform
    app.state.platform.store.close()


def _roles(client: TestClient) -> dict[str, str]:
    body: dict[str, Any] = client.get("/health").json()
    roles: dict[str, str] = body["roles"]
    return roles


def _subscribers(platform: Any) -> set[str]:
    return {s.name for s in platform.bus.subscribers()}


def test_an_ingest_process_builds_no_subscriber_and_no_role_worker(settings: Settings) -> None:
    with _process(_fast(settings), frozenset({"ingest"})) as (client, platform):
        assert _roles(client) == {"ingest": "held"}
        assert _subscribers(platform) == set()
        # OwnTracks positions are ingest; the clocks that decide alerts are not
        names = {w.name for w in platform.workers}
        assert "care.owntracks" in names and "care.fences" not in names
        assert not platform.bus.relay_enabled


def test_a_standby_takes_the_singleton_roles_over_when_the_holder_goes(settings: Settings) -> None:
    s = _fast(settings)
    with ExitStack() as holder:
        first, first_platform = holder.enter_context(_process(s, CORE))
        assert set(_roles(first).values()) == {"held"}
        held = _subscribers(first_platform)
        assert {"situation.rules", "audit.events", "warning.situation.IncidentOpened"} <= held
        with _process(s, CORE) as (second, second_platform):
            assert set(_roles(second).values()) == {"standby"}
            assert _subscribers(second_platform) == set()  # nothing of the roles runs in a standby
            holder.close()  # the holder stops: it gives its roles up
            deadline = time.monotonic() + 30
            while set(_roles(second).values()) != {"held"} and time.monotonic() < deadline:
                time.sleep(0.05)
            assert set(_roles(second).values()) == {"held"}
            assert _subscribers(second_platform) == held
            assert second_platform.bus.relay_enabled
            assert "situation-clock" in {w.name for w in second_platform.tasks if w.running}


def test_worker_refuses_an_unknown_role() -> None:
    done = CliRunner().invoke(cli_app, ["worker", "--role", "ingest,judge"])
    assert done.exit_code == 2
    assert "unknown role 'judge'" in done.output and "ingest, rules, incidents" in done.output
