# SPDX-License-Identifier: Apache-2.0
"""The terrain model (DEM): import a GeoTIFF, then elevation and slope at a WGS84 point.

``safecity import dem FILE.tif`` validates the file, copies it to ``data_dir/dem/dem.tif`` and records its
CRS and bounds (native and WGS84) in ``data_dir/dem/dem.json``. :class:`Terrain` reads that copy; hazard
zone derivation (flood-prone low ground, landslide-prone slopes) uses :meth:`Terrain.elevation_at` and
:meth:`Terrain.slope_at`.
"""

from __future__ import annotations

import json
import math
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyproj
import rasterio  # type: ignore[import-untyped]
from rasterio.errors import RasterioIOError  # type: ignore[import-untyped]
from rasterio.warp import transform_bounds  # type: ignore[import-untyped]
from rasterio.windows import Window  # type: ignore[import-untyped]

from safecity.core.errors import BadRequest, ConfigError

#: Metres per degree of latitude (WGS84 mean); a degree of longitude is this times cos(latitude). Used
#: only for DEMs in geographic coordinates, where slope needs the pixel size in metres.
M_PER_DEG = 111_195.0


@dataclass(frozen=True)
class DemInfo:
    path: str
    source: str
    crs: str
    width: int
    height: int
    pixel_size: tuple[float, float]  # in CRS units (x, y), positive
    bounds: tuple[float, float, float, float]  # native CRS: minx, miny, maxx, maxy
    bounds_wgs84: tuple[float, float, float, float]  # minlon, minlat, maxlon, maxlat
    nodata: float | None
    dtype: str


def dem_dir(data_dir: Path) -> Path:
    return data_dir / "dem"


def import_dem(src: Path, data_dir: Path) -> DemInfo:
    """Validate ``src`` (a single-band elevation GeoTIFF with a CRS) and store it under ``data_dir/dem``.

    Raises BadRequest naming the file and, where it applies, the band.
    """
    try:
        ds = rasterio.open(src)
    except RasterioIOError as e:
        raise BadRequest(f"{src}: not a readable raster ({e})", where=str(src)) from e
    with ds:
        if ds.driver != "GTiff":
            raise BadRequest(
                f"{src}: is {ds.driver}, not a GeoTIFF; convert it with gdal_translate", where=str(src)
            )
        if ds.count < 1:
            raise BadRequest(f"{src}: has no band", where=str(src))
        if ds.crs is None:
            raise BadRequest(
                f"{src}: has no coordinate reference system; set one (gdal_edit.py -a_srs EPSG:5186)",
                where=str(src),
            )
        if not np.issubdtype(np.dtype(ds.dtypes[0]), np.number):
            raise BadRequest(f"{src}: band 1 is {ds.dtypes[0]}, not numeric elevation", where=f"{src}:band 1")
        sample = ds.read(1, out_shape=(min(ds.height, 256), min(ds.width, 256)), masked=True)
        if np.ma.count(sample) == 0:
            raise BadRequest(f"{src}: band 1 holds only nodata", where=f"{src}:band 1")
        values = sample.compressed().astype(np.float64)
        if not np.all(np.isfinite(values)) or values.min() < -500 or values.max() > 9000:
            raise BadRequest(
                f"{src}: band 1 values {values.min():.1f}..{values.max():.1f} are not elevations in metres "
                "(expected -500..9000)",
                where=f"{src}:band 1",
            )
        b = ds.bounds
        wgs = transform_bounds(ds.crs, "EPSG:4326", b.left, b.bottom, b.right, b.top, densify_pts=21)
        crs = ds.crs.to_string()
        width, height = ds.width, ds.height
        res = (abs(float(ds.res[0])), abs(float(ds.res[1])))
        nodata = None if ds.nodata is None else float(ds.nodata)
        dtype = str(ds.dtypes[0])
    out_dir = dem_dir(data_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    dest = out_dir / "dem.tif"
    shutil.copyfile(src, dest)
    info = DemInfo(
        path=str(dest),
        source=str(src),
        crs=crs,
        width=width,
        height=height,
        pixel_size=res,
        bounds=(float(b.left), float(b.bottom), float(b.right), float(b.top)),
        bounds_wgs84=(float(wgs[0]), float(wgs[1]), float(wgs[2]), float(wgs[3])),
        nodata=nodata,
        dtype=dtype,
    )
    (out_dir / "dem.json").write_text(json.dumps(asdict(info), indent=2))
    return info


class Terrain:
    """Elevation (m) and slope (degrees) at WGS84 points, read from the imported DEM."""

    def __init__(self, data_dir: Path) -> None:
        path = dem_dir(data_dir) / "dem.tif"
        if not path.is_file():
            raise ConfigError(f"no terrain model at {path}: run `safecity import dem FILE.tif`")
        self._ds: Any = rasterio.open(path)
        self._to_dem = pyproj.Transformer.from_crs("EPSG:4326", self._ds.crs.to_wkt(), always_xy=True)
        self._geographic = bool(self._ds.crs.is_geographic)

    def close(self) -> None:
        self._ds.close()

    def __enter__(self) -> Terrain:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _window(self, lon: float, lat: float, r: int) -> np.ma.MaskedArray[Any, Any] | None:
        x, y = self._to_dem.transform(lon, lat)
        row, col = self._ds.index(x, y)
        if not (r <= row < self._ds.height - r and r <= col < self._ds.width - r):
            return None
        win = self._ds.read(1, window=Window(col - r, row - r, 2 * r + 1, 2 * r + 1), masked=True)
        return win  # type: ignore[no-any-return]

    def elevation_at(self, lon: float, lat: float) -> float | None:
        """Elevation in the DEM's units (metres) of the pixel holding the point; None outside or nodata."""
        win = self._window(lon, lat, 0)
        if win is None or win.mask.any():
            return None
        return float(win[0, 0])

    def slope_at(self, lon: float, lat: float) -> float | None:
        """Slope in degrees at the point (Horn 1981, 3x3 neighbourhood); None at the edge or near nodata."""
        z = self._window(lon, lat, 1)
        if z is None or bool(np.any(np.ma.getmaskarray(z))):
            return None
        a = z.filled(np.nan).astype(np.float64)
        dx, dy = self._ds.res
        if self._geographic:
            dx *= M_PER_DEG * math.cos(math.radians(lat))
            dy *= M_PER_DEG
        dzdx = ((a[0, 2] + 2 * a[1, 2] + a[2, 2]) - (a[0, 0] + 2 * a[1, 0] + a[2, 0])) / (8 * dx)
        dzdy = ((a[2, 0] + 2 * a[2, 1] + a[2, 2]) - (a[0, 0] + 2 * a[0, 1] + a[0, 2])) / (8 * dy)
        return math.degrees(math.atan(math.hypot(dzdx, dzdy)))
