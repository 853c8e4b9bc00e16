# SPDX-License-Identifier: Apache-2.0
"""A city's own forecast catchment from its imports (both stores): a DEM (generated here: a tilted
plane with a no-data strip, labelled generated), underpasses and semi-basement homes imported as layers,
and the real OSM extract's roads; places outside the districts left out, an underpass burnt in as a pit,
no-data cells inactive; bad districts and a missing DEM are 400s naming the field."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyproj
import pytest
import rasterio  # type: ignore[import-untyped]
from affine import Affine

from safecity.app import Platform
from safecity.core.errors import BadRequest
from safecity.flood.catchment import UNDERPASS_SAG_M
from safecity.flood.deploy import imported_catchment
from safecity.geo.importer import import_layer
from safecity.geo.roads.graph import graph_path
from safecity.geo.roads.osm import read_osm
from safecity.geo.seoul import districts
from safecity.geo.terrain import import_dem
from tests.conftest import SHARED

OSM = SHARED / "data" / "roads" / "osm_seoul_gongdeok_cheongpa.osm"
MAPO, YONGSAN = "11440", "11170"
INSIDE = (126.9560, 37.5480)  # 공덕-청파, in Mapo or Yongsan
OUTSIDE = (127.0276, 37.4979)  # 강남역, Gangnam


def _dem(path: Path) -> tuple[float, float, float]:
    """A generated DEM over Mapo and Yongsan in EPSG:5186, 50 m pixels: z = 100 - 0.01 x' (m), with
    the westmost 20 columns no data. Returns the plane's origin x and the no-data edge x (m)."""
    shapes = [d.polygon for d in districts() if d.code in (MAPO, YONGSAN)]
    fwd = pyproj.Transformer.from_crs("EPSG:4326", "EPSG:5186", always_xy=True)
    xs, ys = [], []
    for s in shapes:
        x0, y0, x1, y1 = s.bounds
        for lon, lat in ((x0, y0), (x0, y1), (x1, y0), (x1, y1)):
            x, y = fwd.transform(lon, lat)
            xs.append(x)
            ys.append(y)
    left, top = min(xs) - 500, max(ys) + 500
    width, height = int((max(xs) - left + 500) / 50), int((top - min(ys) + 500) / 50)
    z = 100.0 - 0.01 * (np.arange(width)[None, :] * 50.0) + np.zeros((height, 1))
    z[:, :20] = -9999.0
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=width,
        height=height,
        count=1,
        dtype="float32",
        crs="EPSG:5186",
        transform=Affine(50.0, 0.0, left, 0.0, -50.0, top),
        nodata=-9999.0,
    ) as ds:
        ds.write(z.astype(np.float32), 1)
    return left, left + 20 * 50, top


def _points(path: Path, points: list[tuple[float, float]], props: list[dict[str, object]]) -> Path:
    features = [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": list(p)}, "properties": q}
        for p, q in zip(points, props, strict=True)
    ]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}), encoding="utf-8")
    return path


def test_a_catchment_from_the_city_imports(platform: Platform, tmp_path: Path) -> None:
    data_dir = platform.settings.data_dir
    with pytest.raises(BadRequest) as e:
        imported_catchment(platform.store, data_dir, [MAPO], 100.0)
    assert e.value.where == "dem"
    left, nodata_edge, _ = _dem(tmp_path / "dem-generated.tif")
    import_dem(tmp_path / "dem-generated.tif", data_dir)
    read_osm(OSM).graph.save(graph_path(data_dir))
    import_layer(
        platform,
        _points(
            tmp_path / "underpasses-generated.geojson",
            [INSIDE, OUTSIDE],
            [{"name": "공덕 지하차도"}, {"name": "강남"}],
        ),
        "underpasses",
    )
    import_layer(
        platform,
        _points(
            tmp_path / "semi-basements-generated.geojson",
            [(126.9540, 37.5460), (126.9600, 37.5450), OUTSIDE],
            [{"name": "A", "homes": 6}, {"name": "B", "homes": 3}, {"name": "C", "homes": 9}],
        ),
        "semi-basements",
    )

    c = imported_catchment(platform.store, data_dir, [MAPO, YONGSAN], 100.0)
    assert [p.name_ko for p in c.of_kind("underpass")] == ["공덕 지하차도"]
    homes = c.of_kind("building")
    assert sorted(int(p.properties["homes"]) for p in homes) == [3, 6]
    assert all(p.properties["generated"] and p.district in (MAPO, YONGSAN) for p in homes)
    assert (
        "(반지하 6세대)" in " ".join(p.name_ko for p in homes) and "semi-basement homes" in homes[0].name_en
    )
    assert len(c.of_kind("road")) >= 1  # the extract's primary roads (마포대로...)
    # the ground: the plane where the DEM has data, the underpass a pit of UNDERPASS_SAG_M, no-data inactive
    g = c.grid
    dem = np.asarray(c.domain.dem)
    inactive = np.asarray(c.domain.inactive)
    xc = g.centres_x()[None, :] + np.zeros((g.ny, 1))
    plane = 100.0 - 0.01 * (np.floor((xc - left) / 50.0) * 50.0)
    (r, col) = c.of_kind("underpass")[0].cells[0]
    assert dem[r, col] == pytest.approx(plane[r, col] - UNDERPASS_SAG_M, abs=1e-4)
    active = ~inactive
    active[r, col] = False
    assert np.allclose(dem[active], plane[active], atol=1e-4)
    assert inactive[xc < nodata_edge - 50].all()
    assert active.sum() > 1000 and inactive.sum() > 0

    for bad in ([], ["99999"]):
        with pytest.raises(BadRequest) as e:
            imported_catchment(platform.store, data_dir, bad, 100.0)
        assert e.value.where == "districts" and e.value.message_ko
