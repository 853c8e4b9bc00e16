# SPDX-License-Identifier: Apache-2.0
"""An audit log on each store, with the schema the migrations create, opened as often as a test needs
(several stores on one database stand for several processes)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from safecity.store import Store
from safecity.store.postgres import PostgresStore
from safecity.store.sqlite import SQLiteStore
from tests.migrating import migrate_all


@pytest.fixture(params=["sqlite", "postgresql"])
def open_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], Store]]:
    """Opens stores on one fresh, migrated database (several stores stand for several processes)."""
    opened: list[Store] = []
    url = (
        f"sqlite:///{tmp_path / 'audit.db'}"
        if request.param == "sqlite"
        else request.getfixturevalue("pg_url")
    )

    def opener() -> Store:
        s: Store = SQLiteStore(url) if request.param == "sqlite" else PostgresStore(url)
        opened.append(s)
        return s

    first = opener()
    migrate_all(first)
    if request.param == "postgresql":
        # pg_url is one database for the session; TRUNCATE is not refused (row triggers do not see
        # it), so each test starts with an empty log
        with first.engine.begin() as conn:
            conn.execute(text("TRUNCATE audit_log"))

    yield opener
    for s in opened:
        s.close()
