"""dispatch: when a hospital's capacity was last said, and by whom

Revision ID: dispatch_0006
Revises: dispatch_0005
"""

import sqlalchemy as sa
from alembic import op

from safecity.store.types import Timestamp

revision = "dispatch_0006"
down_revision = "dispatch_0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("dispatch_hospitals") as batch:
        batch.add_column(sa.Column("capacity_at", Timestamp, nullable=True))
        batch.add_column(sa.Column("capacity_by", sa.String(120), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("dispatch_hospitals") as batch:
        batch.drop_column("capacity_by")
        batch.drop_column("capacity_at")
