# SPDX-License-Identifier: Apache-2.0
"""The delivery queue of the warning capability: one row per alert, recipient and channel.

A row is written in the same transaction that issues the alert, so an issued alert always has its
deliveries. ``idempotency_key`` is unique: enqueueing the same alert for the same subscription and
channel again writes nothing (no recipient gets the same alert twice). ``payload`` holds the message
rendered for that recipient, so a retry after a restart needs nothing else.

Status: ``queued`` (waiting for its first attempt) → ``sending`` (claimed by a worker until
``next_attempt_at``, its lease) → ``sent`` (handed to the next hop: SMTP server, SMS gateway) or
``delivered`` (the receiver confirmed: webhook 2xx, Mastodon post, SSE publication); a temporary
failure goes to ``retrying`` (again at ``next_attempt_at``); a permanent failure, or retries beyond
the give-up age, to ``dead``; ``failed`` means it could not be attempted here (its channel is not
configured). Operators can put ``dead`` and ``failed`` rows back to ``queued``.
"""

from sqlalchemy import Column, Index, Integer, String, Table, Text

from safecity.store.metadata import metadata
from safecity.store.types import IdType, JSONDoc, Timestamp

#: Statuses still on their way (a worker may claim them once due).
PENDING = ("queued", "retrying", "sending")

deliveries = Table(
    "warning_deliveries",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("identifier", String, nullable=False),  # CAP identifier of the alert
    Column("subscription_id", IdType),  # null for broadcast channels (sse, mastodon)
    Column("channel", String, nullable=False),  # email | webhook | sms | sse | mastodon
    Column("address", String, nullable=False),  # e-mail, URL, phone number; "" for broadcasts
    # f"{identifier}|{subscription_id or '*'}|{channel}", also sent to the receiver
    Column("idempotency_key", String, nullable=False, unique=True),
    Column("status", String, nullable=False),  # queued|sending|sent|delivered|failed|retrying|dead
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", Timestamp),  # due time (queued, retrying) or lease end (sending)
    Column("last_error", Text),
    Column("payload", JSONDoc, nullable=False),  # {"message": ..., "recipient": ...}
    Column("created_at", Timestamp, nullable=False),
    Column("updated_at", Timestamp, nullable=False),
    Column("sent_at", Timestamp),
    Index("ix_warning_deliveries_identifier", "identifier"),
)
# Two partial indexes of pending rows only, so a claim costs the same after a million delivered rows:
# it reads pending rows in due order and stops at its batch size, and checks each against the
# recipient's older pending rows (delivery in queue order). Declared after the table: the predicates
# refer to its column, and must stay identical to the claim query's.
Index(
    "ix_warning_deliveries_recipient",
    # address first: a claim's "channel IN (...)" must not make the planner prefer this index over the
    # due one (it would then sort every pending row of the channel)
    deliveries.c.address,
    deliveries.c.channel,
    deliveries.c.id,
    sqlite_where=deliveries.c.status.in_(PENDING),
    postgresql_where=deliveries.c.status.in_(PENDING),
)
Index(
    "ix_warning_deliveries_due",
    deliveries.c.next_attempt_at,
    deliveries.c.id,
    sqlite_where=deliveries.c.status.in_(PENDING),
    postgresql_where=deliveries.c.status.in_(PENDING),
)
