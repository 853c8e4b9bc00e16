"""quake: damage assessments of incidents and their damage-map cells (the quake capability's branch)

Revision ID: quake_0001
Revises: (none: a capability's branch starts from nothing)
"""

import sqlalchemy as sa
from alembic import op

import safecity.store.types

revision = "quake_0001"
down_revision = None
branch_labels = ("quake",)
# the geometry column needs PostGIS, which the main chain's first revision installs
depends_on = "0001"


def upgrade() -> None:
    op.create_table(
        "quake_assessments",
        sa.Column("id", safecity.store.types.IdType, primary_key=True, autoincrement=True),
        sa.Column("incident_id", sa.Integer, nullable=False),
        sa.Column("current", sa.Boolean, nullable=False),
        sa.Column("at", safecity.store.types.Timestamp(), nullable=False),
        sa.Column("origin", sa.String, nullable=False),
        sa.Column("magnitude", sa.Float, nullable=False),
        sa.Column("lon", sa.Float, nullable=False),
        sa.Column("lat", sa.Float, nullable=False),
        sa.Column("depth_km", sa.Float, nullable=False),
        sa.Column("stations", sa.Integer, nullable=False),
        sa.Column("buildings", sa.Integer, nullable=False),
        sa.Column("generated", sa.Boolean, nullable=False),
        sa.Column("time_of_day", sa.String, nullable=False),
        sa.Column("readings", safecity.store.types.JSONDoc, nullable=False),
        sa.Column("report", safecity.store.types.JSONDoc, nullable=False),
    )
    op.create_index("ix_quake_assessments_incident_id", "quake_assessments", ["incident_id"])
    op.create_table(
        "quake_damage_cells",
        sa.Column("id", safecity.store.types.IdType, primary_key=True, autoincrement=True),
        sa.Column(
            "assessment_id",
            safecity.store.types.IdType,
            sa.ForeignKey("quake_assessments.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("incident_id", sa.Integer, nullable=False),
        sa.Column("current", sa.Boolean, nullable=False),
        sa.Column("geom", safecity.store.types.Geometry(), nullable=False),
        sa.Column("buildings", sa.Integer, nullable=False),
        sa.Column("p_none", sa.Float, nullable=False),
        sa.Column("p_slight", sa.Float, nullable=False),
        sa.Column("p_moderate", sa.Float, nullable=False),
        sa.Column("p_extensive", sa.Float, nullable=False),
        sa.Column("p_complete", sa.Float, nullable=False),
        sa.Column("collapses", sa.Float, nullable=False),
        sa.Column("pga_max_g", sa.Float, nullable=False),
        sa.Column("kma_intensity", sa.String, nullable=False),
        sa.Column("generated", sa.Boolean, nullable=False),
    )
    op.create_index("ix_quake_damage_cells_incident_id", "quake_damage_cells", ["incident_id"])


def downgrade() -> None:
    op.drop_table("quake_damage_cells")
    op.drop_table("quake_assessments")
