# SPDX-License-Identifier: Apache-2.0
"""``safecity import layer|population|roads|dem``: geodata, population, the road network and terrain."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from safecity.capability import cli_context, cli_fail, cli_progress, cli_settings
from safecity.core.errors import SafecityError

#: the commands geography adds to ``safecity import`` (after sensing's ``observations``)
import_app = typer.Typer(help="Import data files.", no_args_is_help=True)


@import_app.command("layer")
def import_layer_cmd(
    ctx: typer.Context,
    file: Annotated[
        Path, typer.Argument(exists=True, readable=True, help="GeoJSON, Shapefile or GeoPackage")
    ],
    kind: Annotated[
        str,
        typer.Option(
            "--as",
            help="districts, dongs, shelters, facilities, hazard-zones or another layer name",
        ),
    ],
    code_field: Annotated[str | None, typer.Option(help="Column with the official code / id")] = None,
    name_field: Annotated[str | None, typer.Option(help="Column with the Korean name")] = None,
    name_en_field: Annotated[str | None, typer.Option(help="Column with the English name")] = None,
    layer: Annotated[str | None, typer.Option(help="Layer of a multi-layer file (GeoPackage)")] = None,
    shelter_kind: Annotated[
        str,
        typer.Option(
            help="Shelter type when the file has no type column: earthquake_outdoor, "
            "temporary_housing, heat, cold or civil_defence"
        ),
    ] = "civil_defence",
    hazard: Annotated[
        str | None,
        typer.Option(
            help="With --as hazard-zones: the hazard of every zone (flood, landslide, ...) when the "
            "file has no hazard/type/kind column"
        ),
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the report as JSON on stdout")] = False,
) -> None:
    """Import a geodata layer: areas, shelters or features; reprojects to WGS84 and repairs geometries."""
    import json
    import re

    from safecity.geo.importer import describe, import_layer

    if not re.fullmatch(r"[a-z][a-z0-9_-]*", kind):
        cli_fail(f"--as: '{kind}' is not a layer name (lower-case letters, digits, - and _)", code=2)
    platform = cli_context(ctx, cli_settings())
    with cli_progress(f"importing {kind}", "features") as progress:
        try:
            report = import_layer(
                platform,
                file,
                kind,
                code_field=code_field,
                name_field=name_field,
                name_en_field=name_en_field,
                layer=layer,
                shelter_kind=shelter_kind,
                hazard=hazard,
                progress=progress,
            )
        except SafecityError as e:
            cli_fail(e.message)
    lines = describe(report)
    for line in lines[:50]:
        typer.echo(line, err=True)
    if len(lines) > 50:
        typer.echo(f"... and {len(lines) - 50} more lines (use --json for all)", err=True)
    if json_out:
        typer.echo(json.dumps(report.to_dict(), ensure_ascii=False))
    else:
        typer.echo(
            f"{report.features} features as {kind}: {report.created} created, {report.updated} updated, "
            f"{len(report.repaired)} repaired, {len(report.bad)} skipped",
            err=True,
        )
    if report.features and not report.created and not report.updated:
        raise typer.Exit(1)


@import_app.command("population")
def import_population_cmd(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    json_out: Annotated[bool, typer.Option("--json", help="Print the report as JSON on stdout")] = False,
) -> None:
    """Set resident population per dong and district from the Seoul 주민등록인구 (동별) table."""
    import json

    from safecity.geo.importer import import_population

    platform = cli_context(ctx, cli_settings())
    try:
        report = import_population(platform, file)
    except SafecityError as e:
        cli_fail(e.message)
    for name in report.unmatched[:50]:
        typer.echo(f"{file}: no dong in the store for '{name}'", err=True)
    summary = {
        "dongs": report.dongs,
        "districts": report.districts,
        "total": report.total,
        "file_total": report.file_total,
        "unmatched": len(report.unmatched),
    }
    if json_out:
        typer.echo(json.dumps(summary))
    else:
        typer.echo(
            f"population set for {report.dongs} dongs and {report.districts} districts: "
            f"{report.total:,} residents (file total {report.file_total or 0:,})",
            err=True,
        )


@import_app.command("roads")
def import_roads_cmd(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="OSM XML or PBF")],
    strict: Annotated[
        bool,
        typer.Option(help="Fail on ways referring to nodes missing from the file, instead of cutting them"),
    ] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print the counts as JSON on stdout")] = False,
) -> None:
    """Build the routable road network (walk and drive) from an OpenStreetMap extract."""
    import json

    from safecity.geo.roads.graph import graph_path
    from safecity.geo.roads.osm import read_osm

    settings = cli_settings()
    try:
        result = read_osm(file, strict=strict)
    except SafecityError as e:
        cli_fail(e.message)
    if result.incomplete_ways:
        shown = ", ".join(str(w) for w in result.incomplete_ways[:10])
        more = len(result.incomplete_ways) - 10
        typer.echo(
            f"warning: {file}: {len(result.incomplete_ways)} ways refer to nodes not in the file and were cut "
            f"(way {shown}{f' and {more} more' if more > 0 else ''})",
            err=True,
        )
    out = graph_path(settings.data_dir)
    result.graph.save(out)
    # the same extract's addresses, streets and named places, for the geocoder (call intake, reports)
    from safecity.geo.gazetteer import gazetteer_path, read_gazetteer

    gazetteer = read_gazetteer(file)
    gazetteer.save(gazetteer_path(settings.data_dir))
    counts = {**result.graph.counts(), **gazetteer.counts()}
    if json_out:
        typer.echo(json.dumps({**counts, "path": str(out)}))
    else:
        typer.echo(
            f"{counts['nodes']} nodes, {counts['segments']} segments from {counts['ways']} ways: "
            f"{counts['walk_edges']} walk edges, {counts['drive_edges']} drive edges, "
            f"{counts['oneway_segments']} one-way, {counts['bridge_segments']} bridge, "
            f"{counts['tunnel_segments']} tunnel, {counts['underpass_segments']} underpass segments; "
            f"{counts['addresses']} addresses, {counts['streets']} named streets, {counts['places']} named "
            f"places for the geocoder; written to {out.parent}",
            err=True,
        )


@import_app.command("dem")
def import_dem_cmd(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="GeoTIFF DEM")],
    json_out: Annotated[
        bool, typer.Option("--json", help="Print the DEM's metadata as JSON on stdout")
    ] = False,
) -> None:
    """Load a terrain model (elevation GeoTIFF with a CRS) for hazard-zone derivation."""
    import json
    from dataclasses import asdict

    from safecity.geo.terrain import import_dem

    settings = cli_settings()
    try:
        info = import_dem(file, settings.data_dir)
    except SafecityError as e:
        cli_fail(e.message)
    if json_out:
        typer.echo(json.dumps(asdict(info)))
    else:
        w, s, e_, n = info.bounds_wgs84
        typer.echo(
            f"{info.width}x{info.height} {info.dtype} DEM in {info.crs}, "
            f"bounds lon {w:.5f}..{e_:.5f} lat {s:.5f}..{n:.5f}; stored at {info.path}",
            err=True,
        )
