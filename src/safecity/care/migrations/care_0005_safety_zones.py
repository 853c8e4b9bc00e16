"""care: school zones and crash hotspots (map layers, the guardian safety note)

Revision ID: care_0005
Revises: care_0004
"""

import sqlalchemy as sa
from alembic import op

from safecity.store.types import Geometry, IdType, Timestamp

revision = "care_0005"
down_revision = "care_0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "care_safety_zones",
        sa.Column("id", IdType, primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("source", sa.String(300), nullable=False),
        sa.Column("generated", sa.Boolean, nullable=False),
        sa.Column("geom", Geometry(), nullable=False),
        sa.Column("imported_at", Timestamp(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("care_safety_zones")
