"""dispatch: a call's reference to what suggested it (one call per predicted collapse)

``ref`` names the origin of a call the platform suggested rather than a caller made, e.g.
``quake:<incident>:<building>`` for a building the earthquake model predicts collapsed: unique, so that
the same prediction (a redelivered event, a new assessment of the same earthquake) suggests one call.

Revision ID: dispatch_0004
Revises: dispatch_0003
"""

import sqlalchemy as sa
from alembic import op

revision = "dispatch_0004"
down_revision = "dispatch_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("dispatch_calls") as batch:
        batch.add_column(sa.Column("ref", sa.String(120), nullable=True))
        batch.create_unique_constraint("uq_dispatch_calls_ref", ["ref"])


def downgrade() -> None:
    with op.batch_alter_table("dispatch_calls") as batch:
        batch.drop_constraint("uq_dispatch_calls_ref", type_="unique")
        batch.drop_column("ref")
