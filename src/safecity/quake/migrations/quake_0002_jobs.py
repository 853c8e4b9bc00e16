"""quake: the queue of assessments the capability's worker runs off the bus dispatcher's thread

Revision ID: quake_0002
Revises: quake_0001
"""

import sqlalchemy as sa
from alembic import op

import safecity.store.types

revision = "quake_0002"
down_revision = "quake_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "quake_jobs",
        sa.Column("id", safecity.store.types.IdType, primary_key=True, autoincrement=True),
        sa.Column("envelope_id", sa.BigInteger, nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("payload", safecity.store.types.JSONDoc, nullable=False),
        sa.Column("queued_at", safecity.store.types.Timestamp(), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("done_at", safecity.store.types.Timestamp(), nullable=True),
        sa.Column("last_error", sa.String(500), nullable=True),
        sa.UniqueConstraint("envelope_id", name="uq_quake_jobs_envelope_id"),
    )


def downgrade() -> None:
    op.drop_table("quake_jobs")
