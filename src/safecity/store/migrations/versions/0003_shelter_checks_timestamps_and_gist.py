"""shelter capacity checks, created/deactivated timestamps, GiST indexes on PostGIS

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 08:00:00

* ``evac_shelters``: CHECK ``capacity >= 0`` and ``0 <= occupancy <= capacity`` so no writer (API, import,
  a hand-typed SQL update) can overfill a shelter; rows that break them are clamped first. ``created_at``
  (nullable: rows written before this revision get their ``updated_at``).
* ``evac_hazard_zones`` and ``evac_road_closures``: ``deactivated_at`` (when an operator lifted them).
* PostgreSQL only: GiST indexes on every geometry column the platform filters spatially.
"""

import sqlalchemy as sa
from alembic import op

import safecity.store.types

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

#: Tables whose ``geom`` gets a GiST index on PostgreSQL (SQLite has no spatial index here).
GIST_TABLES = (
    "geo_areas",
    "geo_features",
    "evac_shelters",
    "evac_hazard_zones",
    "evac_road_closures",
    "sta_locations",
    "sta_features_of_interest",
)

SHELTER_CHECKS = (
    ("ck_evac_shelters_capacity_nonnegative", "capacity >= 0"),
    ("ck_evac_shelters_occupancy_within_capacity", "occupancy >= 0 AND occupancy <= capacity"),
)


def upgrade() -> None:
    # Bring any existing row within the new rules before they are enforced.
    op.execute("UPDATE evac_shelters SET capacity = 0 WHERE capacity < 0")
    op.execute("UPDATE evac_shelters SET occupancy = 0 WHERE occupancy < 0")
    op.execute("UPDATE evac_shelters SET occupancy = capacity WHERE occupancy > capacity")

    with op.batch_alter_table("evac_shelters", schema=None) as batch_op:
        batch_op.add_column(sa.Column("created_at", safecity.store.types.Timestamp(), nullable=True))
        for name, condition in SHELTER_CHECKS:
            batch_op.create_check_constraint(op.f(name), condition)
    op.execute("UPDATE evac_shelters SET created_at = updated_at WHERE created_at IS NULL")

    for table in ("evac_hazard_zones", "evac_road_closures"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("deactivated_at", safecity.store.types.Timestamp(), nullable=True))

    if op.get_bind().dialect.name == "postgresql":
        for table in GIST_TABLES:
            op.execute(f"CREATE INDEX IF NOT EXISTS ix_{table}_geom_gist ON {table} USING gist (geom)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in GIST_TABLES:
            op.execute(f"DROP INDEX IF EXISTS ix_{table}_geom_gist")
    for table in ("evac_road_closures", "evac_hazard_zones"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("deactivated_at")
    with op.batch_alter_table("evac_shelters", schema=None) as batch_op:
        for name, _condition in reversed(SHELTER_CHECKS):
            batch_op.drop_constraint(op.f(name), type_="check")
        batch_op.drop_column("created_at")
