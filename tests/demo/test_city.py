# SPDX-License-Identifier: Apache-2.0
"""The demo city: its facts, the real boundaries and the generated rest, and loading it into a platform."""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

import numpy as np
import pytest
import shapely
from shapely.geometry import Point, shape
from sqlalchemy import func, select

from safecity.app import Platform
from safecity.core.errors import ConfigError
from safecity.demo.city import HAN_SIMPLIFY_M, DemoCity, build_city, load_facts
from safecity.demo.load import PLACE_LAYERS, load_city, write_osm
from safecity.demo.network import build_network
from safecity.evacuation.tables import shelters as shelter_table
from safecity.geo import areas, seoul
from safecity.geo import tables as t
from safecity.geo.roads.graph import Mode, load_graph
from safecity.geo.roads.osm import read_osm
from safecity.geo.roads.routing import Avoid, NoRoute, Router
from safecity.geo.terrain import Terrain
from safecity.warning.subscriptions import SubscriptionIn, create_subscription
from safecity.warning.targeting import TargetIndex
from tests.conftest import SHARED

JUSO = SHARED / "data" / "boundaries" / "seoulmaps_juso_2015_seoul_municipalities_geo.geojson"
POPULATION = SHARED / "data" / "population" / "seoul_population_by_admdong_2021Q2.tsv"
#: Share of a demo district inside the juso 2015 district of the same code (an older, independent survey
#: of the same borders): 0.972 on average, 0.931 at least (their outlines differ along the Han).
MIN_MEAN_OVERLAP = 0.95
#: Shapely's overlay on float coordinates leaves slivers; areas in square degrees.
AREA_TOLERANCE = 1e-9


@pytest.fixture(scope="module")
def city() -> DemoCity:
    return build_city()


def _real_districts() -> dict[str, tuple[str, str, shapely.Geometry]]:
    if not JUSO.is_file():
        pytest.skip(f"{JUSO} is not there (shared data)")
    data = json.loads(JUSO.read_text(encoding="utf-8"))
    return {
        f["properties"]["SIG_CD"]: (
            f["properties"]["SIG_KOR_NM"],
            f["properties"]["SIG_ENG_NM"],
            shape(f["geometry"]),
        )
        for f in data["features"]
    }


def test_facts_load_and_match_the_mois_codes_and_names() -> None:
    facts = load_facts()
    assert len(facts.districts) == 25
    assert len({d.code for d in facts.districts}) == 25
    real = _real_districts()
    assert {(d.code, d.name_ko, d.name_en) for d in facts.districts} == {
        (code, ko, en) for code, (ko, en, _g) in real.items()
    }
    assert facts.han.name_en == "Han River"
    assert {m.name_ko for m in facts.mountains} >= {"북한산", "관악산", "남산", "도봉산", "수락산", "불암산"}
    assert {g.name_ko for g in facts.gauges} == {"한강대교", "잠수교", "광진교", "행주대교"}


def test_facts_population_is_the_2021q2_table() -> None:
    if not POPULATION.is_file():
        pytest.skip(f"{POPULATION} is not there (shared data)")
    with POPULATION.open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.reader(f, delimiter="\t"))[3:]
    by_gu: dict[str, int] = defaultdict(int)
    for row in rows:
        if row[1] != "합계" and row[2] != "소계":
            by_gu[row[1]] += int(row[4].replace(",", ""))
    assert {d.name_ko: d.population for d in load_facts().districts} == by_gu
    assert sum(by_gu.values()) == 9_795_426


def test_facts_errors_name_the_entry(tmp_path: Path) -> None:
    original = resources.files("safecity.demo").joinpath("city_facts.toml").read_text(encoding="utf-8")
    bad = tmp_path / "facts.toml"
    bad.write_text(original.replace('code = "11140"', 'code = "11110"', 1), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"districts\[1\] \(11110 중구\): code 11110 appears twice"):
        load_facts(bad)
    bad.write_text(
        original.replace("office = [126.9977, 37.5640]", "office = [128.0, 37.5640]"), encoding="utf-8"
    )
    with pytest.raises(
        ConfigError, match=r"districts\[1\] \(11140 중구\): office .* outside the city outline"
    ):
        load_facts(bad)
    bad.write_text(original.replace("population = 132259", 'population = "many"'), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"districts\[1\] \(11140 중구\): 'population'"):
        load_facts(bad)
    # the districts are Seoul's real ones: their codes, their names, each office in its own district
    bad.write_text(original.replace('code = "11140"', 'code = "11145"', 1), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"\(11145 중구\): code 11145 is not one of Seoul's 25 districts"):
        load_facts(bad)
    bad.write_text(original.replace('name_en = "Jung-gu"', 'name_en = "Central"', 1), encoding="utf-8")
    with pytest.raises(
        ConfigError, match=r"\(11140 중구\): the names must be the district's own: 중구 / Jung-gu"
    ):
        load_facts(bad)
    bad.write_text(
        original.replace("office = [126.9977, 37.5640]", "office = [126.9794, 37.5735]"), encoding="utf-8"
    )
    with pytest.raises(ConfigError, match=r"\(11140 중구\): office \[126.9794, 37.5735\] is not inside 중구"):
        load_facts(bad)


def test_build_is_deterministic(city: DemoCity) -> None:
    again = build_city(2022)
    assert again.digest() == city.digest()
    assert [d.polygon.wkb for d in again.districts] == [d.polygon.wkb for d in city.districts]
    assert np.array_equal(again.terrain.elevation, city.terrain.elevation)
    assert build_city(7).digest() != city.digest()


def test_districts_and_dongs_are_the_real_ones(city: DemoCity) -> None:
    real = {b.code: b for b in seoul.districts()}
    assert len(city.districts) == 25 and len(city.dongs) == 425
    for d in city.districts:
        assert d.polygon.equals_exact(real[d.code].polygon, 0.0), d.code  # the shipped polygon itself
        assert (d.name_ko, d.name_en) == (real[d.code].name_ko, real[d.code].name_en)
        assert d.polygon.contains(d.office), f"{d.code} {d.name_ko} does not hold its office"
        mine = city.dongs_of(d.code)
        assert mine and shapely.coverage_union_all([g.polygon for g in mine]).equals(d.polygon), d.code
    assert [g.code for g in city.dongs] == sorted(b.code for b in seoul.dongs())
    assert city.dong("1159068000").name_ko == "신대방2동" and city.dong("1159068000").district_code == "11590"
    assert city.outline.equals(shapely.union_all([d.polygon for d in city.districts]))
    # and they agree with an independent survey of the same borders (juso 2015)
    juso = _real_districts()
    shares = [d.polygon.intersection(juso[d.code][2]).area / d.polygon.area for d in city.districts]
    assert float(np.mean(shares)) >= MIN_MEAN_OVERLAP
    union = shapely.union_all([g for _ko, _en, g in juso.values()])
    assert city.outline.symmetric_difference(union).area / union.area < 0.02


def test_the_han_runs_along_the_real_borders(city: DemoCity) -> None:
    dry = {
        "63빌딩 (여의도)": (126.9402, 37.5198),
        "여의도공원": (126.9215, 37.5257),
        "노량진수산시장": (126.9407, 37.5133),
        "서울숲": (127.0374, 37.5444),
        "압구정동": (127.0280, 37.5270),
        "잠실종합운동장": (127.0730, 37.5153),
    }
    wet = {
        "반포대교 중앙": (126.9960, 37.5150),
        "성수대교 중앙": (127.0346, 37.5368),
        "행주대교": (126.8092, 37.5984),
    }
    for name, (lon, lat) in dry.items():
        assert not city.water.contains(Point(lon, lat)), name
    for name, (lon, lat) in wet.items():
        assert city.water.contains(Point(lon, lat)), name
    # the course follows the border between the districts north and south of it, which runs mid-river
    north = shapely.union_all(
        [city.district(c).polygon for c in ("11170", "11200", "11440")]
    )  # 용산 성동 마포
    south = shapely.union_all([city.district(c).polygon for c in ("11560", "11590", "11650", "11680")])
    border = shapely.intersection(north.boundary, south.boundary)
    assert border.length > 0.1  # ~12 km of shared border, in degrees
    for k in range(21):
        p = border.interpolate(k / 20, normalized=True)
        assert city.han.distance(p) * 111_195.0 <= HAN_SIMPLIFY_M * 1.5, (p.x, p.y)
    # each bank's district holds its half of the river; a district away from it none
    assert city.river_water[0].intersection(city.district("11590").polygon).area > 0  # 동작구
    assert city.river_water[0].intersection(city.district("11620").polygon).area == 0  # 관악구


def test_population_sums_to_the_district_totals_by_dong_and_by_cell(city: DemoCity) -> None:
    by_district: dict[str, int] = defaultdict(int)
    for g in city.dongs:
        assert g.population > 0, g.code
        by_district[g.district_code] += g.population
    assert by_district == {d.code: d.population for d in city.districts}
    assert sum(by_district.values()) == 9_795_426
    dong_sums: dict[str, int] = defaultdict(int)
    for cell in city.population:
        assert cell.population >= 0 and cell.dong_code[:5] == cell.district_code
        dong_sums[cell.dong_code] += cell.population
    assert dong_sums == {g.code: g.population for g in city.dongs}
    for cell in city.population[::50]:
        assert city.dong(cell.dong_code).polygon.buffer(1e-6).contains(Point(cell.lon, cell.lat))
        assert not city.water.contains(Point(cell.lon, cell.lat))  # no one lives on the water


def test_roads_and_terrain(city: DemoCity) -> None:
    assert all(r.geometry.is_valid and r.geometry.length > 0 for r in city.roads)
    bridges = {r.name for r in city.roads if r.bridge}
    assert {"한강대교", "잠수교", "광진교", "성수대교"} <= bridges
    e = city.terrain.elevation
    assert e.dtype == np.float32 and np.isfinite(e).all()
    assert 800 < float(e.max()) < 900  # 북한산 836 m
    assert float(e.min()) >= 1.0


def test_load_city(platform: Platform, city: DemoCity, tmp_path: Path) -> None:
    report = load_city(platform, city, tmp_path / "demo")
    assert report.districts.created == 25 and not report.districts.bad
    assert report.dongs.created == 425 and not report.dongs.bad and not report.dongs.repaired
    assert report.roads["bridge_segments"] > 0
    again = load_city(platform, city, tmp_path / "demo")
    assert again.districts.created == 0 and again.districts.updated == 25
    assert again.dongs.created == 0 and again.dongs.updated == 425
    assert report.shelters.created == len(report.network.shelters)
    report = again
    dongjak = city.facts.district("11590")
    with platform.store.engine.connect() as conn:
        found = areas.area_at(conn, *dongjak.office, "district")
        assert found is not None and (found.code, found.name_ko) == ("11590", "동작구")
        assert len(areas.areas_of(conn, "district")) == 25 and len(areas.areas_of(conn, "dong")) == 425
        facilities = select(func.count()).select_from(t.features).where(t.features.c.layer == "facilities")
        assert conn.execute(facilities).scalar_one() == len(city.facts.facilities)
        # the population the board shows is the facts' 2021 Q2 resident registration
        population = dict(
            conn.execute(
                select(t.areas.c.code, t.areas.c.population).where(t.areas.c.kind == "district")
            ).all()
        )
        assert population == {d.code: d.population for d in city.facts.districts}
        # and each dong's generated share, labelled so
        dongs = conn.execute(select(t.areas).where(t.areas.c.kind == "dong")).mappings().all()
        assert {r["code"]: r["population"] for r in dongs} == {g.code: g.population for g in city.dongs}
        assert all(r["properties"]["population_source"].startswith("generated") for r in dongs)
        # the places, as the layers the dashboard reads, with the contract properties
        network = report.network
        for layer in PLACE_LAYERS:
            rows = conn.execute(select(t.features).where(t.features.c.layer == layer)).mappings().all()
            assert len(rows) == len(getattr(network, layer)) > 0, layer
            for row in rows:
                props = row["properties"]
                assert {"code", "kind", "name_ko", "name_en", "source"} <= set(props), (layer, props)
                assert props["code"] == row["code"] and props["demo"] is True
        # the rivers the map draws: each river's own water, which together are the city's water
        rivers = conn.execute(select(t.features).where(t.features.c.layer == "rivers")).mappings().all()
        assert [r["properties"]["name_en"] for r in rivers] == [r.name_en for r in city.facts.rivers]
        assert rivers[0]["properties"]["name_ko"] == "한강" and rivers[0]["properties"]["width_m"] == 900
        waters = shapely.union_all([r["geom"] for r in rivers])
        assert waters.symmetric_difference(city.water).area < AREA_TOLERANCE
        assert waters.contains(Point(126.9583, 37.5175))  # 한강대교, mid-river
        hospital = conn.execute(
            select(t.features.c.properties).where(t.features.c.code == "hospital-snuh")
        ).scalar_one()
        assert hospital["name_en"] == "Seoul National University Hospital" and hospital["generated"] is False
        # shelters went through the evacuation capability's registry
        shelters = conn.execute(select(shelter_table)).mappings().all()
        assert len(shelters) == len(network.shelters)
        assert {s["kind"] for s in shelters} == {"temporary_housing", "earthquake_outdoor"}
        office = next(s for s in shelters if s["code"] == "shelter-office-11590")
        assert office["name_ko"] == "동작구청 (임시주거시설)" and office["capacity"] == 500
        # the registry files each shelter under its dong
        lon, lat = office["geom"].coords[0]
        dong = areas.area_at(conn, lon, lat, "dong")
        assert dong is not None and office["area_id"] == dong.id and dong.code[:5] == "11590"
    assert report.shelters.created == 0 and report.shelters.updated == len(network.shelters)  # the 2nd load
    graph = load_graph(report.roads_path)
    assert graph.counts()["segments"] == report.roads["segments"]
    with Terrain(platform.settings.data_dir) as terrain:
        summit = next(m for m in city.facts.mountains if m.name_ko == "관악산")
        elevation = terrain.elevation_at(*summit.summit)
        assert elevation is not None and elevation == pytest.approx(summit.height_m, abs=20)
        han = terrain.elevation_at(126.9583, 37.5175)
        assert han is not None and han < 10


def test_the_loaded_city_resolves_and_targets_by_dong(
    platform: Platform, city: DemoCity, tmp_path: Path
) -> None:
    """End to end on the loaded demo city: a dong code resolves to the dong's real geometry and its
    population; subscribers by dong code or by a point in the dong get an alert naming the dong or its
    district; an alert naming only the dong does not reach the rest of the district."""
    load_city(platform, city, tmp_path / "demo")
    sindaebang = city.dong("1159068000")  # 신대방2동, 동작구: under the demo storm's band
    noryangjin = city.dong("1159052000")  # 노량진2동, the same district, 3 km away
    with platform.store.engine.connect() as conn:
        ref = areas.area_by_code(conn, sindaebang.code)
        assert ref is not None and (ref.kind, ref.name_ko, ref.name_en) == (
            "dong",
            "신대방2동",
            "Sindaebang 2(i)-dong",
        )
        assert ref.population == sindaebang.population > 0
        geom = areas.geometry_of(conn, ref.id)
        assert geom is not None and geom.symmetric_difference(sindaebang.polygon).area < AREA_TOLERANCE
        district = areas.parent_of(conn, ref)
        assert district is not None and district.code == "11590" and district.population == 397_231
        assert sum(r.population or 0 for r in areas.dongs_of(conn, district)) == district.population
        inside = sindaebang.polygon.representative_point()
        assert areas.areas_at(conn, inside.x, inside.y).codes == ("1159068000", "11590")
        assert areas.areas_at(conn, 126.9396, 37.5124).codes[1] == "11590"  # the storm's centre: 동작구
        # every sensor's dong, found at once, is the one the network says
        network = build_network(city)
        found = areas.locate(conn, [s.lon for s in network.sensors], [s.lat for s in network.sensors])
        assert [areas.area_by_id(conn, int(i)).code for i in found] == [s.dong for s in network.sensors]  # type: ignore[union-attr]
    there = noryangjin.polygon.representative_point()
    bodies = [
        {
            "kind": "person",
            "channels": [{"channel": "sms", "address": "01012345678"}],
            "areas": [{"kind": "dong", "code": sindaebang.code}],
        },
        {
            "kind": "anonymous",
            "channels": [{"channel": "sse"}],
            "areas": [{"kind": "point", "lon": inside.x, "lat": inside.y}],
        },
        {
            "kind": "system",
            "channels": [{"channel": "webhook", "address": "https://x.example/h"}],
            "areas": [{"kind": "district", "code": "11590"}],
        },
        {
            "kind": "anonymous",
            "channels": [{"channel": "sse"}],
            "areas": [{"kind": "point", "lon": there.x, "lat": there.y}],
        },
        {
            "kind": "person",
            "channels": [{"channel": "sms", "address": "01087654321"}],
            "areas": [{"kind": "dong", "code": noryangjin.code}],
        },
    ]
    now = datetime(2022, 8, 8, 11, 0, tzinfo=UTC)
    with platform.store.write() as conn:
        ids = [create_subscription(conn, SubscriptionIn.model_validate(b), now)[0].id for b in bodies]
    with platform.store.engine.connect() as conn:
        index = TargetIndex.from_store(conn)
    in_dong, at_home, whole_district, elsewhere, other_dong = ids
    # an alert naming only the dong (CAP geocode): the dong's subscribers and the district's, no one else
    assert index.recipients(None, [sindaebang.code]).tolist() == [in_dong, at_home, whole_district]
    # the same by its area (CAP polygon): the neighbouring dongs only touch it
    assert index.recipients(sindaebang.polygon).tolist() == [in_dong, at_home, whole_district]
    # an alert for the district reaches all of them
    assert index.recipients(None, ["11590"]).tolist() == sorted(ids)
    assert index.recipients(None, [noryangjin.code]).tolist() == [whole_district, elsewhere, other_dong]


def test_roads_route_across_the_city(city: DemoCity, tmp_path: Path) -> None:
    graph = read_osm(write_osm(city, tmp_path / "roads.osm"), strict=True).graph
    router = Router(graph)
    north = city.facts.district("11350").office  # 노원구, north of the Han
    south = city.facts.district("11620").office  # 관악구, south of it
    for mode in (Mode.drive, Mode.walk):
        route = router.route(north, south, mode)
        assert route.snap_m < 500 and route.distance_m > north_south_m(north, south)
    # with every bridge closed (the river itself closed) the Han cannot be crossed
    with pytest.raises(NoRoute):
        router.route(north, south, Mode.drive, Avoid(closures=(city.water,)))


def north_south_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    return abs(a[1] - b[1]) * 111_195.0
