"""situation: the official crisis alert level (위기경보) a person declares, beside the computed risk level

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 13:40:00

* ``situation_official_levels``: append-only declarations (hazard, area or "" for the whole city, level,
  note, who, when); the latest per (hazard, area) is in force. Indexed by (hazard, area, id).
"""

import sqlalchemy as sa
from alembic import op

import safecity.store.types

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "situation_official_levels",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("hazard", sa.String(), nullable=False),
        sa.Column("area", sa.String(), server_default=sa.text("''"), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("set_by", sa.String(), nullable=False),
        sa.Column("set_at", safecity.store.types.Timestamp(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_situation_official_levels_hazard_area",
        "situation_official_levels",
        ["hazard", "area", "id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_situation_official_levels_hazard_area", table_name="situation_official_levels")
    op.drop_table("situation_official_levels")
