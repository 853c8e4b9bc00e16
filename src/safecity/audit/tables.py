# SPDX-License-Identifier: Apache-2.0
"""The audit log table: append-only (triggers from migration 0008 refuse UPDATE and DELETE).

``seq`` is assigned by :class:`safecity.audit.service.AuditLog` while it holds the append lock, so the
sequence has no gaps and the chain no forks. ``details`` is the canonical JSON text that was hashed.
"""

from sqlalchemy import Column, Index, String, Table, Text, UniqueConstraint

from safecity.store.metadata import metadata
from safecity.store.types import IdType, Timestamp

audit_log = Table(
    "audit_log",
    metadata,
    Column("seq", IdType, primary_key=True, autoincrement=False),
    Column("at", Timestamp, nullable=False),
    Column("actor", String, nullable=False),  # principal name, "anonymous" or "system"
    Column("actor_kind", String, nullable=False),  # user | device | anonymous | system
    Column("action", String, nullable=False),  # http.POST, auth.login, alert.issued, personal.read ...
    Column("target", String, nullable=False),  # path or entity id
    Column("outcome", String, nullable=False),  # HTTP status or ok/failed
    Column("client", String),  # client address as seen by the server
    Column("request_id", String),
    Column("details", Text, nullable=False),
    Column("prev_hash", String, nullable=False),
    Column("hash", String, nullable=False),
    UniqueConstraint("hash"),
    Index("ix_audit_log_at", "at"),
    Index("ix_audit_log_actor", "actor", "seq"),
    Index("ix_audit_log_action", "action", "seq"),
    Index("ix_audit_log_target", "target"),
)
