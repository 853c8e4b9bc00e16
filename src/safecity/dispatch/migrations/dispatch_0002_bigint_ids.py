"""dispatch: ids as BIGINT on PostgreSQL, like every other table's

``dispatch_0001`` made them INTEGER (int4): an id above 2**31 - 1 in a path (``/dispatch/calls/2147483648``)
then failed in the database instead of finding nothing, and a situation incident's id (BIGINT) could not be
stored once the platform's ids outgrew int4. SQLite's INTEGER is already 64-bit: nothing to do there.

Revision ID: dispatch_0002
Revises: dispatch_0001
"""

from alembic import op

revision = "dispatch_0002"
down_revision = "dispatch_0001"
branch_labels = None
depends_on = None

COLUMNS = {
    "dispatch_stations": ("id",),
    "dispatch_units": ("id", "station_id", "call_id"),
    "dispatch_unit_status": ("id", "unit_id", "call_id"),
    "dispatch_incidents": ("id", "situation_incident"),
    "dispatch_calls": ("id", "incident_id", "situation_incident"),
    "dispatch_assignments": ("id", "call_id", "unit_id"),
}


def _alter(kind: str) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, columns in COLUMNS.items():
        changes = ", ".join(f"ALTER COLUMN {c} TYPE {kind}" for c in columns)
        op.execute(f"ALTER TABLE {table} {changes}")
        # the serial's sequence is int4 too: raise its type and limit with the column's
        op.execute(f"ALTER SEQUENCE IF EXISTS {table}_id_seq AS {kind}")


def upgrade() -> None:
    _alter("BIGINT")


def downgrade() -> None:
    _alter("INTEGER")
