"""sensing: a city's own ObservedProperties mapped to catalogue keys

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 14:20:00

* ``sensing_property_mappings``: an administrator's mapping of a foreign ObservedProperty, by its
  definition URI or by its name (``match_kind``), to a catalogue key, so the rules read the city's own
  sensors; one mapping per (kind, normalised value).
"""

import sqlalchemy as sa
from alembic import op

import safecity.store.types

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "sensing_property_mappings",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("match_kind", sa.String(), nullable=False),
        sa.Column("match_value", sa.String(), nullable=False),
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("created_by", sa.String(), nullable=False),
        sa.Column("created_at", safecity.store.types.Timestamp(), nullable=False),
        sa.CheckConstraint(
            "match_kind IN ('definition', 'name')", name=op.f("ck_sensing_property_mappings_kind")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sensing_property_mappings")),
        sa.UniqueConstraint(
            "match_kind", "match_value", name=op.f("uq_sensing_property_mappings_match_kind_match_value")
        ),
    )


def downgrade() -> None:
    op.drop_table("sensing_property_mappings")
