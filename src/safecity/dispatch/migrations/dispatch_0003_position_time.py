"""dispatch: when a unit's position was last known (its tracker's fix, or its return to quarters)

A tracker's fixes may arrive late or out of order (a unit's terminal buffers them in a tunnel, MQTT
redelivers): the time of the position kept lets an older fix be told from a newer one, so a unit never
jumps back along its route. NULL: never heard from a tracker.

Revision ID: dispatch_0003
Revises: dispatch_0002
"""

import sqlalchemy as sa
from alembic import op

from safecity.store.types import Timestamp

revision = "dispatch_0003"
down_revision = "dispatch_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("dispatch_units", sa.Column("position_at", Timestamp(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("dispatch_units") as batch:
        batch.drop_column("position_at")
