# SPDX-License-Identifier: Apache-2.0
"""Which district and dong a point is in, on the real Seoul boundaries."""

from __future__ import annotations

import time

import pytest

from safecity.app import Platform
from safecity.geo.areas import area_at, area_by_code, areas_of
from safecity.geo.importer import import_layer, import_population
from tests.geo.data import CITY_HALL, DONGS_2021, KOSTAT_DISTRICTS, MOIS_DISTRICTS, POPULATION

#: Budget per lookup for per-request use; measured about 0.15 ms on SQLite (one version query + STRtree).
PER_LOOKUP_S = 0.002


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


def test_lookup_is_fast_enough_per_request(seoul: Platform) -> None:
    with seoul.store.engine.connect() as conn:
        area_at(conn, *CITY_HALL)  # builds the cache
        n = 500
        start = time.perf_counter()
        for i in range(n):
            area_at(conn, 126.95 + i * 1e-4, 37.55)
        per = (time.perf_counter() - start) / n
    assert per < PER_LOOKUP_S, f"{per * 1000:.2f} ms per lookup"


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
