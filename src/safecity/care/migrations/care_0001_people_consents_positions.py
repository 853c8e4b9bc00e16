"""care: people, guardians, consents, devices, positions, access records, notices (its own branch)

Revision ID: care_0001
Revises: (none: a capability's branch starts from nothing)
"""

import sqlalchemy as sa
from alembic import op

from safecity.store.types import IdType, JSONDoc, Timestamp

revision = "care_0001"
down_revision = None
branch_labels = ("care",)
# after the main chain's first revision: it installs PostGIS (geometry columns) and makes the tables
# a fresh database needs before any capability's
depends_on = "0001"


def upgrade() -> None:
    op.create_table(
        "care_people",
        sa.Column("id", IdType, primary_key=True),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("birth_date", sa.Date, nullable=True),
        sa.Column("ward", sa.Boolean, nullable=False),
        sa.Column("home_lon", sa.Float, nullable=True),
        sa.Column("home_lat", sa.Float, nullable=True),
        sa.Column("notify_mode", sa.String(10), nullable=False),
        sa.Column("created_at", Timestamp(), nullable=False),
        sa.Column("created_by", sa.String(120), nullable=False),
    )
    op.create_table(
        "care_guardians",
        sa.Column("id", IdType, primary_key=True),
        sa.Column("person_id", IdType, sa.ForeignKey("care_people.id", ondelete="CASCADE"), nullable=False),
        sa.Column("username", sa.String(120), nullable=False),
        sa.Column("relation", sa.String(40), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("legal", sa.Boolean, nullable=False),
        sa.Column("phone", sa.String(40), nullable=True),
        sa.UniqueConstraint("person_id", "username", name="uq_care_guardians_person_user"),
    )
    op.create_table(
        "care_consents",
        sa.Column("id", IdType, primary_key=True),
        sa.Column("person_id", IdType, sa.ForeignKey("care_people.id", ondelete="CASCADE"), nullable=False),
        sa.Column("purpose", sa.String(20), nullable=False),
        sa.Column("basis", sa.String(24), nullable=False),
        sa.Column("given_by", sa.String(120), nullable=False),
        sa.Column("written", sa.Boolean, nullable=False),
        sa.Column("document_ref", sa.String(200), nullable=True),
        sa.Column("given_at", Timestamp(), nullable=False),
        sa.Column("recorded_by", sa.String(120), nullable=False),
        sa.Column("withdrawn_at", Timestamp(), nullable=True),
        sa.Column("withdrawn_by", sa.String(120), nullable=True),
    )
    op.create_table(
        "care_devices",
        sa.Column("id", IdType, primary_key=True),
        sa.Column("person_id", IdType, sa.ForeignKey("care_people.id", ondelete="CASCADE"), nullable=False),
        sa.Column("protocol", sa.String(12), nullable=False),
        sa.Column("topic_id", sa.String(200), nullable=True),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("created_at", Timestamp(), nullable=False),
        sa.UniqueConstraint("topic_id", name="uq_care_devices_topic_id"),
        sa.UniqueConstraint("key_hash", name="uq_care_devices_key_hash"),
    )
    op.create_table(
        "care_positions",
        sa.Column("id", IdType, primary_key=True),
        sa.Column("person_id", IdType, sa.ForeignKey("care_people.id", ondelete="CASCADE"), nullable=False),
        sa.Column("device_id", IdType, sa.ForeignKey("care_devices.id", ondelete="CASCADE"), nullable=False),
        sa.Column("at", Timestamp(), nullable=False),
        sa.Column("lon", sa.Float, nullable=False),
        sa.Column("lat", sa.Float, nullable=False),
        sa.Column("accuracy_m", sa.Float, nullable=True),
        sa.Column("speed_ms", sa.Float, nullable=True),
        sa.Column("bearing", sa.Float, nullable=True),
        sa.Column("altitude_m", sa.Float, nullable=True),
        sa.Column("battery", sa.Float, nullable=True),
        sa.Column("received_at", Timestamp(), nullable=False),
        sa.UniqueConstraint("device_id", "at", name="uq_care_positions_device_at"),
    )
    op.create_index("ix_care_positions_person_at", "care_positions", ["person_id", "at"])
    op.create_table(
        "care_access",
        sa.Column("id", IdType, primary_key=True),
        sa.Column("person_id", IdType, sa.ForeignKey("care_people.id", ondelete="CASCADE"), nullable=False),
        sa.Column("at", Timestamp(), nullable=False),
        sa.Column("action", sa.String(10), nullable=False),
        sa.Column("actor", sa.String(120), nullable=False),
        sa.Column("recipient", sa.String(120), nullable=True),
        sa.Column("purpose", sa.String(300), nullable=False),
        sa.Column("count", sa.Integer, nullable=False),
        sa.Column("first_at", Timestamp(), nullable=True),
        sa.Column("last_at", Timestamp(), nullable=True),
        sa.Column("notice_id", IdType, nullable=True),
    )
    op.create_index("ix_care_access_person_at", "care_access", ["person_id", "at"])
    op.create_table(
        "care_notices",
        sa.Column("id", IdType, primary_key=True),
        sa.Column("person_id", IdType, sa.ForeignKey("care_people.id", ondelete="CASCADE"), nullable=False),
        sa.Column("addressed_to", sa.String(120), nullable=False),
        sa.Column("opened_at", Timestamp(), nullable=False),
        sa.Column("sent_at", Timestamp(), nullable=True),
        sa.Column("provisions", sa.Integer, nullable=False),
        sa.Column("body", JSONDoc, nullable=False),
    )


def downgrade() -> None:
    for name in (
        "care_notices",
        "care_access",
        "care_positions",
        "care_devices",
        "care_consents",
        "care_guardians",
        "care_people",
    ):
        op.drop_table(name)
