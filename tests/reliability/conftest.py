# SPDX-License-Identifier: Apache-2.0
"""Fixtures of the crash tests: a fresh store per server (embedded SQLite or a new PostgreSQL database)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import create_engine, text

from tests.conftest import PG_ADMIN_URL, service_missing


@pytest.fixture(params=["sqlite", "postgresql"])
def new_store(request: pytest.FixtureRequest) -> Iterator[Callable[[], str | None]]:
    """Call it for each server: None (SQLite under the server's data dir) or a new PostgreSQL database."""
    if request.param == "sqlite":
        yield lambda: None
        return
    try:
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as e:  # noqa: BLE001 - any failure to connect means the server is absent
        service_missing(f"PostgreSQL at {PG_ADMIN_URL} ({type(e).__name__})")
    made: list[str] = []

    def make() -> str:
        name = f"safecity_rel_{uuid.uuid4().hex[:10]}"
        with admin.connect() as conn:
            conn.execute(text(f"CREATE DATABASE {name}"))
        made.append(name)
        return PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql+psycopg", "postgresql") + f"/{name}"

    try:
        yield make
    finally:
        with admin.connect() as conn:
            for name in made:
                conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()
