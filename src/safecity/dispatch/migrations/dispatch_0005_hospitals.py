"""dispatch: hospitals with the patients each can take, and the hospital a transporting unit goes to

Revision ID: dispatch_0005
Revises: dispatch_0004
"""

import sqlalchemy as sa
from alembic import op

from safecity.store.types import IdType

revision = "dispatch_0005"
down_revision = "dispatch_0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dispatch_hospitals",
        sa.Column("id", IdType, primary_key=True),
        sa.Column("code", sa.String(60), nullable=False),
        sa.Column("name_ko", sa.String(200), nullable=False),
        sa.Column("name_en", sa.String(200), nullable=False),
        sa.Column("lon", sa.Float, nullable=False),
        sa.Column("lat", sa.Float, nullable=False),
        sa.Column("capacity", sa.Integer, nullable=False),
        sa.UniqueConstraint("code", name="uq_dispatch_hospitals_code"),
    )
    with op.batch_alter_table("dispatch_units") as batch:
        batch.add_column(sa.Column("hospital_id", IdType, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("dispatch_units") as batch:
        batch.drop_column("hospital_id")
    op.drop_table("dispatch_hospitals")
