# SPDX-License-Identifier: Apache-2.0
"""``safecity dispatch ...``: opens the store from settings itself (a capability's CLI never imports
the app, which sits above every capability)."""

from __future__ import annotations

import json
from typing import cast

import typer

dispatch_app = typer.Typer(help="119 dispatch: units, calls, simulation.", no_args_is_help=True)


@dispatch_app.command("units")
def list_units() -> None:
    """Print the unit board as JSON lines."""
    from safecity.capability import load_settings_of
    from safecity.core.clock import SystemClock
    from safecity.dispatch import setup
    from safecity.dispatch.service import Dispatch
    from safecity.dispatch.settings import DispatchSettings
    from safecity.settings import load_settings
    from safecity.store import open_store

    own = load_settings_of(setup())
    assert isinstance(own, DispatchSettings)
    store = open_store(load_settings())
    try:
        from safecity.bus.port import Bus

        for u in Dispatch(store, cast(Bus, _NoBus()), SystemClock(), own).units():
            typer.echo(json.dumps(u.public(), ensure_ascii=False))
    finally:
        store.close()


class _NoBus:
    """Reading the board publishes nothing."""

    def publish(self, *a: object, **k: object) -> None:
        raise RuntimeError("the dispatch CLI does not publish events")


@dispatch_app.command("simulate")
def simulate_day(
    policy: str = typer.Option("moveup", help="closest | recommend | moveup"),
    seed: int = typer.Option(1, help="the day's random seed (the same calls for every policy)"),
    rain: bool = typer.Option(False, help="a rainy day (the speed model's rain factor)"),
    population: str = typer.Option(
        "", help="per-dong residents table (Seoul statistics TSV); default by district"
    ),
    as_json: bool = typer.Option(False, "--json", help="print the figures as JSON"),
) -> None:
    """Replay a Seoul-like day of 119 calls (generated city) under one dispatch policy."""
    from pathlib import Path

    from safecity.dispatch.city import seoul_city
    from safecity.dispatch.simulate import POLICIES, simulate

    if policy not in POLICIES:
        typer.echo(f"--policy: use one of {', '.join(POLICIES)}", err=True)
        raise typer.Exit(2)
    pop = Path(population) if population else None
    if pop is not None and not pop.is_file():
        typer.echo(f"--population: no such file {pop}", err=True)
        raise typer.Exit(2)
    out = simulate(seoul_city(population_file=pop), policy, seed, rain=rain)
    if as_json:
        typer.echo(json.dumps(out, ensure_ascii=False))
        return
    for k, v in out.items():
        typer.echo(f"{k}\t{v:.4f}" if isinstance(v, float) else f"{k}\t{v}")
