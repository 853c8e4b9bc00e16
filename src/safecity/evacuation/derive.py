# SPDX-License-Identifier: Apache-2.0
"""Hazard zones derived from the terrain model (``safecity import dem FILE.tif``).

* Flood-prone areas: the DEM cells whose elevation is below a water surface elevation, e.g. a river
  stage in EL.m (metres above the Incheon mean sea level datum, as the Han River Flood Control Office
  gauges report it; NGII DEMs use the same datum). Optionally only the low ground connected to a river
  line or polygon is kept, so a hollow behind a levee is not flagged by a river stage alone.
* Landslide-prone slopes: the cells whose slope (Horn 1981, as :meth:`Terrain.slope_at`) is at least a
  threshold, :data:`LANDSLIDE_MIN_SLOPE_DEG` by default.

The cell mask is polygonised with ``rasterio.features.shapes`` (4-connected regions) in the DEM's CRS,
projected to EPSG:5186 metres to simplify and measure, filtered by a minimum area and returned in WGS84.
This is a screening from elevation and slope alone: it knows nothing of levees, drains, soil or
vegetation. Operators should prefer the official maps (침수흔적도, 산사태위험지도) when they have them
(``safecity import layer FILE --as hazard-zones``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import rasterio  # type: ignore[import-untyped]
import rasterio.features  # type: ignore[import-untyped]
import shapely
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field
from pyproj import CRS, Transformer
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry
from sqlalchemy.engine import Connection

from safecity.core.errors import BadRequest, Conflict
from safecity.evacuation.geometry import METRIC_CRS, parse_geojson_geometry, to_metric, to_wgs84
from safecity.evacuation.zones import Hazard, HazardZone, store_zones
from safecity.geo.terrain import M_PER_DEG, dem_dir

#: Default landslide slope threshold in degrees. Source: the Korean steep-slope definition of
#: 「급경사지 재해예방에 관한 법률 시행령」 제2조 (Enforcement Decree of the Act on the Prevention of
#: Steep-Slope Disasters): a natural slope at least 50 m high with a gradient of 34° or more, or an
#: artificial slope at least 5 m high (3 m next to buildings since 2024), 20 m long and 34° or more.
#: Confirmed only through secondary summaries of the decree (not read on law.go.kr), and the height
#: and length conditions are not applied here. The Korea Forest Service landslide hazard map
#: (산사태위험지도) scores slope together with other factors; we could not confirm a single official
#: slope number from it. A DEM smooths slopes, so operators may want a lower value (the 25–30° often
#: quoted for shallow landslides) via ``min_slope_deg``.
LANDSLIDE_MIN_SLOPE_DEG = 34.0
#: Polygons smaller than this (m²) are dropped: single cells and noise.
DEFAULT_MIN_AREA_M2 = 2_000.0
#: At most this many zones per derivation (the largest are kept); each gets its own guidance.
MAX_ZONES = 200


class FloodProneIn(BaseModel):
    """Derive flood-prone zones: DEM cells below ``water_level_m`` (EL.m, the DEM's vertical datum)."""

    model_config = ConfigDict(extra="forbid")
    water_level_m: float = Field(ge=-100, le=9000, description="water surface elevation, e.g. a river stage")
    min_area_m2: float = Field(default=DEFAULT_MIN_AREA_M2, ge=0)
    simplify_m: float | None = Field(default=None, ge=0, description="default: one DEM cell")
    river: dict[str, Any] | None = Field(
        default=None, description="GeoJSON (Multi)LineString or (Multi)Polygon: keep only connected areas"
    )
    name_ko: str | None = Field(default=None, max_length=500)
    name_en: str | None = Field(default=None, max_length=500)
    expires_at: datetime | None = None
    replace: bool = Field(default=True, description="deactivate the zones an earlier derivation wrote")


class LandslideProneIn(BaseModel):
    """Derive landslide-prone zones: DEM cells with slope ≥ ``min_slope_deg``."""

    model_config = ConfigDict(extra="forbid")
    min_slope_deg: float = Field(default=LANDSLIDE_MIN_SLOPE_DEG, gt=0, lt=90)
    min_area_m2: float = Field(default=DEFAULT_MIN_AREA_M2, ge=0)
    simplify_m: float | None = Field(default=None, ge=0, description="default: one DEM cell")
    name_ko: str | None = Field(default=None, max_length=500)
    name_en: str | None = Field(default=None, max_length=500)
    expires_at: datetime | None = None
    replace: bool = Field(default=True, description="deactivate the zones an earlier derivation wrote")


@dataclass
class Derived:
    """Polygons (WGS84) of one derivation, with their areas (m²) and what was left out."""

    polygons: list[BaseGeometry]
    areas_m2: list[float]
    cells: int
    dropped_small: int = 0
    dropped_unconnected: int = 0
    dropped_over_limit: int = 0
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Dem:
    z: np.ma.MaskedArray[Any, Any]
    transform: Any
    crs: CRS
    res: tuple[float, float]


def _read_dem(data_dir: Path) -> _Dem:
    path = dem_dir(data_dir) / "dem.tif"
    if not path.is_file():
        raise Conflict(
            "no terrain model has been imported: run `safecity import dem FILE.tif` first",
            where="dem",
            message_ko="지형 모델(DEM)이 없습니다. 먼저 `safecity import dem FILE.tif`를 실행하십시오.",
        )
    with rasterio.open(path) as ds:
        # float32 (the usual DEM type) keeps a city-wide 5 m DEM within a few hundred MB of memory.
        z = ds.read(1, masked=True).astype(np.float32)
        return _Dem(z, ds.transform, CRS.from_wkt(ds.crs.to_wkt()), (abs(ds.res[0]), abs(ds.res[1])))


def _slope_deg(dem: _Dem) -> NDArray[np.floating[Any]]:
    """Slope in degrees per cell (Horn 1981); NaN on the border and next to nodata."""
    a = dem.z.filled(np.nan)
    dx, dy = dem.res
    if dem.crs.is_geographic:
        rows = a.shape[0]
        lat = dem.transform.f + dem.transform.e * (rows / 2)
        dx *= M_PER_DEG * math.cos(math.radians(lat))
        dy *= M_PER_DEG
    out = np.full(a.shape, np.nan, dtype=np.float32)
    if a.shape[0] < 3 or a.shape[1] < 3:
        return out
    nw, n, ne = a[:-2, :-2], a[:-2, 1:-1], a[:-2, 2:]
    w, e = a[1:-1, :-2], a[1:-1, 2:]
    sw, s, se = a[2:, :-2], a[2:, 1:-1], a[2:, 2:]
    dzdx = ((ne + 2 * e + se) - (nw + 2 * w + sw)) / (8 * dx)
    dzdy = ((sw + 2 * s + se) - (nw + 2 * n + ne)) / (8 * dy)
    out[1:-1, 1:-1] = np.degrees(np.arctan(np.hypot(dzdx, dzdy)))
    return out


def _polygonise(
    dem: _Dem,
    mask: NDArray[np.bool_],
    *,
    min_area_m2: float,
    simplify_m: float | None,
    river: BaseGeometry | None = None,
) -> Derived:
    cells = int(mask.sum())
    to_metric_t = Transformer.from_crs(dem.crs, METRIC_CRS, always_xy=True)

    def project(coords: NDArray[np.float64]) -> NDArray[np.float64]:
        x, y = to_metric_t.transform(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    cell_m = math.sqrt(dem.res[0] * dem.res[1])
    if dem.crs.is_geographic:
        cell_m *= M_PER_DEG
    tolerance = cell_m if simplify_m is None else simplify_m
    river_m = to_metric(river).buffer(cell_m) if river is not None else None
    found: list[tuple[float, BaseGeometry]] = []
    result = Derived([], [], cells)
    if cells == 0:
        return result
    for geom, _value in rasterio.features.shapes(
        mask.astype(np.uint8), mask=mask, transform=dem.transform, connectivity=4
    ):
        polygon = shapely.transform(shape(geom), project)
        if river_m is not None and not polygon.intersects(river_m):
            result.dropped_unconnected += 1
            continue
        if polygon.area < min_area_m2:
            result.dropped_small += 1
            continue
        if tolerance > 0:
            polygon = polygon.simplify(tolerance, preserve_topology=True)
        if not polygon.is_valid:
            polygon = shapely.make_valid(polygon)
            parts = [p for p in shapely.get_parts(polygon) if p.geom_type in ("Polygon", "MultiPolygon")]
            polygon = shapely.union_all(parts) if parts else shapely.Polygon()
        if polygon.is_empty:
            result.dropped_small += 1
            continue
        found.append((polygon.area, polygon))
    found.sort(key=lambda p: -p[0])
    if len(found) > MAX_ZONES:
        result.dropped_over_limit = len(found) - MAX_ZONES
        result.notes.append(f"only the {MAX_ZONES} largest of {len(found)} areas were kept")
        found = found[:MAX_ZONES]
    result.polygons = [to_wgs84(p) for _a, p in found]
    result.areas_m2 = [a for a, _p in found]
    return result


def flood_prone(
    data_dir: Path,
    water_level_m: float,
    *,
    min_area_m2: float = DEFAULT_MIN_AREA_M2,
    simplify_m: float | None = None,
    river: BaseGeometry | None = None,
) -> Derived:
    """Areas of the DEM below ``water_level_m``; with ``river`` (WGS84) only those touching it.

    Raises Conflict when no DEM has been imported.
    """
    dem = _read_dem(data_dir)
    mask = np.asarray(~np.ma.getmaskarray(dem.z) & (dem.z.filled(np.inf) < water_level_m), dtype=bool)
    return _polygonise(dem, mask, min_area_m2=min_area_m2, simplify_m=simplify_m, river=river)


def landslide_prone(
    data_dir: Path,
    min_slope_deg: float = LANDSLIDE_MIN_SLOPE_DEG,
    *,
    min_area_m2: float = DEFAULT_MIN_AREA_M2,
    simplify_m: float | None = None,
) -> Derived:
    """Areas of the DEM with slope ≥ ``min_slope_deg``. Raises Conflict when no DEM has been imported."""
    if not 0 < min_slope_deg < 90:
        raise BadRequest("min_slope_deg: must be between 0 and 90 degrees", where="min_slope_deg")
    dem = _read_dem(data_dir)
    slope = _slope_deg(dem)
    mask = np.asarray(np.nan_to_num(slope, nan=-1.0) >= min_slope_deg, dtype=bool)
    return _polygonise(dem, mask, min_area_m2=min_area_m2, simplify_m=simplify_m)


def _store_derived(
    conn: Connection,
    derived: Derived,
    hazard: Hazard,
    *,
    now: datetime,
    source: str,
    name_ko: str,
    name_en: str,
    properties: dict[str, Any],
    expires_at: datetime | None,
    replace: bool,
) -> list[HazardZone]:
    records = [
        {
            "hazard": hazard,
            "geom": polygon,
            "name_ko": name_ko if len(derived.polygons) == 1 else f"{name_ko} {i + 1}",
            "name_en": name_en if len(derived.polygons) == 1 else f"{name_en} {i + 1}",
            "properties": {**properties, "area_m2": round(area, 1)},
            "source": source,
            "expires_at": expires_at,
        }
        for i, (polygon, area) in enumerate(zip(derived.polygons, derived.areas_m2, strict=True))
    ]
    zones, _replaced = store_zones(conn, records, now=now, replace_sources=[source] if replace else ())
    return zones


def derive_flood_zones(conn: Connection, data_dir: Path, body: FloodProneIn, now: datetime) -> DerivedZones:
    """Derive and store flood-prone zones with guidance, in the caller's transaction."""
    river = (
        parse_geojson_geometry(
            body.river, "river", ("LineString", "MultiLineString", "Polygon", "MultiPolygon")
        )
        if body.river is not None
        else None
    )
    derived = flood_prone(
        data_dir, body.water_level_m, min_area_m2=body.min_area_m2, simplify_m=body.simplify_m, river=river
    )
    level = f"{body.water_level_m:g}"
    zones = _store_derived(
        conn,
        derived,
        Hazard.flood,
        now=now,
        source="dem:flood-prone",
        name_ko=body.name_ko or f"침수 우려 지역 (지반고 EL.{level} m 미만)",
        name_en=body.name_en or f"Flood-prone area (ground below EL. {level} m)",
        properties={"derived_from": "dem", "water_level_m": body.water_level_m, "river": body.river},
        expires_at=body.expires_at,
        replace=body.replace,
    )
    return DerivedZones(tuple(zones), derived)


def derive_landslide_zones(
    conn: Connection, data_dir: Path, body: LandslideProneIn, now: datetime
) -> DerivedZones:
    """Derive and store landslide-prone zones with guidance, in the caller's transaction."""
    derived = landslide_prone(
        data_dir, body.min_slope_deg, min_area_m2=body.min_area_m2, simplify_m=body.simplify_m
    )
    slope = f"{body.min_slope_deg:g}"
    zones = _store_derived(
        conn,
        derived,
        Hazard.landslide,
        now=now,
        source="dem:landslide-prone",
        name_ko=body.name_ko or f"산사태 우려 급경사지 (경사 {slope}° 이상)",
        name_en=body.name_en or f"Landslide-prone slope ({slope}° or steeper)",
        properties={"derived_from": "dem", "min_slope_deg": body.min_slope_deg},
        expires_at=body.expires_at,
        replace=body.replace,
    )
    return DerivedZones(tuple(zones), derived)


@dataclass(frozen=True, slots=True)
class DerivedZones:
    """The zones derived from the DEM and stored, and what the derivation counted and dropped."""

    zones: tuple[HazardZone, ...]
    derived: Derived

    def to_json(self) -> dict[str, Any]:
        """The HTTP answer: a GeoJSON FeatureCollection of the zones with the derivation's counts."""
        derived = self.derived
        return {
            "type": "FeatureCollection",
            "numberReturned": len(self.zones),
            "features": [z.to_feature() for z in self.zones],
            "cells": derived.cells,
            "dropped_small": derived.dropped_small,
            "dropped_unconnected": derived.dropped_unconnected,
            "dropped_over_limit": derived.dropped_over_limit,
            "notes": derived.notes,
        }
