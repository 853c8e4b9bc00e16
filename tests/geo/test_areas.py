# SPDX-License-Identifier: Apache-2.0
"""Which district and dong a point is in, on the real Seoul boundaries."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from safecity.app import Platform
from safecity.geo.areas import (
    area_at,
    area_by_code,
    area_finder,
    areas_at,
    areas_of,
    dongs_of,
    geometry_of,
    locate,
    parent_of,
)
from safecity.geo.importer import import_layer, import_population
from tests.geo.data import CITY_HALL, DONGS_2021, KOSTAT_DISTRICTS, MOIS_DISTRICTS, POPULATION


@pytest.fixture
def seoul(platform: Platform) -> Platform:
    import_layer(platform, MOIS_DISTRICTS, "districts")
    import_layer(platform, DONGS_2021, "dongs")
    return platform


def test_city_hall_is_in_myeongdong_jung_gu(seoul: Platform) -> None:
    with seoul.store.engine.connect() as conn:
        district = area_at(conn, *CITY_HALL, kind="district")
        dong = area_at(conn, *CITY_HALL, kind="dong")
    assert district is not None and (district.code, district.name_ko, district.name_en) == (
        "11140",
        "중구",
        "Jung-gu",
    )
    # 세종대로 110 is in 태평로1가, a legal dong of the 명동 administrative dong (not 소공동).
    assert dong is not None and (dong.code, dong.name_ko) == ("1114055000", "명동")
    assert dong.parent_id == district.id and dong.code_system == "mois"


def test_outside_seoul_and_lookups_by_code(seoul: Platform) -> None:
    with seoul.store.engine.connect() as conn:
        assert area_at(conn, 129.0756, 35.1796) is None  # Busan City Hall
        assert area_at(conn, 127.0473, 37.5172, "district").name_ko == "강남구"  # type: ignore[union-attr]
        assert len(areas_of(conn, "district")) == 25 and len(areas_of(conn, "dong")) == 425
        ref = area_by_code(conn, "1114055000")
        assert ref is not None and ref.name_ko == "명동"
        assert area_by_code(conn, "00000") is None


def test_cache_follows_imports(seoul: Platform) -> None:
    with seoul.store.engine.connect() as conn:
        assert area_by_code(conn, "11110").name_ko == "종로구"  # type: ignore[union-attr]
        assert len(areas_of(conn, "district")) == 25
    import_layer(seoul, KOSTAT_DISTRICTS, "districts")
    import_population(seoul, POPULATION)
    with seoul.store.engine.connect() as conn:
        assert len(areas_of(conn, "district")) == 50
        # 11110 is 종로구 for MOIS but another district for KOSTAT; without a system MOIS wins.
        assert area_by_code(conn, "11110").name_ko == "종로구"  # type: ignore[union-attr]
        kostat = area_by_code(conn, "11110", code_system="kostat")
        assert kostat is not None and kostat.name_ko != "종로구"
        assert area_by_code(conn, "11010", code_system="kostat").name_ko == "종로구"  # type: ignore[union-attr]
        dong = area_at(conn, *CITY_HALL)
        assert dong is not None and dong.population == 3_666


def test_cache_sees_changes_made_by_another_process(seoul: Platform) -> None:
    """A population import by the CLI reaches a running server's cache without an invalidate call."""
    from sqlalchemy import update

    from safecity.geo import tables as t

    with seoul.store.engine.connect() as conn:
        assert area_at(conn, *CITY_HALL).population is None  # type: ignore[union-attr]
    with seoul.store.write() as conn:  # what another process does: write without touching our cache
        conn.execute(update(t.areas).where(t.areas.c.code == "1114055000").values(population=3_666))
    with seoul.store.engine.connect() as conn:
        assert area_at(conn, *CITY_HALL).population == 3_666  # type: ignore[union-attr]


def test_dong_codes_parents_and_children(seoul: Platform) -> None:
    with seoul.store.engine.connect() as conn:
        dong = area_by_code(conn, "1159068000")  # a 10-digit MOIS dong code, no kind needed
        assert dong is not None and (dong.kind, dong.name_ko) == ("dong", "신대방2동")
        assert area_by_code(conn, "1159068000", kind="district") is None
        district = parent_of(conn, dong)
        assert district is not None and (district.code, district.name_ko) == ("11590", "동작구")
        assert parent_of(conn, dong.id) == district and parent_of(conn, district) is None
        kids = dongs_of(conn, "11590")
        assert len(kids) == 15 and [k.code for k in kids] == sorted(k.code for k in kids)
        assert dong in kids and all(k.parent_id == district.id for k in kids)
        assert dongs_of(conn, district) == kids and dongs_of(conn, "99999") == []
        # every dong hangs under the district of its code prefix
        assert all(parent_of(conn, d).code == d.code[:5] for d in areas_of(conn, "dong"))  # type: ignore[union-attr]


def test_areas_at_gives_the_dong_and_its_district(seoul: Platform) -> None:
    with seoul.store.engine.connect() as conn:
        here = areas_at(conn, *CITY_HALL)
        assert here.dong is not None and here.district is not None
        assert here.codes == ("1114055000", "11140") and here.dong.parent_id == here.district.id
        # 보라매공원 in 신대방2동, 동작구 (the storm's side of 신대방동)
        assert areas_at(conn, 126.9195, 37.4930).codes[0][:5] == "11590"
        assert areas_at(conn, 129.0756, 35.1796).codes == ()  # Busan


def test_locate_many_points_agrees_with_area_at(seoul: Platform) -> None:
    rng = np.random.default_rng(12)
    lon = rng.uniform(126.75, 127.20, 4000)
    lat = rng.uniform(37.41, 37.72, 4000)
    # points on shared borders too: the vertices of a few dongs
    with seoul.store.engine.connect() as conn:
        for ref in areas_of(conn, "dong")[:5]:
            xy = shapely.get_coordinates(geometry_of(conn, ref.id))
            lon, lat = np.concatenate([lon, xy[:, 0]]), np.concatenate([lat, xy[:, 1]])
        find = area_finder(conn)  # area_at without a version query per point
        for kind in ("dong", "district"):
            found = locate(conn, lon, lat, kind)
            expected = [getattr(find(x, y, kind), "id", -1) for x, y in zip(lon, lat, strict=True)]
            assert found.tolist() == expected, kind
            assert (found >= 0).sum() > 1000  # Seoul fills about half of the box
        assert locate(conn, [], []).tolist() == []
        with pytest.raises(ValueError):
            locate(conn, [1.0, 2.0], [1.0])
