# SPDX-License-Identifier: Apache-2.0
"""The ``safecity`` command. Each command calls the same functions as the API.

Errors go to stderr as one line with a hint; exit 0 on success, 1 on failure, 2 on misuse.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError

from safecity.audit.cli import audit_app
from safecity.bus.cli import bus_app
from safecity.capability import BUILT_IN, cli_settings
from safecity.capability import load as load_capability
from safecity.core.errors import SafecityError
from safecity.core.logging import configure_logging
from safecity.settings import Settings, load_settings
from safecity.store.cli import register as _register_backup
from safecity.web.assets import cli as assets_cli

app = typer.Typer(help="safecity: integrated disaster and safety management platform.", no_args_is_help=True)
admin_app = typer.Typer(help="People who run the platform.", no_args_is_help=True)
apikey_app = typer.Typer(help="Device API keys.", no_args_is_help=True)
import_app = typer.Typer(help="Import data files.", no_args_is_help=True)
app.add_typer(admin_app, name="admin")
app.add_typer(apikey_app, name="apikey")
app.add_typer(import_app, name="import")
rules_app = typer.Typer(
    help="Situation rules: check files, replay past events through them.", no_args_is_help=True
)
app.add_typer(rules_app, name="rules")
app.add_typer(assets_cli, name="assets")
app.add_typer(audit_app, name="audit")
app.add_typer(bus_app, name="bus")
# The capabilities that declare themselves (safecity.capability.BUILT_IN) bring their own command groups;
# a city's own ones (SAFECITY_CAPABILITIES) are mounted by main(), once the settings are read.
_MOUNTED: set[str] = set()  # capability names whose group is on the app already
for _builtin in BUILT_IN:
    _cap = load_capability(_builtin)
    if _cap.cli is not None:
        app.add_typer(_cap.cli, name=_cap.name, help=_cap.summary)
        _MOUNTED.add(_cap.name)


def _settings(**overrides: object) -> Settings:
    return cli_settings(**overrides)


def _fail(message: str, code: int = 1) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Listen address [SAFECITY_HOST]")] = None,
    port: Annotated[int | None, typer.Option(help="Listen port [SAFECITY_PORT]")] = None,
) -> None:
    """Start every capability: the API, the event bus and the MQTT broker."""
    import uvicorn

    from safecity.app import create_app

    settings = _settings(host=host, port=port)
    # The server writes its log from a thread of its own: a slow console never stalls a request.
    configure_logging(settings.log_level, settings.log_json, background=True)
    try:
        application = create_app(settings)
    except SafecityError as e:
        _fail(e.message)
    typer.echo(
        f"safecity serving on http://{settings.host}:{settings.port}/ (SensorThings at /sta/v1.1)", err=True
    )
    _tune_gc()
    from safecity.hygiene.head_limit import server_options

    uvicorn.run(application, host=settings.host, port=settings.port, **server_options(settings))


@contextmanager
def _progress(label: str, unit: str) -> Iterator[Callable[[int, int | None], None]]:
    """A progress bar on stderr; yields the callback importers report (done, total or None) to."""
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn

    columns = (TextColumn(label), BarColumn(), TaskProgressColumn(), TextColumn("{task.completed} " + unit))
    with Progress(*columns, transient=True) as bar:
        task = bar.add_task("import", total=None)
        yield lambda done, total: bar.update(task, completed=done, total=total)


def _tune_gc() -> None:
    """Ingest allocates many short-lived lists; CPython's default collector thresholds (700) then run
    collections thousands of times a second over the long-lived objects of the app. Freezing what start-up
    built and raising the thresholds measured +20 % observations/s (120k -> 145k in-process)."""
    import gc

    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


@app.command()
def migrate() -> None:
    """Bring the store's schema up to date."""
    from safecity.capability import import_tables, migration_folders, registered
    from safecity.store import open_store

    settings = _settings()
    capabilities = registered(settings)
    import_tables(capabilities)
    open_store(settings).migrate(migration_folders(capabilities))
    typer.echo("store is up to date", err=True)


@admin_app.command("create")
def admin_create(
    name: str,
    role: Annotated[str, typer.Option(help="admin or operator")] = "admin",
) -> None:
    """Create a user. The password is read from SAFECITY_ADMIN_PASSWORD or from stdin."""
    from safecity.app import build_platform
    from safecity.auth.model import Role

    settings = _settings()
    if role not in ("admin", "operator"):
        _fail(f"--role: use admin or operator, not '{role}'", code=2)
    password = settings.admin_password.get_secret_value() if settings.admin_password else None
    if password is None:
        if sys.stdin.isatty():
            password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
        else:
            password = sys.stdin.readline().rstrip("\n")
    platform = build_platform(settings)
    try:
        uid = platform.auth.create_user(name, password, {Role(role)})
    except SafecityError as e:
        _fail(e.message)
    typer.echo(f"created {role} '{name}' (id {uid})", err=True)


@apikey_app.command("create")
def apikey_create(
    thing: Annotated[int, typer.Option("--thing", help="Thing id the device belongs to")],
    label: Annotated[str | None, typer.Option(help="A note on where the key is used")] = None,
) -> None:
    """Create a device API key for a Thing and print it (send it as X-API-Key)."""
    from safecity.app import build_platform

    platform = build_platform(_settings())
    try:
        key = platform.auth.create_api_key(thing, label)
    except SafecityError as e:
        _fail(e.message)
    typer.echo(key)


@apikey_app.command("revoke")
def apikey_revoke(
    key: Annotated[
        str | None, typer.Argument(help="The key, or its first 12 characters (sck_...)", show_default=False)
    ] = None,
    thing: Annotated[int | None, typer.Option("--thing", help="Revoke every key of this Thing")] = None,
) -> None:
    """Revoke a device API key, or every key of a Thing. It stops working over HTTP and MQTT at once in
    this process and within 2 s in running servers (they look a key up again that often)."""
    from safecity.app import build_platform

    if (key is None) == (thing is None):
        _fail("give a key (or its first 12 characters) or --thing, not both", code=2)
    platform = build_platform(_settings())
    try:
        n = (
            platform.auth.revoke_api_key(key)
            if key is not None
            else platform.auth.revoke_api_keys(thing or 0)
        )
    except SafecityError as e:
        _fail(e.message)
    if n == 0:
        _fail("no live key matches; it may be revoked already")
    typer.echo(f"revoked {n} key{'s' if n != 1 else ''}", err=True)


@import_app.command("observations")
def import_observations_cmd(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    batch_size: Annotated[int, typer.Option(min=1, max=50_000)] = 5_000,
    json_out: Annotated[bool, typer.Option("--json", help="Print the report as JSON on stdout")] = False,
) -> None:
    """Import observations from CSV or Parquet (datastream, time, value)."""
    import json

    from safecity.app import build_platform
    from safecity.sensing.importer import import_observations

    platform = build_platform(_settings())
    with _progress("importing", "rows") as progress:
        try:
            report = import_observations(platform.sensing.ingest, file, batch_size, progress)
        except SafecityError as e:
            _fail(e.message)
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


@import_app.command("layer")
def import_layer_cmd(
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

    from safecity.app import build_platform
    from safecity.geo.importer import describe, import_layer

    if not re.fullmatch(r"[a-z][a-z0-9_-]*", kind):
        _fail(f"--as: '{kind}' is not a layer name (lower-case letters, digits, - and _)", code=2)
    platform = build_platform(_settings())
    with _progress(f"importing {kind}", "features") as progress:
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
            _fail(e.message)
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
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    json_out: Annotated[bool, typer.Option("--json", help="Print the report as JSON on stdout")] = False,
) -> None:
    """Set resident population per dong and district from the Seoul 주민등록인구 (동별) table."""
    import json

    from safecity.app import build_platform
    from safecity.geo.importer import import_population

    platform = build_platform(_settings())
    try:
        report = import_population(platform, file)
    except SafecityError as e:
        _fail(e.message)
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

    settings = _settings()
    try:
        result = read_osm(file, strict=strict)
    except SafecityError as e:
        _fail(e.message)
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
    counts = result.graph.counts()
    if json_out:
        typer.echo(json.dumps({**counts, "path": str(out)}))
    else:
        typer.echo(
            f"{counts['nodes']} nodes, {counts['segments']} segments from {counts['ways']} ways: "
            f"{counts['walk_edges']} walk edges, {counts['drive_edges']} drive edges, "
            f"{counts['oneway_segments']} one-way, {counts['bridge_segments']} bridge, "
            f"{counts['tunnel_segments']} tunnel, {counts['underpass_segments']} underpass segments; "
            f"written to {out}",
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

    settings = _settings()
    try:
        info = import_dem(file, settings.data_dir)
    except SafecityError as e:
        _fail(e.message)
    if json_out:
        typer.echo(json.dumps(asdict(info)))
    else:
        w, s, e_, n = info.bounds_wgs84
        typer.echo(
            f"{info.width}x{info.height} {info.dtype} DEM in {info.crs}, "
            f"bounds lon {w:.5f}..{e_:.5f} lat {s:.5f}..{n:.5f}; stored at {info.path}",
            err=True,
        )


def _load_rule_files(rules: Path) -> list[Any]:
    from safecity.situation.rules import load_paths

    ruleset = load_paths([rules])
    for err in ruleset.errors:
        typer.echo(f"error: {err}", err=True)
    if not ruleset.rules:
        _fail(f"{rules}: no valid rule to run", code=2)
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
        _fail(str(e), code=2)
    if tick_s <= 0:
        _fail("--tick must be longer than 0s", code=2)
    loaded = _load_rule_files(rules)
    settings = _settings()
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


@app.command()
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

    settings = _settings(port=port)
    if "SAFECITY_DATA_DIR" not in os.environ:
        settings = settings.model_copy(update={"data_dir": Path("./var/demo")})
    from safecity.demo import scenario as scenarios

    if scenario not in scenarios.names():
        _fail(f"no scenario {scenario!r}; choose one of {', '.join(scenarios.names())}", code=2)
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
        _fail(e.message, code=2)
    return overrides


@app.command()
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
        _fail(f"no scenario {scenario!r}; choose one of {', '.join(scenarios.names())}", code=2)
    overrides = _scenario_overrides(scenario, set_)
    secret = password or os.environ.get("SAFECITY_REPLAY_PASSWORD")
    if not secret:
        _fail("give the operator's password with --password or SAFECITY_REPLAY_PASSWORD", code=2)
    assert secret is not None
    n = replay_scenario(
        scenarios.load(scenario, overrides), url, user, secret, speed=speed, now=now, echo=typer.echo
    )
    typer.echo(f"posted {n:,} readings")


_register_backup(app, _settings, _fail)


def _mount_capabilities() -> None:
    """Each declared capability's commands, as ``safecity <name> ...`` (safecity.capability)."""
    from safecity.capability import CapabilityError, registered

    try:
        settings = load_settings()
    except ValidationError:
        return  # the command itself reports bad settings, one line naming the variable
    try:
        capabilities = registered(settings)
    except CapabilityError as e:
        typer.echo(f"error: {e} (the setting SAFECITY_CAPABILITIES names the capability modules)", err=True)
        sys.exit(2)
    for cap in capabilities:
        if cap.cli is not None and cap.name not in _MOUNTED:
            app.add_typer(cap.cli, name=cap.name, help=cap.summary)
            _MOUNTED.add(cap.name)


def main() -> None:
    _mount_capabilities()
    try:
        app()
    except SafecityError as e:
        typer.echo(f"error: {e.message}", err=True)
        sys.exit(1)
