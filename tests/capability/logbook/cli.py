# SPDX-License-Identifier: Apache-2.0
"""``safecity logbook ...``: opens the store from settings itself (a capability's CLI never imports
the app, which sits above every capability)."""

from __future__ import annotations

import typer

from safecity.capability import load_settings_of
from safecity.core.clock import SystemClock
from safecity.settings import load_settings
from safecity.store import open_store
from tests.capability.logbook.settings import LogbookSettings

cli = typer.Typer(help="The situation room's shift logbook.", no_args_is_help=True)


@cli.command("list")
def list_entries() -> None:
    """Print the entries, oldest first."""
    from tests.capability.logbook import setup
    from tests.capability.logbook.service import Logbook

    own = load_settings_of(setup())
    assert isinstance(own, LogbookSettings)
    store = open_store(load_settings())
    try:
        for e in Logbook(store, SystemClock(), own).entries():
            typer.echo(f"{e.id}\t{e.shift}\t{e.author}\t{e.text}")
    finally:
        store.close()
