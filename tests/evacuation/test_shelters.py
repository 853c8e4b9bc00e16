# SPDX-License-Identifier: Apache-2.0
"""The shelter registry on both stores: import, validation, occupancy limits, filters, hazard rules."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from shapely.geometry import Point, box
from sqlalchemy import func, select

from safecity.app import Platform
from safecity.core.errors import BadRequest, Conflict
from safecity.evacuation import shelters as reg
from safecity.evacuation.shelters import ShelterKind, ShelterPatch, ShelterQuery
from safecity.evacuation.tables import hazard_zones, shelters
from safecity.evacuation.zones import Hazard, collapse_cordon, collapse_radius_m, deactivate_zone, insert_zone
from tests.evacuation.shelter_data import TEST_KIND, load_records

NOW = datetime(2026, 7, 1, 9, 0, tzinfo=UTC)


def _count(platform: Platform) -> int:
    with platform.store.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(shelters)).scalar_one())


def test_import_real_shelters_then_update(platform: Platform) -> None:
    records = load_records()
    assert len(records) == 500
    with platform.store.write() as conn:
        assert reg.upsert_shelters(conn, records, now=NOW) == (500, 0)
    with platform.store.write() as conn:
        s = reg.list_shelters(conn, ShelterQuery(limit=1))[0][0]
        reg.set_occupancy(conn, s.id, 40, NOW)
    with platform.store.write() as conn:
        assert reg.upsert_shelters(conn, records, now=NOW) == (0, 500)
        again = reg.get_shelter(conn, s.id)
    assert again.occupancy == 40  # operational state survives a re-import
    assert again.kind == ShelterKind(TEST_KIND)
    assert again.safe_from == ("air_raid",)  # civil-defence basements: not flood, not chemical
    assert _count(platform) == 500


@pytest.mark.parametrize(
    ("field", "value", "where"),
    [
        ("capacity", -1, "records[3].capacity"),
        ("capacity", "many", "records[3].capacity"),
        ("kind", "bunker", "records[3].kind"),
        ("geom", Point(200, 37), "records[3].geom"),
        ("safe_from", ["tsunami"], "records[3].safe_from"),
        ("name_ko", "", "records[3].name_ko"),
    ],
)
def test_bad_record_names_index_and_field_and_writes_nothing(
    platform: Platform, field: str, value: object, where: str
) -> None:
    records = load_records(limit=10)
    records[3] = {**records[3], field: value}
    with pytest.raises(BadRequest) as e, platform.store.write() as conn:
        reg.upsert_shelters(conn, records, now=NOW)
    assert e.value.where == where
    assert _count(platform) == 0


def test_repeated_code_is_refused(platform: Platform) -> None:
    records = load_records(limit=3)
    records.append(dict(records[0]))
    with pytest.raises(BadRequest, match=r"records\[3\]\.code"), platform.store.write() as conn:
        reg.upsert_shelters(conn, records, now=NOW)


def test_occupancy_never_above_capacity(platform: Platform) -> None:
    with platform.store.write() as conn:
        reg.upsert_shelters(conn, load_records(limit=1), now=NOW)
        s = reg.list_shelters(conn, ShelterQuery())[0][0]
        assert s.capacity is not None
        reg.set_occupancy(conn, s.id, s.capacity, NOW)
    with pytest.raises(Conflict, match=f"capacity of {s.capacity}") as e, platform.store.write() as conn:
        reg.set_occupancy(conn, s.id, s.capacity + 1, NOW)
    assert e.value.where == "occupancy"
    with pytest.raises(Conflict, match="below the current occupancy"), platform.store.write() as conn:
        reg.update_shelter(conn, s.id, ShelterPatch(capacity=s.capacity - 1), NOW)
    with platform.store.engine.connect() as conn:
        after = reg.get_shelter(conn, s.id)
    assert (after.capacity, after.occupancy) == (s.capacity, s.capacity)
    with platform.store.engine.connect() as conn:
        full = reg.list_shelters(conn, ShelterQuery(has_space=True))
    assert full == []


def test_filters(platform: Platform) -> None:
    with platform.store.write() as conn:
        reg.upsert_shelters(conn, load_records(limit=60), now=NOW)
        all_ = [s for s, _ in reg.list_shelters(conn, ShelterQuery())]
        reg.set_open(conn, all_[0].id, False, NOW)
    with platform.store.engine.connect() as conn:
        open_ = reg.list_shelters(conn, ShelterQuery(is_open=True))
        assert all_[0].id not in {s.id for s, _ in open_} and len(open_) == 59
        near = reg.list_shelters(conn, ShelterQuery(near=(126.978, 37.566), within_m=3000))
        dists = [d for _, d in near if d is not None]
        assert len(dists) == len(near) and dists == sorted(dists) and all(d <= 3000 for d in dists)
        b = (126.96, 37.57, 126.99, 37.59)
        inside = reg.list_shelters(conn, ShelterQuery(bbox=b))
        assert inside and all(box(*b).intersects(s.geom) for s, _ in inside)
        assert reg.list_shelters(conn, ShelterQuery(safe_from=Hazard.flood)) == []
        assert len(reg.list_shelters(conn, ShelterQuery(safe_from=Hazard.air_raid))) == 60
        assert reg.list_shelters(conn, ShelterQuery(kind=ShelterKind.heat)) == []


def test_shelter_in_active_flood_zone_is_no_flood_shelter(platform: Platform) -> None:
    rec = {**load_records(limit=1)[0], "kind": "temporary_housing", "safe_from": None}
    with platform.store.write() as conn:
        reg.upsert_shelters(conn, [rec], now=NOW)
        sid = reg.list_shelters(conn, ShelterQuery())[0][0].id
        assert [s.id for s in reg.suitable_shelters(conn, Hazard.flood, NOW)] == [sid]
        zone = insert_zone(conn, hazard=Hazard.flood, geom=rec["geom"].buffer(0.001), now=NOW, guidance=None)
    with platform.store.engine.connect() as conn:
        assert reg.suitable_shelters(conn, Hazard.flood, NOW) == []
        # still fine for a landslide: the flood zone says nothing about slopes
        assert [s.id for s in reg.suitable_shelters(conn, Hazard.landslide, NOW)] == [sid]
    with platform.store.write() as conn:
        assert deactivate_zone(conn, zone.id, NOW).active is False
        assert [s.id for s in reg.suitable_shelters(conn, Hazard.flood, NOW)] == [sid]
    with platform.store.engine.connect() as conn:
        stamp = conn.execute(
            select(hazard_zones.c.deactivated_at).where(hazard_zones.c.id == zone.id)
        ).scalar_one()
    assert stamp == NOW  # when it was lifted is kept, for the record


def test_collapse_cordon_radius_follows_height() -> None:
    assert collapse_radius_m(20) == pytest.approx(30)
    assert collapse_radius_m(2) == pytest.approx(10)  # floor for low structures
    lon, lat = 126.9780, 37.5665
    small, r1 = collapse_cordon(lon, lat, 20)
    large, r2 = collapse_cordon(lon, lat, 60)
    assert r2 == pytest.approx(3 * r1)
    assert small.contains(Point(lon, lat)) and large.contains(small)
    assert large.area / small.area == pytest.approx(9, rel=0.01)
    with pytest.raises(BadRequest, match="height_m"):
        collapse_radius_m(0)


def test_database_refuses_overfilled_shelters(platform: Platform) -> None:
    """Migration 0003's CHECK constraints hold even for a hand-written SQL update, on both stores."""
    from sqlalchemy import insert, text, update
    from sqlalchemy.exc import IntegrityError

    with platform.store.write() as conn:
        reg.upsert_shelters(conn, load_records(limit=1), now=NOW)
        sid, capacity, created = conn.execute(
            select(shelters.c.id, shelters.c.capacity, shelters.c.created_at)
        ).one()
    assert created == NOW
    for values in ({"occupancy": capacity + 1}, {"occupancy": -1}, {"capacity": -5, "occupancy": 0}):
        with pytest.raises(IntegrityError), platform.store.write() as conn:
            conn.execute(update(shelters).where(shelters.c.id == sid).values(**values))
    with pytest.raises(IntegrityError), platform.store.write() as conn:
        conn.execute(text("UPDATE evac_shelters SET occupancy = capacity + 10"))
    with pytest.raises(IntegrityError), platform.store.write() as conn:
        conn.execute(
            insert(shelters).values(
                kind="heat",
                name_ko="x",
                capacity=5,
                occupancy=6,
                safe_from=["heat"],
                geom=Point(127, 37.5),
                updated_at=NOW,
            )
        )
    with platform.store.engine.connect() as conn:
        assert conn.execute(select(shelters.c.occupancy).where(shelters.c.id == sid)).scalar_one() == 0
        full = conn.execute(update(shelters).where(shelters.c.id == sid).values(occupancy=capacity))
        assert full.rowcount == 1  # exactly at capacity is allowed
        conn.rollback()
        for table in ("evac_hazard_zones", "evac_road_closures"):
            assert conn.execute(text(f"SELECT deactivated_at FROM {table}")).all() == []
        if platform.store.dialect == "postgresql":
            gist = {
                r[0]
                for r in conn.execute(
                    text(
                        "SELECT t.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                        "JOIN pg_class t ON t.oid = i.indrelid JOIN pg_am am ON am.oid = c.relam "
                        "WHERE am.amname = 'gist'"
                    )
                )
            }
            assert {
                "geo_areas",
                "geo_features",
                "evac_shelters",
                "evac_hazard_zones",
                "evac_road_closures",
                "sta_locations",
                "sta_features_of_interest",
            } <= gist


def test_created_at_is_kept_on_update(platform: Platform) -> None:
    later = datetime(2026, 7, 2, 9, 0, tzinfo=UTC)
    records = load_records(limit=2)
    with platform.store.write() as conn:
        reg.upsert_shelters(conn, records, now=NOW)
        reg.upsert_shelters(conn, records, now=later)
        made = reg.create_shelter(
            conn,
            reg.ShelterIn(
                kind=ShelterKind.heat,
                name_ko="경로당",
                capacity=10,
                geometry=reg.PointIn(type="Point", coordinates=(127.0, 37.5)),
            ),
            later,
        )
        rows = conn.execute(select(shelters.c.id, shelters.c.created_at, shelters.c.updated_at)).all()
    got = {r.id: (r.created_at, r.updated_at) for r in rows}
    assert got[made.id] == (later, later)
    assert sorted(v for k, v in got.items() if k != made.id) == [(NOW, later), (NOW, later)]


def test_shelters_know_their_dong(platform: Platform) -> None:
    """area_id is the real administrative dong containing the shelter, once boundaries are imported."""
    from safecity.geo.areas import area_at, area_by_id
    from safecity.geo.importer import import_layer
    from tests.geo.data import CITY_HALL, DONGS_2021, MOIS_DISTRICTS

    records = load_records(limit=50)
    with platform.store.write() as conn:
        reg.upsert_shelters(conn, records[:10], now=NOW)  # no boundaries yet
        assert {s.area_id for s, _ in reg.list_shelters(conn, ShelterQuery())} == {None}

    import_layer(platform, MOIS_DISTRICTS, "districts")
    import_layer(platform, DONGS_2021, "dongs")
    body = reg.ShelterIn(
        kind=ShelterKind.temporary_housing,
        name_ko="시청 앞",
        capacity=10,
        geometry=reg.PointIn(type="Point", coordinates=CITY_HALL),
    )
    with platform.store.write() as conn:
        assert reg.upsert_shelters(conn, records, now=NOW) == (40, 10)  # the first 10 are updated
        made = reg.create_shelter(conn, body, NOW)
        found = [s for s, _ in reg.list_shelters(conn, ShelterQuery())]
        dong = area_by_id(conn, made.area_id) if made.area_id is not None else None
        assert dong is not None and dong.kind == "dong" and dong.name_ko == "명동"
        for s in found:
            ref = area_at(conn, s.geom.x, s.geom.y, kind="dong")
            assert s.area_id == (None if ref is None else ref.id), s.name_ko
        with_dong = [s for s in found if s.area_id is not None]
        assert len(with_dong) == len(found)  # central Seoul: every shelter lies in some dong
        assert len({s.area_id for s in with_dong}) > 5
