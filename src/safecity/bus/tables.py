# SPDX-License-Identifier: Apache-2.0
"""The bus's tables: the outbox, one cursor per subscriber, and the dead letters.

* ``bus_outbox``: events written in the same transaction as the data they announce; one row is one
  :class:`~safecity.core.events.Envelope` (``topic`` is its type, ``payload`` its data, ``created_at``
  its time). ``delivered_at`` is set once every subscriber's cursor has passed the row; such rows are
  pruned after the retention period. Its ids are never given out twice (``sqlite_autoincrement``; a
  sequence on PostgreSQL): a cursor at an id pruned away must still be below the next event's id.
* ``bus_cursors``: per subscriber, the id of the last event it handled (``position``), and while a
  delivery fails, how often it failed, when it is tried next and the last error.
* ``bus_dead_letters``: an event a subscriber failed on ``max_attempts`` times, with the whole envelope
  (so it survives the outbox's pruning), until an operator replays it.
"""

from sqlalchemy import Column, Index, Integer, String, Table, Text

from safecity.store.metadata import metadata
from safecity.store.types import IdType, JSONDoc, Timestamp

outbox = Table(
    "bus_outbox",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("topic", String, nullable=False),
    Column("version", Integer, nullable=False, server_default="1"),
    Column("source", String, nullable=False, server_default=""),
    Column("key", String, nullable=False, server_default=""),
    Column("payload", JSONDoc, nullable=False),
    Column("created_at", Timestamp, nullable=False),
    Column("delivered_at", Timestamp),
    Index("ix_bus_outbox_pending", "delivered_at", "id"),
    sqlite_autoincrement=True,
)

cursors = Table(
    "bus_cursors",
    metadata,
    Column("subscriber", String, primary_key=True),
    Column("position", IdType, nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("retry_at", Timestamp),
    Column("last_error", Text),
    Column("updated_at", Timestamp, nullable=False),
)

dead_letters = Table(
    "bus_dead_letters",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("subscriber", String, nullable=False),
    Column("event_id", IdType, nullable=False),
    Column("topic", String, nullable=False),
    Column("version", Integer, nullable=False),
    Column("source", String, nullable=False),
    Column("key", String, nullable=False),
    Column("payload", JSONDoc, nullable=False),
    Column("event_time", Timestamp, nullable=False),
    Column("error", Text, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("failed_at", Timestamp, nullable=False),
    Column("replay_requested_at", Timestamp),
    Column("replay_requested_by", String),
    Column("replayed_at", Timestamp),
    Index("ix_bus_dead_letters_subscriber", "subscriber", "replayed_at", "event_id"),
)
