# SPDX-License-Identifier: Apache-2.0
"""Tables of the warning capability's alerts: every CAP message the platform drafted, issued or imported,
and what happened to each (who drafted, edited, approved, issued or rejected it, and when).

Subscriptions and deliveries have their own modules (subscription_tables, delivery_tables).
"""

from sqlalchemy import Boolean, Column, ForeignKey, Index, Integer, String, Table, Text

from safecity.store.metadata import metadata
from safecity.store.types import IdType, JSONDoc, Timestamp

alerts = Table(
    "warning_alerts",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("identifier", String, nullable=False, unique=True),  # CAP identifier
    Column("sender", String, nullable=False),
    # draft | issued | rejected | superseded (a draft replaced by a newer draft for the same incident)
    Column("state", String, nullable=False),
    Column("msg_type", String, nullable=False),  # CAP msgType: Alert | Update | Cancel
    Column("origin", String, nullable=False),  # "platform" (drafted here) | "import" (another agency's)
    Column("incident_id", IdType),  # platform alerts: the incident it warns of
    Column("hazard", String),
    Column("level", Integer),  # crisis level the alert was drafted for
    Column("auto", Boolean, nullable=False, server_default="0"),  # issued without waiting for approval
    Column("cap", JSONDoc, nullable=False),  # the CAP JSON rendition (safecity.warning.cap.json)
    Column("xml", Text),  # the CAP XML as issued (null while a draft)
    Column("districts", JSONDoc),  # district codes the alert targets (for per-area feeds)
    Column("sent", Timestamp),  # CAP sent, once issued
    Column("expires", Timestamp),
    Column("created_at", Timestamp, nullable=False),
    Column("updated_at", Timestamp, nullable=False),
    Column("created_by", String, nullable=False),
    Column("decided_by", String),  # who approved (issued) or rejected it
    Column("decided_at", Timestamp),
    Index("ix_warning_alerts_state_sent", "state", "sent"),
    Index("ix_warning_alerts_incident", "incident_id"),
)

alert_log = Table(
    "warning_alert_log",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("alert_id", IdType, ForeignKey("warning_alerts.id", ondelete="CASCADE"), nullable=False),
    Column("at", Timestamp, nullable=False),
    Column("actor", String, nullable=False),
    Column("action", String, nullable=False),  # drafted | edited | issued | auto-issued | rejected | imported
    Column("detail", JSONDoc),
    Index("ix_warning_alert_log_alert", "alert_id", "id"),
)
