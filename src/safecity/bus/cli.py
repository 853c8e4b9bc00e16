# SPDX-License-Identifier: Apache-2.0
"""``safecity bus``: subscribers' positions, dead letters and their replay, outbox pruning.

These read and write the store directly, so they work while the server runs (which performs a
requested replay within a second) and while it is down (the replay waits for its next start). A replay
is announced on the bus, and the audit log records who asked for it.
"""

from __future__ import annotations

import getpass
import json
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from safecity.bus.inprocess import InProcessBus
    from safecity.store import Store

bus_app = typer.Typer(help="The event bus: subscribers, dead letters, outbox.", no_args_is_help=True)


def _open() -> tuple[InProcessBus, Store]:
    # imported here, not at the top: `safecity --help` must not load the store's drivers
    from pydantic import ValidationError
    from sqlalchemy import inspect

    from safecity.bus.inprocess import InProcessBus
    from safecity.settings import load_settings
    from safecity.store import open_store

    try:
        settings = load_settings()
    except ValidationError as e:
        first = e.errors()[0]
        typer.echo(f"error: setting {'.'.join(str(p) for p in first['loc'])}: {first['msg']}", err=True)
        raise typer.Exit(2) from None
    store = open_store(settings)
    # Not migrated here: `safecity migrate` (or serve) brings the schema up with every capability's
    # Alembic branch, which this layer does not know; migrating the main chain alone fails on a store
    # that carries those branches. These commands need only the bus's tables.
    if not inspect(store.engine).has_table("bus_outbox"):
        store.close()
        typer.echo(
            "error: the store has no bus tables yet; run `safecity migrate` first "
            "(저장소에 버스 테이블이 아직 없습니다. 먼저 `safecity migrate`를 실행하세요)",
            err=True,
        )
        raise typer.Exit(1)
    return InProcessBus(store, settings=settings.bus), store


@bus_app.command("status")
def status(json_out: Annotated[bool, typer.Option("--json", help="Print JSON on stdout")] = False) -> None:
    """Each subscriber's position and retry state, and the outbox depth."""
    from safecity.bus import outbox as ob

    _, store = _open()
    try:
        with store.engine.connect() as conn:
            cursors = ob.all_cursors(conn)
            pending = ob.pending(conn)
    finally:
        store.close()
    rows = [
        {
            "subscriber": c.subscriber,
            "position": c.position,
            "attempts": c.attempts,
            "retryAt": c.retry_at.isoformat() if c.retry_at else None,
            "lastError": c.last_error,
        }
        for c in cursors
    ]
    if json_out:
        typer.echo(json.dumps({"subscribers": rows, "pending": pending}, ensure_ascii=False))
        return
    for r in rows:
        state = (
            f"failing ({r['attempts']}x, next {r['retryAt']}): {r['lastError']}" if r["attempts"] else "ok"
        )
        typer.echo(f"{r['subscriber']}\tat {r['position']}\t{state}")
    typer.echo(f"{pending} events not yet delivered to every subscriber", err=True)


@bus_app.command("dead")
def dead(
    subscriber: Annotated[str | None, typer.Option(help="Only this subscriber's")] = None,
    replayed: Annotated[bool, typer.Option("--replayed", help="Also those already replayed")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON on stdout")] = False,
) -> None:
    """List the events a subscriber gave up on (after SAFECITY_BUS__MAX_ATTEMPTS failures)."""
    bus, store = _open()
    try:
        letters = bus.dead_letters(subscriber, include_replayed=replayed)
    finally:
        store.close()
    if json_out:
        typer.echo(json.dumps({"deadLetters": [d.to_json() for d in letters]}, ensure_ascii=False))
        return
    for d in letters:
        done = f"replayed {d.replayed_at.isoformat()}" if d.replayed_at else "dead"
        if d.replay_requested_at and not d.replayed_at:
            done = f"replay requested by {d.replay_requested_by}"
        typer.echo(
            f"{d.id}\t{d.subscriber}\tevent {d.event.id} {d.event.type}\t{d.attempts} attempts\t{done}\t{d.error}"
        )
    typer.echo(f"{len(letters)} dead letters", err=True)


@bus_app.command("replay")
def replay(
    dead_letter_id: Annotated[int, typer.Argument(min=1, help="The id `safecity bus dead` printed")],
    actor: Annotated[
        str | None, typer.Option("--as", help="Who asks, for the audit log (default: cli:<login name>)")
    ] = None,
) -> None:
    """Deliver a dead letter to its subscriber again (the running server does it within a second)."""
    from safecity.core.errors import SafecityError

    bus, store = _open()
    try:
        letter = bus.replay(dead_letter_id, actor or f"cli:{getpass.getuser()}")
    except SafecityError as e:
        typer.echo(f"error: {e.message}", err=True)
        raise typer.Exit(1) from None
    finally:
        store.close()
    typer.echo(
        f"replay of dead letter {letter.id} ({letter.event.type} for {letter.subscriber}) requested", err=True
    )


@bus_app.command("prune")
def prune() -> None:
    """Delete events delivered to every subscriber longer ago than SAFECITY_BUS__RETENTION_HOURS."""
    bus, store = _open()
    try:
        n = bus.prune()
    finally:
        store.close()
    typer.echo(f"{n} events pruned", err=True)
