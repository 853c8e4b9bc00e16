# SPDX-License-Identifier: Apache-2.0
"""The store port's contract, run against every adapter (SQLite and PostgreSQL + PostGIS)."""

from __future__ import annotations

from sqlalchemy import insert, select, text

from safecity.app import Platform
from safecity.sensing import tables as t
from safecity.store.types import Geometry  # noqa: F401  (import check)


def test_schema_fits_the_queries(platform: Platform) -> None:
    with platform.store.engine.connect() as conn:
        if platform.store.dialect == "sqlite":
            assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            idx = {r[1] for r in conn.execute(text("PRAGMA index_list('sta_observations')"))}
            assert "uq_sta_observations_ds_time" in idx
        else:
            kind = conn.execute(
                text("SELECT relkind FROM pg_class WHERE relname='sta_observations'")
            ).scalar()
            assert kind == "p"  # declaratively partitioned
            methods = {
                r[0]
                for r in conn.execute(
                    text(
                        "SELECT am.amname FROM pg_index i JOIN pg_class c ON c.oid=i.indexrelid JOIN pg_am am ON am.oid=c.relam "
                        "WHERE i.indrelid='sta_observations'::regclass"
                    )
                )
            }
            assert {"brin", "btree"} <= methods
            assert (
                conn.execute(text("SELECT extname FROM pg_extension WHERE extname='postgis'")).scalar()
                == "postgis"
            )


def test_geometry_round_trip(platform: Platform) -> None:
    from shapely.geometry import Point

    with platform.store.write() as conn:
        lid = conn.execute(
            insert(t.locations)
            .values(
                name="City Hall",
                description="",
                encoding_type="application/geo+json",
                location={"type": "Point", "coordinates": [126.978, 37.5665]},
                geom=Point(126.978, 37.5665),
            )
            .returning(t.locations.c.id)
        ).scalar_one()
    with platform.store.engine.connect() as conn:
        geom = conn.execute(select(t.locations.c.geom).where(t.locations.c.id == lid)).scalar_one()
    assert geom.equals(Point(126.978, 37.5665))
