# SPDX-License-Identifier: Apache-2.0
"""``safecity flood …``: run the flood model's verification table.

``safecity flood verify`` runs every case of ``verification/cases.csv`` (the same table the tests read)
and prints case, measure, our value, reference, tolerance and pass; ``--json`` for machines. Exit 0 when
every gated row passes, 1 when one fails, 2 on misuse (no data folder, unknown case). Skipped cases
(data absent) and reported rows do not fail the run; they are listed with the reason.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import typer

flood_app = typer.Typer(
    help="Flood simulation: verification of the 2D surface model and the sewer coupling.",
    no_args_is_help=True,
)
radar_app = typer.Typer(help="Radar or nowcast rain for the flood forecasts.", no_args_is_help=True)
flood_app.add_typer(radar_app, name="radar")


def _default_data() -> Path | None:
    """``../shared/data`` from the working directory or from the source checkout, if it exists."""
    for base in (Path.cwd(), Path(__file__).resolve().parents[3]):
        cand = base.parent / "shared" / "data"
        if (cand / "flood").is_dir():
            return cand
    return None


def _fmt(v: float | None) -> str:
    if v is None:
        return "—"
    if v != 0 and (abs(v) < 1e-3 or abs(v) >= 1e5):
        return f"{v:.3e}"
    return f"{v:.4f}"


@flood_app.command()
def verify(
    data: Annotated[
        Path | None,
        typer.Option(
            help="Folder holding flood/ and swmm/ verification data [SAFECITY_FLOOD_DATA]; default ../shared/data",
            envvar="SAFECITY_FLOOD_DATA",
        ),
    ] = None,
    case: Annotated[
        list[str] | None,
        typer.Option(
            "--case",
            help="Run only this case (repeatable) [SAFECITY_FLOOD_CASE]",
            envvar="SAFECITY_FLOOD_CASE",
        ),
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the table as JSON on stdout")] = False,
) -> None:
    """Run every verification case and print the table; exit 1 if any gated row fails."""
    from safecity.flood.verification.table import RUNNERS, run_cases

    root = data or _default_data()
    if root is None or not (root / "flood").is_dir():
        typer.echo(
            f"error: no verification data at {root or '../shared/data'}; give --data DIR (the folder with flood/ and swmm/)",
            err=True,
        )
        raise typer.Exit(2)
    unknown = sorted(set(case or []) - set(RUNNERS))
    if unknown:
        typer.echo(f"error: unknown case {unknown[0]!r}; cases: {', '.join(RUNNERS)}", err=True)
        raise typer.Exit(2)
    started = time.perf_counter()
    outcomes = run_cases(root, case or None)
    elapsed = time.perf_counter() - started
    failed = [o for o in outcomes if o.passed is False]
    passed = sum(1 for o in outcomes if o.passed)
    skipped = sum(1 for o in outcomes if o.note.startswith("skipped"))
    reported = sum(1 for o in outcomes if o.row.check == "report" and not o.note.startswith("skipped"))
    if json_out:
        typer.echo(
            json.dumps(
                {
                    "rows": [o.as_dict() for o in outcomes],
                    "passed": passed,
                    "failed": len(failed),
                    "skipped": skipped,
                    "reported": reported,
                    "seconds": round(elapsed, 1),
                },
                ensure_ascii=False,
                indent=2,
            )
        )
    else:
        header = ("case", "measure", "unit", "ours", "reference", "tolerance", "check", "pass")
        lines = [header]
        for o in outcomes:
            verdict = {
                True: "pass",
                False: "FAIL",
                None: "skip" if o.note.startswith("skipped") else "report",
            }[o.passed]
            lines.append(
                (
                    o.row.case,
                    o.row.measure,
                    o.row.unit,
                    _fmt(o.value),
                    _fmt(o.reference),
                    _fmt(o.tolerance),
                    o.row.check,
                    verdict,
                )
            )
        widths = [max(len(r[i]) for r in lines) for i in range(len(header))]
        for r in lines:
            typer.echo("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
        for reason in sorted({o.note for o in outcomes if o.note.startswith("skipped")}):
            typer.echo(f"note: {reason}", err=True)
        typer.echo(
            f"{passed} passed, {len(failed)} failed, {skipped} skipped, {reported} reported in {elapsed:.0f} s",
            err=True,
        )
    if failed:
        raise typer.Exit(1)


@radar_app.command("import")
def radar_import(
    file: Annotated[
        Path, typer.Argument(help="a GeoTIFF or NetCDF of rain in mm/h, one band per frame, with a CRS")
    ],
    start: Annotated[
        str,
        typer.Option(
            help="start of the first frame, ISO 8601 with its zone [SAFECITY_FLOOD_RADAR_START]",
            envvar="SAFECITY_FLOOD_RADAR_START",
        ),
    ],
    step_min: Annotated[
        float,
        typer.Option(
            "--step-min",
            help="minutes each frame covers [SAFECITY_FLOOD_RADAR_STEP_MIN]",
            envvar="SAFECITY_FLOOD_RADAR_STEP_MIN",
        ),
    ] = 10.0,
    json_out: Annotated[bool, typer.Option("--json", help="Print what was kept as JSON on stdout")] = False,
) -> None:
    """Keep a radar raster for the forecasts: the server reads it before its next run."""
    from datetime import datetime

    from safecity.core.errors import BadRequest
    from safecity.flood.radar import import_radar
    from safecity.settings import load_settings

    try:
        when = datetime.fromisoformat(start)
    except ValueError:
        typer.echo(
            f"error: --start {start!r} is not an ISO 8601 time (e.g. 2022-08-08T21:00:00+09:00)", err=True
        )
        raise typer.Exit(2) from None
    if not file.is_file():
        typer.echo(f"error: {file}: no such file", err=True)
        raise typer.Exit(2)
    try:
        kept = import_radar(load_settings().data_dir, file.read_bytes(), when, step_min, file.name)
    except BadRequest as e:
        typer.echo(f"error: {e.message}", err=True)
        raise typer.Exit(1) from None
    if json_out:
        typer.echo(json.dumps(kept.to_json(), ensure_ascii=False))
    else:
        typer.echo(
            f"kept {kept.bands} frame(s) from {kept.start.isoformat()} every {step_min:g} min: {kept.path}"
        )


@flood_app.command("catchment")
def catchment_cmd(
    command: typer.Context,
    district: Annotated[list[str], typer.Option(help="a 5-digit district code (repeatable)")],
    cell_m: Annotated[float, typer.Option("--cell-m", help="cell size, metres")] = 100.0,
    json_out: Annotated[bool, typer.Option("--json", help="Print the counts as JSON on stdout")] = False,
) -> None:
    """Build the forecast catchment from the imported DEM, roads, underpasses and semi-basement homes
    (what SAFECITY_FLOOD__CATCHMENT_DISTRICTS makes the server forecast on) and say what it holds."""
    from safecity.capability import cli_context, cli_fail, cli_settings
    from safecity.core.errors import BadRequest
    from safecity.flood.deploy import imported_catchment

    settings = cli_settings()
    ctx = cli_context(command, settings)
    try:
        c = imported_catchment(ctx.store, settings.data_dir, district, cell_m)
    except BadRequest as e:
        cli_fail(e.message)
    active = int((~c.domain.inactive).sum()) if c.domain.inactive is not None else c.grid.nx * c.grid.ny
    counts = {
        "label": c.label,
        "cells": c.grid.nx * c.grid.ny,
        "activeCells": active,
        "underpasses": len(c.of_kind("underpass")),
        "roads": len(c.of_kind("road")),
        "semiBasementBuildings": len(c.of_kind("building")),
        "semiBasementHomes": sum(int(p.properties.get("homes", 1)) for p in c.of_kind("building")),
    }
    if json_out:
        typer.echo(json.dumps(counts, ensure_ascii=False))
    else:
        typer.echo(", ".join(f"{k} {v}" for k, v in counts.items()))
