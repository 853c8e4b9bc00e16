# SPDX-License-Identifier: Apache-2.0
"""The demo city: its facts, the generated geography, and loading it into a platform."""

from __future__ import annotations

import csv
import itertools
import json
from collections import defaultdict
from importlib import resources
from pathlib import Path

import numpy as np
import pytest
import shapely
from shapely.geometry import Point, shape
from sqlalchemy import func, select

from safecity.app import Platform
from safecity.core.errors import ConfigError
from safecity.demo.city import SOURCE, DemoCity, build_city, load_facts
from safecity.demo.load import PLACE_LAYERS, load_city, write_osm
from safecity.evacuation.tables import shelters as shelter_table
from safecity.geo import areas
from safecity.geo import tables as t
from safecity.geo.roads.graph import Mode, load_graph
from safecity.geo.roads.osm import read_osm
from safecity.geo.roads.routing import Avoid, NoRoute, Router
from safecity.geo.terrain import Terrain
from tests.conftest import SHARED

JUSO = SHARED / "data" / "boundaries" / "seoulmaps_juso_2015_seoul_municipalities_geo.geojson"
POPULATION = SHARED / "data" / "population" / "seoul_population_by_admdong_2021Q2.tsv"
#: Mean share of a generated district that lies in the real district of the same code. Voronoi cells of
#: the offices are a rough stand-in for real borders: 0.71 on the shipped facts (min 0.42, 동작구).
MIN_MEAN_OVERLAP = 0.6
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


def test_build_is_deterministic(city: DemoCity) -> None:
    again = build_city(2022)
    assert again.digest() == city.digest()
    assert [d.polygon.wkb for d in again.districts] == [d.polygon.wkb for d in city.districts]
    assert np.array_equal(again.terrain.elevation, city.terrain.elevation)
    assert build_city(7).digest() != city.digest()


def test_district_polygons_partition_the_outline(city: DemoCity) -> None:
    outline = city.outline
    assert len(city.districts) == 25
    for d in city.districts:
        assert d.polygon.geom_type == "Polygon" and d.polygon.is_valid and not d.polygon.is_empty, d.code
        assert d.polygon.difference(outline).area < AREA_TOLERANCE, d.code
        assert d.polygon.contains(d.office), f"{d.code} {d.name_ko} does not hold its office"
        assert d.properties()["source"] == SOURCE
    for a, b in itertools.combinations(city.districts, 2):
        assert a.polygon.intersection(b.polygon).area < AREA_TOLERANCE, (a.code, b.code)
    total = sum(d.polygon.area for d in city.districts)
    assert total == pytest.approx(outline.area, rel=0.01)


def test_districts_resemble_the_real_ones(city: DemoCity) -> None:
    real = _real_districts()
    shares = [d.polygon.intersection(real[d.code][2]).area / d.polygon.area for d in city.districts]
    assert float(np.mean(shares)) >= MIN_MEAN_OVERLAP
    # the outline itself is the simplified real one
    union = shapely.union_all([g for _ko, _en, g in real.values()])
    assert city.outline.symmetric_difference(union).area / union.area < 0.05


def test_population_grid_sums_to_the_district_totals(city: DemoCity) -> None:
    sums: dict[str, int] = defaultdict(int)
    for cell in city.population:
        assert cell.population >= 0
        sums[cell.district_code] += cell.population
    assert sums == {d.code: d.population for d in city.districts}
    for cell in city.population[::50]:
        assert city.district(cell.district_code).polygon.buffer(1e-6).contains(Point(cell.lon, cell.lat))


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
    assert report.roads["bridge_segments"] > 0
    again = load_city(platform, city, tmp_path / "demo")
    assert again.districts.created == 0 and again.districts.updated == 25
    assert report.shelters.created == len(report.network.shelters)
    report = again
    dongjak = city.facts.district("11590")
    with platform.store.engine.connect() as conn:
        found = areas.area_at(conn, *dongjak.office, "district")
        assert found is not None and (found.code, found.name_ko) == ("11590", "동작구")
        assert len(areas.areas_of(conn, "district")) == 25
        facilities = select(func.count()).select_from(t.features).where(t.features.c.layer == "facilities")
        assert conn.execute(facilities).scalar_one() == len(city.facts.facilities)
        # the population the board shows is the facts' 2021 Q2 resident registration
        population = dict(
            conn.execute(
                select(t.areas.c.code, t.areas.c.population).where(t.areas.c.kind == "district")
            ).all()
        )
        assert population == {d.code: d.population for d in city.facts.districts}
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
        assert office["area_id"] is None  # no dongs in the demo city: the registry leaves it unset
    assert report.shelters.created == 0 and report.shelters.updated == len(network.shelters)  # the 2nd load
    graph = load_graph(report.roads_path)
    assert graph.counts()["segments"] == report.roads["segments"]
    with Terrain(platform.settings.data_dir) as terrain:
        summit = next(m for m in city.facts.mountains if m.name_ko == "관악산")
        elevation = terrain.elevation_at(*summit.summit)
        assert elevation is not None and elevation == pytest.approx(summit.height_m, abs=20)
        han = terrain.elevation_at(126.9583, 37.5175)
        assert han is not None and han < 10


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
