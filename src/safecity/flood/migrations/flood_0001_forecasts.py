"""flood: forecast runs, their depth areas and places (the flood capability's own branch)

Revision ID: flood_0001
Revises: (none: a capability's branch starts from nothing)
"""

import sqlalchemy as sa
from alembic import op

import safecity.store.types

revision = "flood_0001"
down_revision = None
branch_labels = ("flood",)
# after the main chain's first revision: it installs PostGIS (geometry columns) and makes the tables
# a fresh database needs before any capability's
depends_on = "0001"


def upgrade() -> None:
    t = safecity.store.types
    op.create_table(
        "flood_forecast_runs",
        sa.Column("id", t.IdType, primary_key=True, autoincrement=True),
        sa.Column("issued_at", t.Timestamp(), nullable=False),
        sa.Column("valid_until", t.Timestamp(), nullable=False),
        sa.Column("cell_m", sa.Float, nullable=False),
        sa.Column("cells", sa.Integer, nullable=False),
        sa.Column("rain_max_mm_h", sa.Float, nullable=False),
        sa.Column("motion", t.JSONDoc, nullable=False),
        sa.Column("elapsed_s", sa.Float, nullable=False),
        sa.Column("catchment", sa.String, nullable=False),
        sa.Column("closures", t.JSONDoc, nullable=False),
    )
    op.create_index("ix_flood_forecast_runs_issued_at", "flood_forecast_runs", ["issued_at"])
    op.create_table(
        "flood_forecast_areas",
        sa.Column("id", t.IdType, primary_key=True, autoincrement=True),
        sa.Column("run_id", t.IdType, nullable=False),
        sa.Column("depth_min_m", sa.Float, nullable=False),
        sa.Column("depth_max_m", sa.Float),
        sa.Column("area_m2", sa.Float, nullable=False),
        sa.Column("issued_at", t.Timestamp(), nullable=False),
        sa.Column("valid_until", t.Timestamp(), nullable=False),
        sa.Column("geom", t.Geometry(), nullable=False),
    )
    op.create_index("ix_flood_forecast_areas_run_id", "flood_forecast_areas", ["run_id"])
    op.create_table(
        "flood_forecast_places",
        sa.Column("id", t.IdType, primary_key=True, autoincrement=True),
        sa.Column("run_id", t.IdType, nullable=False),
        sa.Column("code", sa.String, nullable=False),
        sa.Column("kind", sa.String, nullable=False),
        sa.Column("name_ko", sa.String, nullable=False),
        sa.Column("name_en", sa.String, nullable=False),
        sa.Column("district", sa.String),
        sa.Column("depth_now_m", sa.Float, nullable=False),
        sa.Column("depth_max_m", sa.Float, nullable=False),
        sa.Column("crosses_at", t.Timestamp()),
        sa.Column("risk", sa.String),
        sa.Column("properties", t.JSONDoc, nullable=False),
        sa.Column("geom", t.Geometry(), nullable=False),
    )
    op.create_index("ix_flood_forecast_places_run_id", "flood_forecast_places", ["run_id"])


def downgrade() -> None:
    op.drop_table("flood_forecast_places")
    op.drop_table("flood_forecast_areas")
    op.drop_table("flood_forecast_runs")
