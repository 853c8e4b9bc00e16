# SPDX-License-Identifier: Apache-2.0
"""``safecity backup DEST`` and ``safecity restore SRC`` (registered on the main command by ``register``)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from safecity.core.errors import SafecityError
from safecity.settings import Settings


def register(app: typer.Typer, settings: Callable[[], Settings], fail: Callable[..., None]) -> None:
    """Add the two commands; ``settings`` and ``fail`` are the main command's helpers (one error style)."""

    def echo(message: str) -> None:
        typer.echo(message, err=True)

    @app.command("backup")
    def backup_cmd(
        dest: Annotated[Path, typer.Argument(help="A new (or empty) folder to write the backup to")],
        json_out: Annotated[
            bool, typer.Option("--json", help="Print the manifest as JSON on stdout")
        ] = False,
    ) -> None:
        """Back up the store and the data directory, online: the server may keep running.

        SQLite: SQLite's online backup API; PostgreSQL: pg_dump -Fc (pg_dump must be installed).
        Settings as for serve [SAFECITY_DATA_DIR, SAFECITY_STORE_URL]."""
        from safecity.store.backup import backup, describe

        s = settings()
        try:
            manifest = backup(s, dest, progress=echo)
        except SafecityError as e:
            fail(e.message)
            return
        if json_out:
            typer.echo(json.dumps(manifest.to_json()))
        echo(f"{describe(manifest)}; written to {dest} in {manifest.seconds:.1f} s")

    @app.command("restore")
    def restore_cmd(
        src: Annotated[Path, typer.Argument(exists=True, file_okay=False, help="A backup folder")],
        force: Annotated[
            bool, typer.Option("--force", help="Replace a data directory or database that is not empty")
        ] = False,
        verify_only: Annotated[
            bool, typer.Option("--verify", help="Only check the backup's checksums; restore nothing")
        ] = False,
    ) -> None:
        """Restore a backup into the configured store and data directory. Stop the server first.

        Refuses a backup whose checksums do not match its manifest, and a non-empty data directory
        (or PostgreSQL database) unless --force [SAFECITY_DATA_DIR, SAFECITY_STORE_URL]."""
        from safecity.store.backup import describe, restore, verify

        s = settings()
        try:
            manifest = verify(src) if verify_only else restore(s, src, force=force, progress=echo)
        except SafecityError as e:
            fail(e.message)
            return
        echo(f"{'verified' if verify_only else 'restored'}: {describe(manifest)}")
