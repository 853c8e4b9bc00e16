# SPDX-License-Identifier: Apache-2.0
"""Flood- and landslide-prone zones derived from a synthetic terrain model, and their endpoints."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import rasterio  # type: ignore[import-untyped]
from affine import Affine
from pyproj import Transformer
from shapely.geometry import LineString, Point, shape
from shapely.ops import unary_union

from safecity.core.errors import Conflict
from safecity.evacuation.derive import LANDSLIDE_MIN_SLOPE_DEG, flood_prone, landslide_prone
from safecity.geo.terrain import import_dem
from tests.conftest import Api

#: Near 중랑천 (Jungnangcheon) in Seoul: the grid's top-left corner, EPSG:5186.
ORIGIN = Transformer.from_crs("EPSG:4326", "EPSG:5186", always_xy=True).transform(127.060, 37.575)
PIXEL = 10.0
SIZE = 100
RIVER_COL = 22  # the channel bottom, EL. 5 m
HILL_COL = 50  # from here east the ground rises 0.9 m per metre (42°)
DEPRESSION = (slice(80, 90), slice(3, 7))  # a hollow at EL. 6.5 m, not connected to the river at 7 m
_TO_WGS = Transformer.from_crs("EPSG:5186", "EPSG:4326", always_xy=True)


def _elevation() -> np.ndarray:
    cols = np.arange(SIZE, dtype=np.float64)
    valley = 5.0 + 0.2 * np.abs(cols - RIVER_COL)  # 0.02 m/m: about 1°
    edge = 5.0 + 0.2 * abs(HILL_COL - 1 - RIVER_COL)
    hill = edge + 0.9 * PIXEL * (cols - (HILL_COL - 1))
    row = np.where(cols < HILL_COL, valley, hill)
    z = np.tile(row, (SIZE, 1))
    z[DEPRESSION] = 6.5
    return z.astype(np.float32)


def _cell(row: int, col: int) -> Point:
    x = ORIGIN[0] + (col + 0.5) * PIXEL
    y = ORIGIN[1] - (row + 0.5) * PIXEL
    return Point(*_TO_WGS.transform(x, y))


def write_dem(path: Path) -> Path:
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=SIZE,
        height=SIZE,
        count=1,
        dtype="float32",
        crs="EPSG:5186",
        transform=Affine(PIXEL, 0.0, ORIGIN[0], 0.0, -PIXEL, ORIGIN[1]),
        nodata=-9999.0,
    ) as ds:
        ds.write(_elevation(), 1)
    return path


@pytest.fixture
def dem_dir(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    import_dem(write_dem(tmp_path / "valley.tif"), data)
    return data


def test_flood_prone_covers_the_low_ground(dem_dir: Path) -> None:
    low = flood_prone(dem_dir, 7.0)
    assert len(low.polygons) == 2  # the river band and the hollow
    area = unary_union(low.polygons)
    assert area.contains(_cell(50, RIVER_COL)) and area.contains(_cell(5, RIVER_COL + 8))
    assert area.contains(_cell(85, 4))  # the hollow
    for high in (_cell(50, RIVER_COL + 12), _cell(50, 0), _cell(50, 45), _cell(50, 75)):
        assert not area.contains(high)
    # cols 13..31 (19 cells) over 100 rows, plus the 40-cell hollow
    assert sum(low.areas_m2) == pytest.approx((19 * 100 + 40) * PIXEL * PIXEL, rel=0.02)
    higher = flood_prone(dem_dir, 9.0)
    assert sum(higher.areas_m2) > sum(low.areas_m2)
    assert unary_union(higher.polygons).contains(_cell(50, RIVER_COL + 15))
    # Only the low ground connected to the river: the hollow is left out.
    river = LineString([_cell(0, RIVER_COL), _cell(SIZE - 1, RIVER_COL)])
    connected = flood_prone(dem_dir, 7.0, river=river)
    assert len(connected.polygons) == 1 and connected.dropped_unconnected == 1
    assert not connected.polygons[0].contains(_cell(85, 4))
    # The minimum area drops the hollow (4,000 m²) too.
    assert len(flood_prone(dem_dir, 7.0, min_area_m2=5_000).polygons) == 1
    assert flood_prone(dem_dir, 1.0).polygons == []


def test_landslide_prone_lies_on_the_steep_side(dem_dir: Path) -> None:
    assert LANDSLIDE_MIN_SLOPE_DEG == 34.0
    slopes = landslide_prone(dem_dir)
    assert len(slopes.polygons) == 1
    zone = slopes.polygons[0]
    assert zone.contains(_cell(50, 75)) and zone.contains(_cell(10, HILL_COL + 2))
    for flat in (_cell(50, RIVER_COL), _cell(85, 4), _cell(50, HILL_COL - 5)):
        assert not zone.contains(flat)
    west = _cell(0, HILL_COL - 1).x
    assert zone.bounds[0] >= west - 1e-9
    assert math.degrees(math.atan(0.9)) > LANDSLIDE_MIN_SLOPE_DEG
    assert landslide_prone(dem_dir, 60.0).polygons == []


def test_no_dem_is_a_conflict(tmp_path: Path) -> None:
    with pytest.raises(Conflict, match="safecity import dem"):
        flood_prone(tmp_path, 7.0)


def test_endpoints(api: Api, tmp_path: Path) -> None:
    c = api.client
    flood = "/evacuation/hazard-zones/flood-prone"
    slide = "/evacuation/hazard-zones/landslide-prone"
    assert c.post(flood, json={"water_level_m": 7}).status_code == 401
    assert c.post(slide, json={}).status_code == 401
    r = c.post(flood, json={"water_level_m": 7}, headers=api.headers)
    assert r.status_code == 409 and "safecity import dem" in r.json()["message"], r.text
    assert c.post(slide, json={}, headers=api.headers).status_code == 409
    # a flood and landslide shelter to the west of the valley, outside both zones
    shelter = {
        "code": "th-derive",
        "kind": "temporary_housing",
        "name_ko": "중랑초등학교 체육관",
        "name_en": "Jungnang Elementary School gym",
        "capacity": 200,
        "geometry": _cell(50, 1).__geo_interface__,
    }
    assert c.post("/shelters", json=shelter, headers=api.headers).status_code == 201
    import_dem(write_dem(tmp_path / "valley.tif"), api.platform.settings.data_dir)
    river = LineString([_cell(0, RIVER_COL), _cell(SIZE - 1, RIVER_COL)]).__geo_interface__
    r = c.post(flood, json={"water_level_m": 7, "river": river}, headers=api.headers)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["numberReturned"] == 1 and body["dropped_unconnected"] == 1
    # the answer's keys as clients read them (the service returns a typed DerivedZones)
    assert list(body) == [
        "type",
        "numberReturned",
        "features",
        "cells",
        "dropped_small",
        "dropped_unconnected",
        "dropped_over_limit",
        "notes",
    ]
    zone = body["features"][0]
    p = zone["properties"]
    assert p["hazard"] == "flood" and p["water_level_m"] == 7 and p["source"] == "dem:flood-prone"
    assert "EL.7" in p["name_ko"]
    assert "중랑초등학교" in p["guidance"]["ko"]["where_to_go"] and "west" in p["guidance"]["en"]["which_way"]
    assert shape(zone["geometry"]).contains(_cell(50, RIVER_COL))
    # Deriving again at a higher level replaces the earlier zone.
    r = c.post(
        flood, json={"water_level_m": 9, "river": river, "name_en": "Han stage 9 m"}, headers=api.headers
    )
    assert r.status_code == 201 and r.json()["features"][0]["properties"]["name_en"] == "Han stage 9 m"
    r = c.post(slide, json={"min_slope_deg": 30}, headers=api.headers)
    assert r.status_code == 201, r.text
    slide_zone = r.json()["features"][0]
    assert slide_zone["properties"]["hazard"] == "landslide"
    assert shape(slide_zone["geometry"]).contains(_cell(50, 75))
    for lang in ("ko", "en"):
        assert {"where_to_go", "which_way", "avoid"} <= set(slide_zone["properties"]["guidance"][lang])
    listed = c.get("/evacuation/hazard-zones").json()["features"]
    assert sorted(f["properties"]["hazard"] for f in listed) == ["flood", "landslide"]
    flood_zone = next(f for f in listed if f["properties"]["hazard"] == "flood")
    assert flood_zone["properties"]["water_level_m"] == 9
    r = c.post(slide, json={"min_slope_deg": 95}, headers=api.headers)
    assert r.status_code == 400
