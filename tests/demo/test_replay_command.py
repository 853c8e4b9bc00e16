# SPDX-License-Identifier: Apache-2.0
"""``safecity replay`` plays a scenario against a running platform over its public API only."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from safecity.auth.model import Role
from safecity.cli import app
from safecity.demo import scenario
from safecity.demo.city import build_city
from safecity.demo.network import build_network
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
    # the fire scenario: the whole demo network (226 datastreams), an hour of 1-minute readings
    streams = sum(len(s.streams) for s in build_network(build_city()).sensors)
    assert streams == 226
    assert f"posted {61 * streams:,} readings" in result.output
    assert platform.bus.drain(30)
    with platform.store.engine.connect() as conn:
        from sqlalchemy import func, select

        from safecity.sensing import tables as t

        assert conn.execute(select(func.count()).select_from(t.observations)).scalar_one() == 61 * streams
        things = conn.execute(select(t.things.c.properties)).scalars().all()
        assert len(things) == 111 and all(p["demo"] is True and p["district"] for p in things)
    board = platform.situation.board()
    assert any(c["hazard"] == "fire" for c in board.conditions)
    # the fire is an incident; the replayed readings are old history on this platform's clock, so the
    # stale-sensor rule may also report the demo network as silent, and nothing else may appear
    hazards = [i.hazard for i in board.incidents]
    assert "fire" in hazards and set(hazards) <= {"fire", "sensor"}


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_replay_reuses_the_demo_network_already_on_the_platform(live_server: LiveServer) -> None:
    from sqlalchemy import func, select

    from safecity.sensing import tables as t

    live_server.platform.auth.create_user("night-shift", "night-shift-password", {Role.operator})
    env = {"SAFECITY_REPLAY_PASSWORD": "night-shift-password"}
    args = ["replay", "--url", live_server.url, "--user", "night-shift", "--speed", "0"]
    first = CliRunner().invoke(app, [*args, "--scenario", "fire"], env=env)
    assert first.exit_code == 0, first.output
    assert "111 stations (0 already on the platform, 111 created)" in first.output

    def counts() -> tuple[int, int]:
        with live_server.platform.store.engine.connect() as conn:
            things = conn.execute(select(func.count()).select_from(t.things)).scalar_one()
            streams = conn.execute(select(func.count()).select_from(t.datastreams)).scalar_one()
        return things, streams

    before = counts()
    # another scenario, another reporting interval: the same Things and datastreams, retimed
    second = CliRunner().invoke(app, [*args, "--scenario", "heat_wave"], env=env)
    assert second.exit_code == 0, second.output
    assert "111 stations (111 already on the platform, 0 created)" in second.output
    assert counts() == before == (111, 226)
    with live_server.platform.store.engine.connect() as conn:
        props = conn.execute(select(t.datastreams.c.properties)).scalars().all()
    heat, fire = scenario.load("heat_wave").step_s, scenario.load("fire").step_s
    assert heat != fire and {p["expectedIntervalSeconds"] for p in props} == {heat}


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_replay_refuses_a_wrong_password(live_server: LiveServer) -> None:
    result = CliRunner().invoke(
        app, ["replay", "--url", live_server.url, "--password", "nope", "--speed", "0"]
    )
    assert result.exit_code != 0 and "login as 'demo-operator' failed (401)" in result.output


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_replay_refuses_an_unknown_parameter(live_server: LiveServer) -> None:
    result = CliRunner().invoke(
        app,
        [
            "replay",
            "--url",
            live_server.url,
            "--scenario",
            "earthquake",
            "--set",
            "magnitud=6",
            "--speed",
            "0",
        ],
        env={"SAFECITY_REPLAY_PASSWORD": "x"},
    )
    assert result.exit_code == 2
    assert "scenario 'earthquake' has no parameter 'magnitud'" in result.output
