# SPDX-License-Identifier: Apache-2.0
"""Metric geometry for evacuation: WGS84 (EPSG:4326, lon/lat) <-> Korea 2000 / Central Belt 2010 (EPSG:5186).

EPSG:5186 is a transverse Mercator on the Korean central meridian (127° E); over Seoul its scale error is
below 0.01 %, so Euclidean metres in it are good enough for walking distances and buffers. The
transformers are built on first use (never at import time) and cached.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np
import shapely
from numpy.typing import NDArray
from pyproj import Transformer
from shapely.geometry.base import BaseGeometry

from safecity.core.errors import BadRequest

METRIC_CRS = "EPSG:5186"


@lru_cache(maxsize=1)
def _to_metric() -> Transformer:
    return Transformer.from_crs("EPSG:4326", METRIC_CRS, always_xy=True)


@lru_cache(maxsize=1)
def _to_wgs84() -> Transformer:
    return Transformer.from_crs(METRIC_CRS, "EPSG:4326", always_xy=True)


def lonlat_to_metric(lon: NDArray[np.float64], lat: NDArray[np.float64]) -> NDArray[np.float64]:
    """(n, 2) array of EPSG:5186 x, y in metres for WGS84 longitudes and latitudes."""
    x, y = _to_metric().transform(lon, lat)
    return np.column_stack([np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)])


def to_metric(geom: BaseGeometry) -> BaseGeometry:
    """A WGS84 geometry in EPSG:5186 metres."""
    return shapely.transform(geom, _transform_xy(_to_metric()), interleaved=False)


def to_wgs84(geom: BaseGeometry) -> BaseGeometry:
    """An EPSG:5186 geometry back in WGS84 lon/lat."""
    return shapely.transform(geom, _transform_xy(_to_wgs84()), interleaved=False)


def _transform_xy(t: Transformer) -> Any:
    def fn(x: NDArray[np.float64], y: NDArray[np.float64]) -> tuple[Any, Any]:
        return t.transform(x, y)

    return fn


def parse_geojson_geometry(value: Any, where: str, kinds: tuple[str, ...]) -> BaseGeometry:
    """A shapely geometry from a GeoJSON geometry object (WGS84), valid and of one of ``kinds``.

    Raises BadRequest naming ``where`` when it is not GeoJSON, of another type, out of lon/lat range or
    invalid (self-intersecting rings are refused, not silently repaired: the operator must see it).
    """
    if not isinstance(value, dict) or value.get("type") not in kinds:
        raise BadRequest(f"{where}: needs a GeoJSON geometry of type {' or '.join(kinds)}", where=where)
    try:
        geom = shapely.geometry.shape(value)
    except (ValueError, TypeError, KeyError, IndexError, AttributeError) as e:
        raise BadRequest(f"{where}: not a valid GeoJSON {value.get('type')}: {e}", where=where) from None
    if geom.is_empty:
        raise BadRequest(f"{where}: the geometry is empty", where=where)
    minx, miny, maxx, maxy = geom.bounds
    if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
        raise BadRequest(f"{where}: coordinates must be WGS84 longitude, latitude", where=where)
    if not geom.is_valid:
        reason = shapely.is_valid_reason(geom)
        raise BadRequest(
            f"{where}: invalid geometry ({reason}); fix the rings and send it again", where=where
        )
    return geom
