# SPDX-License-Identifier: Apache-2.0
"""``safecity import observations``: observations from CSV or Parquet, through the same ingest as the API."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from safecity.capability import cli_context, cli_fail, cli_progress, cli_settings
from safecity.core.errors import SafecityError

#: the commands sensing adds to ``safecity import`` (geography adds its own to the same group)
import_app = typer.Typer(help="Import data files.", no_args_is_help=True)


@import_app.command("observations")
def import_observations_cmd(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    batch_size: Annotated[int, typer.Option(min=1, max=50_000)] = 5_000,
    json_out: Annotated[bool, typer.Option("--json", help="Print the report as JSON on stdout")] = False,
) -> None:
    """Import observations from CSV or Parquet (datastream, time, value)."""
    import json

    from safecity.sensing.importer import import_observations
    from safecity.sensing.service import Sensing

    platform = cli_context(ctx, cli_settings())
    with cli_progress("importing", "rows") as progress:
        try:
            report = import_observations(platform.services.get(Sensing).ingest, file, batch_size, progress)
        except SafecityError as e:
            cli_fail(e.message)
    platform.bus.drain(30)
    for line, reason in report.bad[:50]:
        typer.echo(f"{file}:{line}: {reason}", err=True)
    if len(report.bad) > 50:
        typer.echo(f"... and {len(report.bad) - 50} more bad rows", err=True)
    summary = {
        "rows": report.rows,
        "created": report.created,
        "duplicates": report.duplicates,
        "bad": len(report.bad),
    }
    if json_out:
        typer.echo(json.dumps(summary))
    else:
        typer.echo(
            f"{report.rows} rows: {report.created} stored, {report.duplicates} already there, {len(report.bad)} bad",
            err=True,
        )
    if report.bad and not report.created and not report.duplicates:
        raise typer.Exit(1)
