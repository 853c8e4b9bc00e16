"""warning subscriptions: who receives alerts, where and through which channels

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25 10:00:00

* ``warning_subscriptions``: one row per subscription (person, system or anonymous citizen) with its
  language, audience, channels, the areas as given and their union as a geometry (GiST-indexed on
  PostgreSQL), the home point's lon/lat, the districts it touches, and the hash of an anonymous
  subscriber's self-service token (unique).
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import safecity.store.types

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "warning_subscriptions",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=True),
        sa.Column("language", sa.String(), nullable=False),
        sa.Column("audience", sa.String(), nullable=False),
        sa.Column("channels", JSON, nullable=False),
        sa.Column("areas", JSON, nullable=False),
        sa.Column("geom", safecity.store.types.Geometry(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("districts", JSON, nullable=True),
        sa.Column("active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("token_hash", sa.String(), nullable=True),
        sa.Column("created_by", sa.String(), nullable=True),
        sa.Column("created_at", safecity.store.types.Timestamp(), nullable=False),
        sa.Column("updated_at", safecity.store.types.Timestamp(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_warning_subscriptions")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_warning_subscriptions_token_hash")),
    )
    with op.batch_alter_table("warning_subscriptions", schema=None) as batch_op:
        batch_op.create_index("ix_warning_subscriptions_active_kind", ["active", "kind"], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE INDEX IF NOT EXISTS ix_warning_subscriptions_geom_gist "
            "ON warning_subscriptions USING gist (geom)"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_warning_subscriptions_geom_gist")
    with op.batch_alter_table("warning_subscriptions", schema=None) as batch_op:
        batch_op.drop_index("ix_warning_subscriptions_active_kind")
    op.drop_table("warning_subscriptions")
