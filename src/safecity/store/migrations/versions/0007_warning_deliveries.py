"""warning deliveries: the queue of alert deliveries per recipient and channel

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25 10:00:00

* ``warning_deliveries``: one row per alert, subscription and channel (``idempotency_key`` unique, so a
  repeated enqueue writes nothing), its status, attempts, next attempt time and the rendered payload.
  Two partial indexes over pending rows (due order; a recipient's older pending rows) keep a worker's
  claim cheap however many rows were delivered before.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import safecity.store.types

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql")
PENDING = sa.text("status IN ('queued', 'retrying', 'sending')")


def upgrade() -> None:
    op.create_table(
        "warning_deliveries",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("identifier", sa.String(), nullable=False),
        sa.Column("subscription_id", ID, nullable=True),
        sa.Column("channel", sa.String(), nullable=False),
        sa.Column("address", sa.String(), nullable=False),
        sa.Column("idempotency_key", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", safecity.store.types.Timestamp(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("payload", JSON, nullable=False),
        sa.Column("created_at", safecity.store.types.Timestamp(), nullable=False),
        sa.Column("updated_at", safecity.store.types.Timestamp(), nullable=False),
        sa.Column("sent_at", safecity.store.types.Timestamp(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_warning_deliveries")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_warning_deliveries_idempotency_key")),
    )
    with op.batch_alter_table("warning_deliveries", schema=None) as batch_op:
        batch_op.create_index(
            "ix_warning_deliveries_due",
            ["next_attempt_at", "id"],
            unique=False,
            sqlite_where=PENDING,
            postgresql_where=PENDING,
        )
        batch_op.create_index("ix_warning_deliveries_identifier", ["identifier"], unique=False)
        batch_op.create_index(
            "ix_warning_deliveries_recipient",
            ["address", "channel", "id"],
            unique=False,
            sqlite_where=PENDING,
            postgresql_where=PENDING,
        )


def downgrade() -> None:
    with op.batch_alter_table("warning_deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_warning_deliveries_recipient")
        batch_op.drop_index("ix_warning_deliveries_identifier")
        batch_op.drop_index("ix_warning_deliveries_due")
    op.drop_table("warning_deliveries")
