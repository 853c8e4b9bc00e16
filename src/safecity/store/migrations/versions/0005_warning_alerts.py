"""warning alerts: CAP messages drafted, issued or imported, and their log

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 09:55:00

* ``warning_alerts``: one row per CAP message (identifier unique), its workflow state (draft, issued,
  rejected, superseded), msgType, the incident it warns of, the CAP JSON and, once issued, the XML.
* ``warning_alert_log``: who drafted, edited, approved, issued or rejected each alert, and when.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import safecity.store.types

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "warning_alerts",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("identifier", sa.String(), nullable=False),
        sa.Column("sender", sa.String(), nullable=False),
        sa.Column("state", sa.String(), nullable=False),
        sa.Column("msg_type", sa.String(), nullable=False),
        sa.Column("origin", sa.String(), nullable=False),
        sa.Column("incident_id", ID, nullable=True),
        sa.Column("hazard", sa.String(), nullable=True),
        sa.Column("level", sa.Integer(), nullable=True),
        sa.Column("auto", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("cap", JSON, nullable=False),
        sa.Column("xml", sa.Text(), nullable=True),
        sa.Column("districts", JSON, nullable=True),
        sa.Column("sent", safecity.store.types.Timestamp(), nullable=True),
        sa.Column("expires", safecity.store.types.Timestamp(), nullable=True),
        sa.Column("created_at", safecity.store.types.Timestamp(), nullable=False),
        sa.Column("updated_at", safecity.store.types.Timestamp(), nullable=False),
        sa.Column("created_by", sa.String(), nullable=False),
        sa.Column("decided_by", sa.String(), nullable=True),
        sa.Column("decided_at", safecity.store.types.Timestamp(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_warning_alerts")),
        sa.UniqueConstraint("identifier", name=op.f("uq_warning_alerts_identifier")),
    )
    with op.batch_alter_table("warning_alerts", schema=None) as batch_op:
        batch_op.create_index("ix_warning_alerts_state_sent", ["state", "sent"], unique=False)
        batch_op.create_index("ix_warning_alerts_incident", ["incident_id"], unique=False)
    op.create_table(
        "warning_alert_log",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("alert_id", ID, nullable=False),
        sa.Column("at", safecity.store.types.Timestamp(), nullable=False),
        sa.Column("actor", sa.String(), nullable=False),
        sa.Column("action", sa.String(), nullable=False),
        sa.Column("detail", JSON, nullable=True),
        sa.ForeignKeyConstraint(
            ["alert_id"],
            ["warning_alerts.id"],
            name=op.f("fk_warning_alert_log_alert_id_warning_alerts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_warning_alert_log")),
    )
    with op.batch_alter_table("warning_alert_log", schema=None) as batch_op:
        batch_op.create_index("ix_warning_alert_log_alert", ["alert_id", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("warning_alert_log", schema=None) as batch_op:
        batch_op.drop_index("ix_warning_alert_log_alert")
    op.drop_table("warning_alert_log")
    with op.batch_alter_table("warning_alerts", schema=None) as batch_op:
        batch_op.drop_index("ix_warning_alerts_incident")
        batch_op.drop_index("ix_warning_alerts_state_sent")
    op.drop_table("warning_alerts")
