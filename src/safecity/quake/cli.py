# SPDX-License-Identifier: Apache-2.0
"""``safecity quake …``: the earthquake model's commands.

``safecity quake assess`` runs the damage chain over a building register for a CAP message or a scenario
and prints the per-district summary and the buildings to inspect (``--json``: the summary as JSON).

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


@quake_app.command()
def assess(
    register: Annotated[Path, typer.Option(help="Building register CSV (건축물대장 표제부 with 경도/위도)")],
    cap: Annotated[Path | None, typer.Option(help="A CAP 1.2 earthquake message (XML)")] = None,
    magnitude: Annotated[
        float | None, typer.Option(help="Scenario moment magnitude (instead of --cap)")
    ] = None,
    epicentre: Annotated[str | None, typer.Option(help="Scenario epicentre 'lon,lat' (WGS84)")] = None,
    depth_km: Annotated[float, typer.Option(help="Scenario depth, km")] = 10.0,
    vs30: Annotated[float, typer.Option(help="Vs30 of every site, m/s")] = 360.0,
    time_of_day: Annotated[str, typer.Option(help="Occupancy: night, day or commute")] = "day",
    top: Annotated[int, typer.Option(help="How many buildings to inspect to list")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON")] = False,
) -> None:
    """Damage of the register's buildings for a CAP earthquake message or a scenario: per district the
    buildings by damage state, casualties, displaced, shelter demand, and the buildings to inspect."""
    from safecity.core.errors import SafecityError
    from safecity.quake.inventory import TimeOfDay
    from safecity.quake.register import read_register
    from safecity.quake.service import assess_cap, assess_scenario
    from safecity.quake.shakemap import Rupture

    if (cap is None) == (magnitude is None):
        typer.echo("error: give either --cap FILE or --magnitude with --epicentre", err=True)
        raise typer.Exit(2)
    try:
        tod = TimeOfDay[time_of_day.upper()]
    except KeyError:
        typer.echo(f"error: --time-of-day {time_of_day!r}: use night, day or commute", err=True)
        raise typer.Exit(2) from None
    try:
        inventory = read_register(register.read_bytes(), vs30=vs30)
        if cap is not None:
            result = assess_cap(cap.read_bytes(), inventory, time_of_day=tod, top=top)
        else:
            lon_lat = (epicentre or "").split(",")
            if len(lon_lat) != 2:
                typer.echo("error: --epicentre must be 'lon,lat'", err=True)
                raise typer.Exit(2)
            rupture = Rupture(float(magnitude or 0), float(lon_lat[0]), float(lon_lat[1]), depth_km)
            result = assess_scenario(rupture, inventory, time_of_day=tod, top=top)
    except (SafecityError, OSError, ValueError) as e:
        message = e.message if isinstance(e, SafecityError) else str(e)
        typer.echo(f"error: {message}", err=True)
        raise typer.Exit(1) from None
    summary = result.summary
    if as_json:
        typer.echo(json.dumps(summary.to_dict(), ensure_ascii=False, indent=1))
        return
    r = result.rupture
    typer.echo(
        f"M{r.magnitude} at ({r.lon}, {r.lat}), {r.depth_km} km deep; {len(inventory):,} buildings, {tod.name.lower()}"
    )
    head = f"{'district':<10} {'bldgs':>7} {'moderate+':>9} {'complete':>9} {'killed':>8} {'displaced':>10} {'shelter':>8}  KMA"
    typer.echo(head)
    for a in (*summary.areas, summary.total):
        worse = a.by_state["moderate"] + a.by_state["extensive"] + a.by_state["complete"]
        typer.echo(
            f"{a.code or '-':<10} {a.buildings:>7,} {worse:>9.1f} {a.by_state['complete']:>9.1f} "
            f"{a.casualties['killed']:>8.1f} {a.displaced:>10.1f} {a.shelter_demand:>8.1f}  {a.kma_intensity}"
        )
    typer.echo("inspect first (P(collapse) × occupants):")
    for i in summary.inspect_first:
        typer.echo(
            f"  {i.id}  {i.hazus_type:<5} P(collapse) {i.collapse_probability:.3f} × {i.occupants:.0f} people"
        )


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
