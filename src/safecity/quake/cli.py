# SPDX-License-Identifier: Apache-2.0
"""``safecity quake …``: the earthquake model's commands.

``safecity quake verify`` runs every verification case (``safecity.quake.verify``) and prints the table:
case, measure, ours, reference, tolerance, pass. ``--json`` prints it for machines. Exit 0 when every case
that ran passed, 1 on any failure. Cases whose data is not found (OpenQuake's QA cases live in
``../shared/data``, never in the product) are listed as not run, with the reason.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer

quake_app = typer.Typer(help="Earthquake damage model.", no_args_is_help=True)

#: Where the verification data is looked for when --data is not given: $SAFECITY_QUAKE_DATA, else the
#: shared data folder beside a checkout (``../shared/data`` from the repository root).
DEFAULT_DATA = Path("..") / "shared" / "data"


@quake_app.command()
def verify(
    data: Annotated[
        Path | None,
        typer.Option(help="Folder holding quake/openquake_qa_scenario_damage [SAFECITY_QUAKE_DATA]"),
    ] = None,
    case: Annotated[list[str] | None, typer.Option(help="Run only these cases (repeatable)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of the table")] = False,
) -> None:
    """Run every verification case of the earthquake model and print the table (exit 1 on a failure)."""
    from safecity.quake import verify as v

    root = data or Path(os.environ.get("SAFECITY_QUAKE_DATA", str(DEFAULT_DATA)))
    unknown = [c for c in case or [] if c not in v.CASES]
    if unknown:
        typer.echo(f"error: unknown case(s) {', '.join(unknown)}; known: {', '.join(v.CASES)}", err=True)
        raise typer.Exit(2)
    report = v.run(root if root.is_dir() else None, case or None)
    if as_json:
        out = {
            "rows": [r.to_dict() for r in report.rows],
            "not_run": report.not_run,
            "passed": not report.failed,
            "counts": {"rows": len(report.rows), "failed": len(report.failed)},
        }
        typer.echo(json.dumps(out, ensure_ascii=False, indent=1))
    else:
        typer.echo(_table(report))
    if report.failed:
        raise typer.Exit(1)


def _table(report: object) -> str:
    from safecity.quake.verify import Report

    assert isinstance(report, Report)
    head = ("case", "measure", "ours", "reference", "tolerance", "pass")
    lines = [
        (
            r.case,
            r.measure,
            f"{r.ours:.6g}",
            f"{r.reference:.6g}",
            r.tolerance_text(),
            "yes" if r.passed else "NO",
        )
        for r in report.rows
    ]
    widths = [max(len(h), *(len(x[i]) for x in lines)) if lines else len(h) for i, h in enumerate(head)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    out = [fmt.format(*head).rstrip(), fmt.format(*("-" * w for w in widths))]
    out += [fmt.format(*x).rstrip() for x in lines]
    failed = len(report.failed)
    out.append("")
    out.append(f"{len(report.rows)} checks, {len(report.rows) - failed} passed, {failed} failed")
    for name, why in report.not_run.items():
        out.append(f"not run: {name}: {why}")
    return "\n".join(out)
