# SPDX-License-Identifier: Apache-2.0
"""The ``safecity`` command. Each command calls the same functions as the API.

Errors go to stderr as one line with a hint; exit 0 on success, 1 on failure, 2 on misuse.

Only the platform's own commands live here (``serve``, ``migrate``, the bus, backup and restore, and the
demo's); every capability brings its groups in its ``setup()`` (``cli``, ``cli_groups``: see
safecity.capability), mounted by iterating over the registered capabilities.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from pydantic import ValidationError

from safecity.bus.cli import bus_app
from safecity.capability import BUILT_IN, Capability, CliPlatform, Context, cli_fail, cli_settings
from safecity.capability import load as load_capability
from safecity.core.errors import SafecityError
from safecity.core.logging import configure_logging
from safecity.demo.cli import register as _register_demo
from safecity.settings import Settings, load_settings
from safecity.store.cli import register as _register_backup

app = typer.Typer(help="safecity: integrated disaster and safety management platform.", no_args_is_help=True)


def _build(settings: Settings) -> Context:
    from safecity.app import build_platform

    return build_platform(settings).context


@app.callback()
def _platform(ctx: typer.Context) -> None:
    # what a capability's command asks for through safecity.capability.cli_context: it may not import
    # the app (above it), this module may
    ctx.obj = CliPlatform(_build)


def _settings(**overrides: object) -> Settings:
    return cli_settings(**overrides)


def _fail(message: str, code: int = 1) -> None:
    cli_fail(message, code)


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


@app.command()
def worker(
    role: Annotated[
        list[str],
        typer.Option(
            help="A role this process runs, repeatable or comma-separated: ingest, rules, incidents, "
            "delivery, audit, relay [SAFECITY_WORKER_ROLE]",
            envvar="SAFECITY_WORKER_ROLE",
        ),
    ],
    host: Annotated[str | None, typer.Option(help="Listen address [SAFECITY_HOST]")] = None,
    port: Annotated[int | None, typer.Option(help="Listen port [SAFECITY_PORT]")] = None,
) -> None:
    """Run some roles only, beside other processes on the same PostgreSQL (and NATS): every process
    serves the API; singleton roles wait for their holder to die (docs/scaling.md)."""
    import uvicorn

    from safecity.app import create_app
    from safecity.capability import check_roles

    try:
        roles = check_roles(r.strip() for item in role for r in item.split(",") if r.strip())
    except ValueError as e:
        _fail(f"--role: {e}", 2)
    if not roles:
        _fail("--role: name at least one role (ingest, rules, incidents, delivery, audit, relay)", 2)
    settings = _settings(host=host, port=port)
    configure_logging(settings.log_level, settings.log_json, background=True)
    try:
        application = create_app(settings, roles=roles)
    except SafecityError as e:
        _fail(e.message)
    typer.echo(
        f"safecity worker ({', '.join(sorted(roles))}) on http://{settings.host}:{settings.port}/", err=True
    )
    _tune_gc()
    from safecity.hygiene.head_limit import server_options

    uvicorn.run(application, host=settings.host, port=settings.port, **server_options(settings))


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


_register_demo(app)
_register_backup(app, _settings, _fail)

#: capability names whose groups are mounted already, and each mounted group by its name: a group several
#: capabilities contribute to (``import``) is one Typer of its own holding the commands of each
_MOUNTED: set[str] = set()
_GROUPS: dict[str, typer.Typer] = {}


def _mount(cap: Capability) -> None:
    """The capability's groups, as ``safecity <name> ...`` (safecity.capability)."""
    if cap.name in _MOUNTED:
        return
    _MOUNTED.add(cap.name)
    if cap.cli is not None:
        app.add_typer(cap.cli, name=cap.name, help=cap.summary)
    for name, group in cap.cli_groups.items():
        merged = _GROUPS.get(name)
        if merged is None:
            merged = _GROUPS[name] = typer.Typer(help=group.info.help, no_args_is_help=True)
            app.add_typer(merged, name=name)
        # the click command is built when the command runs, so a group may grow until then
        merged.registered_commands.extend(group.registered_commands)
        merged.registered_groups.extend(group.registered_groups)


# The built-in capabilities (safecity.capability.BUILT_IN) are mounted when this module loads, so that
# tests and `python -m safecity` see every group; a city's own ones (SAFECITY_CAPABILITIES) by main(), once
# the settings are read.
for _builtin in BUILT_IN:
    _mount(load_capability(_builtin))
app.add_typer(bus_app, name="bus")


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
        _mount(cap)


def main() -> None:
    _mount_capabilities()
    try:
        app()
    except SafecityError as e:
        typer.echo(f"error: {e.message}", err=True)
        sys.exit(1)
