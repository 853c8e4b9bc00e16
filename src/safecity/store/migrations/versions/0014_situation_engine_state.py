"""situation: the rule engine's state by district, and the conditions there (several processes)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-08 01:30:00

``situation_engine_state``: one row per ordering key of the observation events (``district:<code>``,
``observations``): the engine's state (windows, levels, timers) at an event position, so a restart or a
change of partition resumes from it and the events after it; and the conditions at a level, which every
process serves on the board.
"""

import sqlalchemy as sa
from alembic import op

from safecity.store.types import JSONDoc, Timestamp

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "situation_engine_state",
        sa.Column("key", sa.String(), primary_key=True),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.LargeBinary()),
        sa.Column("taken_at", Timestamp()),
        sa.Column("conditions", JSONDoc, nullable=False),
        sa.Column("conditions_at", Timestamp(), nullable=False),
        sa.Column("engine", sa.String(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("situation_engine_state")
