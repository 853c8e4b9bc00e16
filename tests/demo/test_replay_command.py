# SPDX-License-Identifier: Apache-2.0
"""``safecity replay`` plays a scenario against a running platform over its public API only."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from safecity.auth.model import Role
from safecity.cli import app
from tests.conftest import LiveServer


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_replay_a_scenario_against_a_running_platform(live_server: LiveServer) -> None:
    platform = live_server.platform
    platform.auth.create_user("night-shift", "night-shift-password", {Role.operator})
    result = CliRunner().invoke(
        app,
        ["replay", "--url", live_server.url, "--scenario", "fire", "--user", "night-shift", "--speed", "0"],
        env={"SAFECITY_REPLAY_PASSWORD": "night-shift-password"},
    )
    assert result.exit_code == 0, result.output
    # the fire scenario: one detector head, three datastreams, an hour of 1-minute readings
    assert "posted 183 readings" in result.output
    assert platform.bus.drain(20)
    with platform.store.engine.connect() as conn:
        from sqlalchemy import func, select

        from safecity.sensing import tables as t

        assert conn.execute(select(func.count()).select_from(t.observations)).scalar_one() == 183
    board = platform.situation.board()
    assert any(c["hazard"] == "fire" for c in board["conditions"])
    assert board["incidents"] and board["incidents"][0]["hazard"] == "fire"


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_replay_refuses_a_wrong_password(live_server: LiveServer) -> None:
    result = CliRunner().invoke(
        app, ["replay", "--url", live_server.url, "--password", "nope", "--speed", "0"]
    )
    assert result.exit_code != 0 and "login as 'demo-operator' failed (401)" in result.output
