# SPDX-License-Identifier: Apache-2.0
"""``safecity admin ...`` (people who run the platform) and ``safecity apikey ...`` (device keys).

The commands build the platform through :func:`safecity.capability.cli_context` (a key is checked
against sensing's Things, a user's creation is audited), never by importing the app above them.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from safecity.capability import cli_context, cli_fail, cli_settings
from safecity.core.errors import SafecityError

admin_app = typer.Typer(help="People who run the platform.", no_args_is_help=True)
apikey_app = typer.Typer(help="Device API keys.", no_args_is_help=True)


@admin_app.command("create")
def admin_create(
    ctx: typer.Context,
    name: str,
    role: Annotated[str, typer.Option(help="admin or operator")] = "admin",
) -> None:
    """Create a user. The password is read from SAFECITY_ADMIN_PASSWORD or from stdin."""
    from safecity.auth.model import Role
    from safecity.auth.service import AuthService

    settings = cli_settings()
    if role not in ("admin", "operator"):
        cli_fail(f"--role: use admin or operator, not '{role}'", code=2)
    password = settings.admin_password.get_secret_value() if settings.admin_password else None
    if password is None:
        if sys.stdin.isatty():
            password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
        else:
            password = sys.stdin.readline().rstrip("\n")
    auth = cli_context(ctx, settings).services.get(AuthService)
    try:
        uid = auth.create_user(name, password, {Role(role)})
    except SafecityError as e:
        cli_fail(e.message)
    typer.echo(f"created {role} '{name}' (id {uid})", err=True)


@apikey_app.command("create")
def apikey_create(
    ctx: typer.Context,
    thing: Annotated[int, typer.Option("--thing", help="Thing id the device belongs to")],
    label: Annotated[str | None, typer.Option(help="A note on where the key is used")] = None,
) -> None:
    """Create a device API key for a Thing and print it (send it as X-API-Key)."""
    from safecity.auth.service import AuthService

    auth = cli_context(ctx, cli_settings()).services.get(AuthService)
    try:
        key = auth.create_api_key(thing, label)
    except SafecityError as e:
        cli_fail(e.message)
    typer.echo(key)


@apikey_app.command("revoke")
def apikey_revoke(
    ctx: typer.Context,
    key: Annotated[
        str | None, typer.Argument(help="The key, or its first 12 characters (sck_...)", show_default=False)
    ] = None,
    thing: Annotated[int | None, typer.Option("--thing", help="Revoke every key of this Thing")] = None,
) -> None:
    """Revoke a device API key, or every key of a Thing. It stops working over HTTP and MQTT at once in
    this process and within 2 s in running servers (they look a key up again that often)."""
    from safecity.auth.service import AuthService

    if (key is None) == (thing is None):
        cli_fail("give a key (or its first 12 characters) or --thing, not both", code=2)
    auth = cli_context(ctx, cli_settings()).services.get(AuthService)
    try:
        n = auth.revoke_api_key(key) if key is not None else auth.revoke_api_keys(thing or 0)
    except SafecityError as e:
        cli_fail(e.message)
    if n == 0:
        cli_fail("no live key matches; it may be revoked already")
    typer.echo(f"revoked {n} key{'s' if n != 1 else ''}", err=True)
