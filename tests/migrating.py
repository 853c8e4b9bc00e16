# SPDX-License-Identifier: Apache-2.0
"""Migrate a test database the way ``safecity serve`` does: the platform's chain and every built-in
capability's own Alembic branch.

Why every branch: the session's PostgreSQL database is shared by the tests of one worker, and a platform
started on it records its capabilities' revisions (``dispatch_0001`` …) in ``alembic_version``; a later
migration with the main chain alone then stops with "Can't locate revision". Migrating everything
everywhere keeps the database's history readable to every test.
"""

from __future__ import annotations

from safecity.capability import migration_folders, registered
from safecity.settings import Settings
from safecity.store.port import Store


def migrate_all(store: Store) -> None:
    store.migrate(migration_folders(registered(Settings())))
