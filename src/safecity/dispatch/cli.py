# SPDX-License-Identifier: Apache-2.0
"""``safecity dispatch ...``: opens the store from settings itself (a capability's CLI never imports
the app, which sits above every capability)."""

from __future__ import annotations

import json
from typing import cast

import typer

dispatch_app = typer.Typer(help="119 dispatch: units, calls, simulation.", no_args_is_help=True)


@dispatch_app.command("units")
def list_units() -> None:
    """Print the unit board as JSON lines."""
    from safecity.capability import load_settings_of
    from safecity.core.clock import SystemClock
    from safecity.dispatch import setup
    from safecity.dispatch.service import Dispatch
    from safecity.dispatch.settings import DispatchSettings
    from safecity.settings import load_settings
    from safecity.store import open_store

    own = load_settings_of(setup())
    assert isinstance(own, DispatchSettings)
    store = open_store(load_settings())
    try:
        from safecity.bus.port import Bus

        for u in Dispatch(store, cast(Bus, _NoBus()), SystemClock(), own).units():
            typer.echo(json.dumps(u.public(), ensure_ascii=False))
    finally:
        store.close()


class _NoBus:
    """Reading the board publishes nothing."""

    def publish(self, *a: object, **k: object) -> None:
        raise RuntimeError("the dispatch CLI does not publish events")
