"""care: index the consents by person (each batch of tracker fixes re-reads its people's consents)

Revision ID: care_0006
Revises: care_0005
"""

from alembic import op

revision = "care_0006"
down_revision = "care_0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_care_consents_person", "care_consents", ["person_id", "purpose"])


def downgrade() -> None:
    op.drop_index("ix_care_consents_person", table_name="care_consents")
