# SPDX-License-Identifier: Apache-2.0
"""The capability contract (safecity.capability), proved by a capability that lives only in
tests/capability/logbook: enabled by a setting, it is served, migrated, configured, subscribed and
commanded with no edit anywhere else, on both stores."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import inspect

from safecity.app import Platform, build_platform, create_app
from safecity.auth.model import Role
from safecity.capability import BUILT_IN, BoardPart, CapabilityError, Services, load, migration_folders
from safecity.settings import Settings
from safecity.situation.incident_inputs import ManualIncidentIn
from safecity.store.migrate import downgrade
from tests.capability.logbook import Logbook, LogbookSettings

ROOT = Path(__file__).resolve().parents[2]
MODULE = "tests.capability.logbook"


@pytest.fixture
def logbook_settings(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("SAFECITY_LOGBOOK__SHIFT_NAME", "night")
    return settings.model_copy(update={"capabilities": [MODULE]})


@pytest.fixture
def logbook_platform(logbook_settings: Settings) -> Iterator[Platform]:
    p = build_platform(logbook_settings)
    yield p
    p.bus.stop()
    # the session's PostgreSQL database is shared with later tests, which do not know this branch
    downgrade(p.store.engine, "logbook@base", migration_folders(p.capabilities))
    assert "logbook_entries" not in inspect(p.store.engine).get_table_names()
    p.store.close()


def test_migrated_configured_and_registered(logbook_platform: Platform) -> None:
    # the built-in ones that declare themselves, then the city's own
    names = [c.name for c in logbook_platform.capabilities]
    assert names == [*(load(module).name for module in BUILT_IN), "logbook"]
    assert {"geo", "evacuation", "quake", "flood", "dispatch"} <= set(names)
    assert "logbook_entries" in inspect(logbook_platform.store.engine).get_table_names()
    logbook = logbook_platform.services.get(Logbook)
    assert logbook.settings == LogbookSettings(shift_name="night")  # from SAFECITY_LOGBOOK__SHIFT_NAME


def test_served_with_its_own_routes_and_roles(logbook_settings: Settings, logbook_platform: Platform) -> None:
    app = create_app(logbook_settings, logbook_platform, start_services=False)
    logbook_platform.auth.create_user("op", "operator-password", {Role.operator})
    with TestClient(app) as client:
        assert client.get("/logbook").status_code == 401  # the route declared who may call it
        token = client.post("/auth/token", data={"username": "op", "password": "operator-password"})
        headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        r = client.post("/logbook", json={"text": "shift handed over"}, headers=headers)
        assert r.status_code == 201, r.text
        assert r.json()["author"] == "op" and r.json()["shift"] == "night"
        bad = client.post("/logbook", json={"text": " "}, headers=headers)
        assert bad.status_code == 400 and bad.json()["where"] == "text"
        assert [e["text"] for e in client.get("/logbook", headers=headers).json()] == ["shift handed over"]
        assert "/logbook" in client.get("/openapi.json").json()["paths"]
        # its part of the situation board, beside the warning capability's
        board = client.get("/situation", headers=headers).json()
        assert board["logbook"] == {"shift": "night", "entries": 1}
        assert board["alertDrafts"] == [] and board["externalAlerts"] == []


def _empty_part(key: str, services: Services) -> dict[str, Any]:
    return {key: []}


def test_a_board_part_may_not_take_a_key_of_the_board_or_of_another_capability(
    logbook_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tests.capability.logbook as logbook_module

    declared = logbook_module.setup()
    for key, owner in (("incidents", "situation"), ("alertDrafts", "warning")):
        # no migrations: start-up stops before anything is built (the session's database stays as it was)
        board = (BoardPart((key,), partial(_empty_part, key)),)
        taken = replace(declared, board=board, migrations=None, tables=())
        monkeypatch.setattr(logbook_module, "setup", lambda taken=taken: taken)
        with pytest.raises(
            CapabilityError, match=f"'logbook' declares the board key '{key}', which '{owner}'"
        ):
            build_platform(logbook_settings)


def test_workers_start_and_stop_with_the_app(logbook_settings: Settings, logbook_platform: Platform) -> None:
    app = create_app(logbook_settings, logbook_platform)
    # the logbook's worker among the built-in capabilities' own
    (worker,) = [w for w in logbook_platform.workers if w.name == "logbook.shift"]
    with TestClient(app) as client:
        assert worker.wait_idle(timeout=30)
        shift = client.get("/health").json()["tasks"]["logbook.shift"]
        assert shift["running"] and shift["items"] == 1 and shift["failures"] == 0
        assert [e.text for e in logbook_platform.services.get(Logbook).entries()] == ["shift night opened"]
    assert not worker.health().running


def test_subscribed_to_other_capabilities_events(logbook_platform: Platform) -> None:
    incident = logbook_platform.incidents.open_manual(
        ManualIncidentIn(hazard="fire", level=2, title_ko="화재", title_en="Fire", districts=["11590"]), "op"
    )
    logbook_platform.bus.drain()
    entries = logbook_platform.services.get(Logbook).entries()
    assert [(e.incident_id, e.author) for e in entries] == [(incident.id, "system")]


def test_a_bad_setting_says_which_and_where(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAFECITY_LOGBOOK__MAX_ENTRY_CHARS", "3")
    with pytest.raises(CapabilityError, match=r"logbook.*max_entry_chars.*SAFECITY_LOGBOOK__MAX_ENTRY_CHARS"):
        build_platform(settings.model_copy(update={"capabilities": [MODULE]}))


def test_an_unknown_module_is_a_clear_error(settings: Settings) -> None:
    with pytest.raises(CapabilityError, match=r"cannot be imported.*SAFECITY_CAPABILITIES"):
        build_platform(settings.model_copy(update={"capabilities": ["tests.capability.nothing_here"]}))


def test_commanded_through_the_safecity_command(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)]),
        "SAFECITY_DATA_DIR": str(tmp_path),
        "SAFECITY_CAPABILITIES": f'["{MODULE}"]',
        "SAFECITY_LOGBOOK__SHIFT_NAME": "evening",
    }
    env.pop("SAFECITY_STORE_URL", None)
    run = [sys.executable, "-m", "safecity"]
    migrated = subprocess.run([*run, "migrate"], env=env, capture_output=True, text=True, timeout=120)
    assert migrated.returncode == 0, migrated.stderr
    listed = subprocess.run([*run, "logbook", "list"], env=env, capture_output=True, text=True, timeout=120)
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout == ""  # migrated, empty
    helped = subprocess.run([*run, "--help"], env=env, capture_output=True, text=True, timeout=120)
    assert "logbook" in helped.stdout
