# SPDX-License-Identifier: Apache-2.0
"""The terrain model: import a GeoTIFF, elevation and slope at WGS84 points."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pyproj
import pytest
import rasterio  # type: ignore[import-untyped]
from affine import Affine

from safecity.core.errors import BadRequest
from safecity.geo.terrain import Terrain, import_dem

CENTRE = (126.9580, 37.5470)  # Gongdeok
GRADE = 0.1  # the test plane rises 0.1 m per metre eastward: slope atan(0.1) = 5.71 degrees
PIXEL = 10.0


def _plane(path: Path, crs: str | None = "EPSG:5186", values: np.ndarray | None = None) -> None:
    x0, y0 = pyproj.Transformer.from_crs("EPSG:4326", "EPSG:5186", always_xy=True).transform(*CENTRE)
    size = 200
    cols = np.arange(size, dtype=np.float32)
    z = np.tile(20.0 + GRADE * PIXEL * cols, (size, 1)).astype(np.float32) if values is None else values
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=size,
        height=size,
        count=1,
        dtype="float32",
        crs=crs,
        transform=Affine(PIXEL, 0.0, x0 - size / 2 * PIXEL, 0.0, -PIXEL, y0 + size / 2 * PIXEL),
        nodata=-9999.0,
    ) as ds:
        ds.write(z, 1)


def test_import_and_sample(tmp_path: Path) -> None:
    src = tmp_path / "dem.tif"
    _plane(src)
    info = import_dem(src, tmp_path / "data")
    assert info.crs == "EPSG:5186" and info.width == 200
    w, s, e, n = info.bounds_wgs84
    assert w < CENTRE[0] < e and s < CENTRE[1] < n
    assert (tmp_path / "data" / "dem" / "dem.json").is_file()
    with Terrain(tmp_path / "data") as t:
        z = t.elevation_at(*CENTRE)
        assert z is not None and 20 + GRADE * PIXEL * 98 <= z <= 20 + GRADE * PIXEL * 102
        slope = t.slope_at(*CENTRE)
        assert slope == pytest.approx(math.degrees(math.atan(GRADE)), abs=0.01)
        assert t.elevation_at(127.2, 37.7) is None  # outside the raster
        assert t.slope_at(127.2, 37.7) is None


def test_bad_rasters_are_named(tmp_path: Path) -> None:
    no_crs = tmp_path / "nocrs.tif"
    _plane(no_crs, crs=None)
    with pytest.raises(BadRequest, match="coordinate reference system") as e:
        import_dem(no_crs, tmp_path)
    assert str(no_crs) in e.value.message
    empty = tmp_path / "empty.tif"
    _plane(empty, values=np.full((200, 200), -9999.0, dtype=np.float32))
    with pytest.raises(BadRequest, match="band 1 holds only nodata") as e:
        import_dem(empty, tmp_path)
    assert e.value.where == f"{empty}:band 1"
    text = tmp_path / "dem.tif.txt"
    text.write_text("not a raster")
    with pytest.raises(BadRequest, match="not a readable raster"):
        import_dem(text, tmp_path)
