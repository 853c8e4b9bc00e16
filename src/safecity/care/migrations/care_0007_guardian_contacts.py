"""care: where a guardian is told of an alert (e-mail, webhook), through the warning capability's delivery

Revision ID: care_0007
Revises: care_0006
"""

import sqlalchemy as sa
from alembic import op

revision = "care_0007"
down_revision = "care_0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("care_guardians") as batch:
        batch.add_column(sa.Column("email", sa.String(200), nullable=True))
        batch.add_column(sa.Column("webhook_url", sa.String(500), nullable=True))
        batch.add_column(sa.Column("language", sa.String(5), nullable=False, server_default="ko"))


def downgrade() -> None:
    with op.batch_alter_table("care_guardians") as batch:
        batch.drop_column("language")
        batch.drop_column("webhook_url")
        batch.drop_column("email")
