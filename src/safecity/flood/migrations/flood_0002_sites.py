"""flood: imported sites (road underpasses, buildings with semi-basement homes)

Revision ID: flood_0002
Revises: flood_0001
"""

import sqlalchemy as sa
from alembic import op

import safecity.store.types

revision = "flood_0002"
down_revision = "flood_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "flood_sites",
        sa.Column("id", safecity.store.types.IdType, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("homes", sa.Integer, nullable=False),
        sa.Column("source", sa.String(300), nullable=False),
        sa.Column("generated", sa.Boolean, nullable=False),
        sa.Column("geom", safecity.store.types.Geometry(), nullable=False),
        sa.Column("imported_at", safecity.store.types.Timestamp(), nullable=False),
    )
    op.create_index("ix_flood_sites_kind", "flood_sites", ["kind"])


def downgrade() -> None:
    op.drop_index("ix_flood_sites_kind", "flood_sites")
    op.drop_table("flood_sites")
