# SPDX-License-Identifier: Apache-2.0
"""``safecity demo`` and ``safecity replay``: the demo city, served or played against a running platform.

The demo is not a capability (it uses them all); :func:`register` adds its two commands to the
``safecity`` command.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer

from safecity.capability import cli_fail, cli_settings


def register(app: typer.Typer) -> None:
    """Add ``demo`` and ``replay`` to ``app``."""
    app.command()(demo)
    app.command()(replay)


def demo(
    port: Annotated[int | None, typer.Option(help="HTTP port [SAFECITY_PORT]")] = None,
    speed: Annotated[float, typer.Option(help="Simulated seconds per real second")] = 60.0,
    scenario: Annotated[
        str,
        typer.Option(
            help="heavy_rain, heat_wave, building_collapse, fire or earthquake (src/safecity/demo/scenarios/)"
        ),
    ] = "heavy_rain",
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            help="Change a scenario parameter, NAME=VALUE (repeatable), e.g. --set magnitude=5.8 "
            "--set epicentre=127.05,37.45",
        ),
    ] = None,
) -> None:
    """Start the platform on embedded defaults with the demo city's sensor network playing a scenario."""
    from safecity.demo.sample import run_demo

    settings = cli_settings(port=port)
    if "SAFECITY_DATA_DIR" not in os.environ:
        settings = settings.model_copy(update={"data_dir": Path("./var/demo")})
    from safecity.demo import scenario as scenarios

    if scenario not in scenarios.names():
        cli_fail(f"no scenario {scenario!r}; choose one of {', '.join(scenarios.names())}", code=2)
    overrides = _scenario_overrides(scenario, set_)
    run_demo(settings, speed, scenario, overrides)


def _scenario_overrides(name: str, items: list[str] | None) -> dict[str, Any]:
    """Parse and check ``--set`` against the scenario's parameters; exit 2 naming the parameter."""
    from safecity.core.errors import ConfigError
    from safecity.demo import scenario as scenarios

    try:
        overrides = scenarios.parse_set(items or [])
        scenarios.load(name, overrides)
    except ConfigError as e:
        cli_fail(e.message, code=2)
    return overrides


def replay(
    url: Annotated[str, typer.Option(help="Base URL of the running platform")] = "http://127.0.0.1:8000",
    scenario: Annotated[
        str, typer.Option(help="heavy_rain, heat_wave, building_collapse, fire or earthquake")
    ] = "heavy_rain",
    user: Annotated[str, typer.Option(help="An operator's user name")] = "demo-operator",
    password: Annotated[
        str | None, typer.Option(help="The operator's password [SAFECITY_REPLAY_PASSWORD]")
    ] = None,
    speed: Annotated[
        float, typer.Option(help="Simulated seconds per real second (0: as fast as possible)")
    ] = 60.0,
    now: Annotated[
        bool, typer.Option(help="Shift the scenario to start now (live data, not history)")
    ] = False,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="Change a scenario parameter, NAME=VALUE (repeatable)"),
    ] = None,
) -> None:
    """Play a demo scenario against a running platform through its public API."""
    from safecity.demo import scenario as scenarios
    from safecity.demo.replay import replay_scenario

    if scenario not in scenarios.names():
        cli_fail(f"no scenario {scenario!r}; choose one of {', '.join(scenarios.names())}", code=2)
    overrides = _scenario_overrides(scenario, set_)
    secret = password or os.environ.get("SAFECITY_REPLAY_PASSWORD")
    if not secret:
        cli_fail("give the operator's password with --password or SAFECITY_REPLAY_PASSWORD", code=2)
    n = replay_scenario(
        scenarios.load(scenario, overrides), url, user, secret, speed=speed, now=now, echo=typer.echo
    )
    typer.echo(f"posted {n:,} readings")
