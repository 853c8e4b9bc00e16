"""evacuation: a shelter's capacity may be unknown (NULL)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 15:55:00

A dataset imported without a capacity column used to give its shelters capacity 0, which the citizen
page showed as "0 places" and which kept them out of routing (issue 12). NULL now means "not known":
the shelter is shown as "capacity unknown", routing may still send people there, and area plans leave
it out and list it. The CHECK constraints stay as they are: SQL's CHECK passes on NULL.
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("evac_shelters", schema=None) as batch_op:
        batch_op.alter_column("capacity", existing_type=sa.Integer(), nullable=True)


def downgrade() -> None:
    # Unknown becomes 0 again (the old meaning: takes nobody until an operator sets it).
    op.execute("UPDATE evac_shelters SET capacity = 0 WHERE capacity IS NULL")
    with op.batch_alter_table("evac_shelters", schema=None) as batch_op:
        batch_op.alter_column("capacity", existing_type=sa.Integer(), nullable=False)
