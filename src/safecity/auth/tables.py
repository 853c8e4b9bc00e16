# SPDX-License-Identifier: Apache-2.0
"""Tables of the auth capability: people, their roles, and device API keys (stored hashed)."""

from sqlalchemy import Boolean, Column, ForeignKey, String, Table, text

from safecity.store.metadata import metadata
from safecity.store.types import IdType, Timestamp

users = Table(
    "auth_users",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("username", String, nullable=False, unique=True),
    Column("password_hash", String, nullable=False),
    # Comma-separated role names; a user has few roles and they are read on every request.
    Column("roles", String, nullable=False),
    Column("active", Boolean, nullable=False, server_default=text("true")),
    Column("created_at", Timestamp, nullable=False),
)

api_keys = Table(
    "auth_api_keys",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    # The first characters of the key, stored in clear so a key can be found without hashing every row.
    Column("prefix", String, nullable=False, index=True),
    # SHA-256 of the whole key: device keys are long random strings, so a slow hash adds nothing.
    Column("key_hash", String, nullable=False, unique=True),
    Column("thing_id", IdType, ForeignKey("sta_things.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("label", String),
    Column("created_at", Timestamp, nullable=False),
    Column("revoked_at", Timestamp),
)
