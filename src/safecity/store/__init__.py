# SPDX-License-Identifier: Apache-2.0
"""The operational store: one port (:class:`Store`), an SQLite and a PostgreSQL adapter."""

from safecity.store.port import Store, open_store

__all__ = ["Store", "open_store"]
