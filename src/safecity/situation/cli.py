# SPDX-License-Identifier: Apache-2.0
"""``safecity rules check|test``: validate rule files; replay recorded observations through them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from safecity.capability import cli_fail, cli_settings

rules_app = typer.Typer(
    help="Situation rules: check files, replay past events through them.", no_args_is_help=True
)


def _load_rule_files(rules: Path) -> list[Any]:
    from safecity.situation.rules import load_paths

    ruleset = load_paths([rules])
    for err in ruleset.errors:
        typer.echo(f"error: {err}", err=True)
    if not ruleset.rules:
        cli_fail(f"{rules}: no valid rule to run", code=2)
    return ruleset.rules


@rules_app.command("check")
def rules_check(
    rules: Annotated[Path, typer.Argument(help="A rule file (TOML) or a folder of them")],
) -> None:
    """Validate rule files: every error names the file, the rule and the field."""
    from safecity.situation.rules import load_paths

    ruleset = load_paths([rules])
    for err in ruleset.errors:
        typer.echo(f"error: {err}", err=True)
    for r in ruleset.rules:
        typer.echo(f"ok: {r.rule.id} v{r.rule.version} ({r.rule.hazard}, {len(r.rule.level)} levels)")
    if ruleset.errors:
        raise typer.Exit(1)


@rules_app.command("test")
def rules_test(
    rules: Annotated[Path, typer.Argument(help="A rule file (TOML) or a folder of them")],
    replay: Annotated[
        Path,
        typer.Option(
            help="CSV or Parquet of observations: phenomenonTime, result, and datastream (ids in the "
            "store) or property + thing (optional lon, lat, district, thing_properties, allowable, ...)"
        ),
    ],
    tail: Annotated[
        str, typer.Option(help="Keep the clock running this long after the last observation (e.g. 6h)")
    ] = "0s",
    tick: Annotated[str, typer.Option(help="Simulated clock step between observations")] = "1m",
) -> None:
    """Replay recorded observations through rules on a simulated clock; print when each rule fired
    and cleared (check a rule change against a past event before deploying it)."""
    from safecity.situation.replay import format_change, read_observations
    from safecity.situation.replay import replay as run_replay
    from safecity.situation.rules import parse_duration

    try:
        tail_s, tick_s = parse_duration(tail), parse_duration(tick)
    except ValueError as e:
        cli_fail(str(e), code=2)
    if tick_s <= 0:
        cli_fail("--tick must be longer than 0s", code=2)
    loaded = _load_rule_files(rules)
    settings = cli_settings()
    store_cache: list[Any] = []

    def directory() -> list[Any]:
        from safecity.sensing.catalogue import load_catalogue
        from safecity.sensing.directory import stream_directory
        from safecity.store import open_store

        store = open_store(settings)
        store_cache.append(store)
        with store.engine.connect() as conn:
            return stream_directory(conn, load_catalogue())

    try:
        infos, rows = read_observations(replay, directory)
        locate = None
        if store_cache:
            from safecity.geo import areas

            conn = store_cache[0].engine.connect()
            store_cache.append(conn)

            def locate(lon: float, lat: float) -> tuple[str | None, str | None]:
                d = areas.area_at(conn, lon, lat, "district")
                g = areas.area_at(conn, lon, lat, "dong")
                return (d.code if d else None, g.code if g else None)

        result = run_replay(loaded, infos, rows, tick_s=tick_s, tail_s=tail_s, locate=locate)
    finally:
        for opened in reversed(store_cache):  # the connection, then the store
            opened.close()
    typer.echo(
        f"replayed {result.observations:,} observations of {result.streams} streams "
        f"through {len(loaded)} rules"
        + (f", {result.first:%Y-%m-%d %H:%M} to {result.last:%Y-%m-%d %H:%M} UTC" if result.first else "")
    )
    for c in result.changes:
        typer.echo(format_change(c, result.names))
    fired = sum(1 for c in result.changes if c.level > c.previous)
    cleared = sum(1 for c in result.changes if c.level == 0)
    typer.echo(f"{len(result.changes)} changes: {fired} raised, {cleared} cleared")
