# SPDX-License-Identifier: Apache-2.0
"""Alembic environment: the engine is handed in by :mod:`safecity.store.migrate`."""

from alembic import context

# Each capability's tables register on the shared metadata when imported.
import safecity.audit.tables
import safecity.auth.tables
import safecity.bus.tables
import safecity.evacuation.tables
import safecity.geo.tables
import safecity.sensing.tables
import safecity.situation.tables
import safecity.warning.delivery_tables
import safecity.warning.subscription_tables
import safecity.warning.tables  # noqa: F401
from safecity.store.metadata import metadata

engine = context.config.attributes["engine"]
with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
