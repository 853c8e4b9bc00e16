"""situation tables: incidents, their timeline and links, stored rule versions

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 08:42:40

* ``situation_incidents``: one row per situation (rule-detected or reported by hand), its crisis level,
  lifecycle status with who and when, event times (opened, last activity, cleared) and wall-clock times.
  Indexed by (status, hazard) for the open incidents loaded at start-up and the list filters.
* ``situation_incident_timeline``: everything that happened to an incident, in order; indexed by
  (incident, id) for one incident's history and by (rule, kind) for rule tuning statistics.
* ``situation_incident_links``: affected areas, datastreams, things, observations, links and the
  conditions (rule × subject, with current level and since when); unique per (incident, kind, ref).
* ``situation_rules``: every version of every rule the engine has loaded (from a file or the API).
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import safecity.store.types

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "situation_incidents",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("hazard", sa.String(), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("base_level", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("title_ko", sa.String(), nullable=False),
        sa.Column("title_en", sa.String(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("source_note", sa.Text(), nullable=True),
        sa.Column("rule_id", sa.String(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("opened_at", safecity.store.types.Timestamp(), nullable=False),
        sa.Column("opened_by", sa.String(), nullable=False),
        sa.Column("last_activity_at", safecity.store.types.Timestamp(), nullable=False),
        sa.Column("cleared_at", safecity.store.types.Timestamp(), nullable=True),
        sa.Column("status_changed_at", safecity.store.types.Timestamp(), nullable=False),
        sa.Column("status_changed_by", sa.String(), nullable=False),
        sa.Column("closed_at", safecity.store.types.Timestamp(), nullable=True),
        sa.Column("closed_by", sa.String(), nullable=True),
        sa.Column("dismissed_reason", sa.Text(), nullable=True),
        sa.Column("created_at", safecity.store.types.Timestamp(), nullable=False),
        sa.Column("updated_at", safecity.store.types.Timestamp(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_situation_incidents")),
    )
    with op.batch_alter_table("situation_incidents", schema=None) as batch_op:
        batch_op.create_index("ix_situation_incidents_hazard_opened", ["hazard", "opened_at"], unique=False)
        batch_op.create_index("ix_situation_incidents_rule_id", ["rule_id"], unique=False)
        batch_op.create_index("ix_situation_incidents_status_hazard", ["status", "hazard"], unique=False)

    op.create_table(
        "situation_rules",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("rule_id", sa.String(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column(
            "body", sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"), nullable=False
        ),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("created_by", sa.String(), nullable=False),
        sa.Column("created_at", safecity.store.types.Timestamp(), nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.text("(true)"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_situation_rules")),
        sa.UniqueConstraint("rule_id", "version", name=op.f("uq_situation_rules_rule_id_version")),
    )
    op.create_table(
        "situation_incident_links",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("incident_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("ref", sa.String(), nullable=False),
        sa.Column("rule_id", sa.String(), nullable=True),
        sa.Column("level", sa.Integer(), nullable=True),
        sa.Column("since", safecity.store.types.Timestamp(), nullable=True),
        sa.Column(
            "data", sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"), nullable=True
        ),
        sa.Column("created_at", safecity.store.types.Timestamp(), nullable=False),
        sa.Column("updated_at", safecity.store.types.Timestamp(), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["situation_incidents.id"],
            name=op.f("fk_situation_incident_links_incident_id_situation_incidents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_situation_incident_links")),
        sa.UniqueConstraint(
            "incident_id", "kind", "ref", name=op.f("uq_situation_incident_links_incident_id_kind_ref")
        ),
    )
    with op.batch_alter_table("situation_incident_links", schema=None) as batch_op:
        batch_op.create_index("ix_situation_incident_links_kind_ref", ["kind", "ref"], unique=False)

    op.create_table(
        "situation_incident_timeline",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("incident_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("at", safecity.store.types.Timestamp(), nullable=False),
        sa.Column("recorded_at", safecity.store.types.Timestamp(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("actor", sa.String(), nullable=False),
        sa.Column("rule_id", sa.String(), nullable=True),
        sa.Column("level", sa.Integer(), nullable=True),
        sa.Column("detail_ko", sa.Text(), nullable=False),
        sa.Column("detail_en", sa.Text(), nullable=False),
        sa.Column(
            "data", sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"), nullable=True
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["situation_incidents.id"],
            name=op.f("fk_situation_incident_timeline_incident_id_situation_incidents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_situation_incident_timeline")),
    )
    with op.batch_alter_table("situation_incident_timeline", schema=None) as batch_op:
        batch_op.create_index("ix_situation_incident_timeline_incident", ["incident_id", "id"], unique=False)
        batch_op.create_index("ix_situation_incident_timeline_rule_kind", ["rule_id", "kind"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("situation_incident_timeline", schema=None) as batch_op:
        batch_op.drop_index("ix_situation_incident_timeline_rule_kind")
        batch_op.drop_index("ix_situation_incident_timeline_incident")

    op.drop_table("situation_incident_timeline")
    with op.batch_alter_table("situation_incident_links", schema=None) as batch_op:
        batch_op.drop_index("ix_situation_incident_links_kind_ref")

    op.drop_table("situation_incident_links")
    op.drop_table("situation_rules")
    with op.batch_alter_table("situation_incidents", schema=None) as batch_op:
        batch_op.drop_index("ix_situation_incidents_status_hazard")
        batch_op.drop_index("ix_situation_incidents_rule_id")
        batch_op.drop_index("ix_situation_incidents_hazard_opened")

    op.drop_table("situation_incidents")
