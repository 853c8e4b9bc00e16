# SPDX-License-Identifier: Apache-2.0
"""The outbox: events written in the same transaction as the data they announce.

An event survives a crash between commit and delivery because it is only marked delivered after every
subscriber has seen it; on start-up the bus re-delivers what is still pending.
"""

from sqlalchemy import Column, Index, String, Table

from safecity.store.metadata import metadata
from safecity.store.types import IdType, JSONDoc, Timestamp

outbox = Table(
    "bus_outbox",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("topic", String, nullable=False),
    Column("payload", JSONDoc, nullable=False),
    Column("created_at", Timestamp, nullable=False),
    Column("delivered_at", Timestamp),
    Index("ix_bus_outbox_pending", "delivered_at", "id"),
)
