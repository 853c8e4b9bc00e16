# SPDX-License-Identifier: Apache-2.0
"""``safecity audit verify``: check the hash chain of the audit log; ``safecity audit head``: print its
head for the operator to keep elsewhere."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated

import typer

audit_app = typer.Typer(help="The tamper-evident audit log.", no_args_is_help=True)


@audit_app.command("verify")
def verify(
    json_out: Annotated[bool, typer.Option("--json", help="Print the result as JSON on stdout")] = False,
    head: Annotated[
        str | None,
        typer.Option(
            help="A head hash printed by an earlier verify and kept elsewhere: it must still be in the "
            "chain (detects a log cut short or rewritten to its end)",
        ),
    ] = None,
) -> None:
    """Recompute every entry's hash in order. Exit 0 when the chain is intact, 1 at the first break."""
    from sqlalchemy import inspect

    from safecity.audit.service import AuditLog
    from safecity.capability import cli_settings as _settings
    from safecity.store import open_store

    if head is not None and not re.fullmatch(r"[0-9a-f]{64}", head):
        typer.echo("error: --head: give the 64 hex digits a verify printed as 'head'", err=True)
        raise typer.Exit(2)
    store = open_store(_settings())
    try:
        if not inspect(store.engine).has_table("audit_log"):
            typer.echo("error: the store has no audit log yet; run `safecity migrate` first", err=True)
            raise typer.Exit(1)
        log = AuditLog(store)
        result = log.verify()
        kept = log.seq_of(head) if head is not None and result.intact else None
    finally:
        store.close()
    if json_out:
        typer.echo(
            json.dumps(
                {
                    "entries": result.entries,
                    "intact": result.intact,
                    "head": result.head,
                    "brokenSeq": result.broken_seq,
                    "reason": result.reason,
                }
            )
        )
    if result.intact and head is not None and kept is None:
        typer.echo(
            f"error: the head {head[:16]}... recorded earlier is not in the chain: entries after it "
            f"were cut off or the log was rewritten ({result.entries} entries now)",
            err=True,
        )
        raise typer.Exit(1)
    if result.intact:
        typer.echo(f"{result.entries} entries, chain intact (head {result.head})", err=json_out)
        return
    typer.echo(
        f"error: audit chain broken at seq {result.broken_seq}: {result.reason} "
        f"({result.entries} entries verified before it)",
        err=True,
    )
    raise typer.Exit(1)


@audit_app.command("head")
def head_cmd(
    append: Annotated[
        Path | None,
        typer.Option(
            help="Also append the line to this file: a place the operator keeps apart from the store "
            "(another machine, write-once media). `safecity audit verify --head <hash>` checks a kept head.",
            dir_okay=False,
        ),
    ] = None,
) -> None:
    """Print the audit chain's head, {"seq", "hash", "at"}, as one JSON line on stdout. Kept outside the
    store, it shows later whether the log was cut short or rewritten to its end (issue 13)."""
    from sqlalchemy import inspect, select

    from safecity.audit.tables import audit_log
    from safecity.capability import cli_settings as _settings
    from safecity.store import open_store

    store = open_store(_settings())
    try:
        if not inspect(store.engine).has_table("audit_log"):
            typer.echo("error: the store has no audit log yet; run `safecity migrate` first", err=True)
            raise typer.Exit(1)
        with store.engine.connect() as conn:
            last = conn.execute(
                select(audit_log.c.seq, audit_log.c.hash, audit_log.c.at)
                .order_by(audit_log.c.seq.desc())
                .limit(1)
            ).first()
    finally:
        store.close()
    if last is None:
        typer.echo("error: the audit log is empty; there is no head to keep yet", err=True)
        raise typer.Exit(1)
    at = last.at if isinstance(last.at, str) else last.at.isoformat()
    line = json.dumps({"seq": int(last.seq), "hash": str(last.hash), "at": at})
    typer.echo(line)
    if append is not None:
        try:
            with append.open("a", encoding="utf-8") as out:
                out.write(line + "\n")
        except OSError as e:
            typer.echo(f"error: --append: cannot write {append}: {e.strerror}", err=True)
            raise typer.Exit(1) from None
