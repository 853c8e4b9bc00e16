# SPDX-License-Identifier: Apache-2.0
"""Migration 0015 on a SQLite database that already has events: the outbox keeps its rows and their ids,
and the next event's id is above every id given out before, even when the outbox was pruned empty
(the subscribers' cursors and the dead letters' events remember those ids)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import insert, select

from safecity.bus import outbox as ob
from safecity.bus.tables import dead_letters, outbox
from safecity.settings import MqttSettings, Settings
from safecity.store import open_store
from safecity.store.migrate import upgrade

T0 = datetime(2026, 12, 8, 2, 0, tzinfo=UTC)


def _row(n: int) -> dict[str, object]:
    return {
        "topic": "bustest.Ping",
        "source": "bustest",
        "key": "a",
        "payload": {"k": "a", "n": n},
        "created_at": T0,
    }


@pytest.mark.parametrize(
    ("kept", "cursor", "dead", "next_id"),
    [
        ([4, 5], 5, None, 6),  # rows kept: their ids stay, the next follows them
        ([], 7, None, 8),  # pruned empty: the cursors remember 7
        ([], 3, 9, 10),  # a dead letter's event outlived its row
    ],
)
def test_migration_keeps_the_rows_and_never_gives_an_id_out_again(
    tmp_path: Path, kept: list[int], cursor: int, dead: int | None, next_id: int
) -> None:
    store = open_store(Settings(data_dir=tmp_path, mqtt=MqttSettings(enabled=False)))
    try:
        upgrade(store.engine, "0014")
        with store.write() as conn:
            for i in range(1, max(kept, default=0) + 1):
                conn.execute(insert(outbox).values(id=i, **_row(i)))
            conn.execute(outbox.delete().where(outbox.c.id.not_in(kept)))
            ob.save_cursors(conn, [ob.Cursor("rec", cursor)], T0)
            if dead is not None:
                row = ob.Row(dead, "bustest.Ping", 1, "bustest", "a", {"k": "a", "n": dead}, T0)
                ob.add_dead_letter(conn, "rec", row, "ValueError: x", 3, T0)
        upgrade(store.engine, "0015")
        with store.write() as conn:
            assert [r.id for r in conn.execute(select(outbox.c.id).order_by(outbox.c.id))] == kept
            assert ob.append(conn, _row(0)) == next_id
            conn.execute(outbox.delete())  # pruned empty again: still never reused
        with store.write() as conn:
            assert ob.append(conn, _row(0)) == next_id + 1
            assert conn.execute(select(dead_letters.c.event_id)).scalars().all() == ([dead] if dead else [])
    finally:
        store.close()
