# SPDX-License-Identifier: Apache-2.0
"""A city's own forecast catchment, from what it imported (not the demo's generated city):

* the ground: the DEM of ``safecity import dem FILE.tif`` (``data_dir/dem/dem.tif``, any CRS), sampled
  at each cell's centre; cells with no elevation (outside the DEM or nodata) are inactive;
* the extent: the districts named (their shipped boundaries, :mod:`safecity.geo.seoul`);
* the places: the road underpasses and the buildings with semi-basement homes of ``safecity import layer
  FILE --as underpasses|semi-basements`` (:mod:`safecity.flood.sites`), and the trunk and primary roads
  of the imported road network (``safecity import roads``), each OSM way one road.

:func:`imported_catchment` builds it; the forecast service uses it from start-up when
``SAFECITY_FLOOD__CATCHMENT_DISTRICTS`` names districts (and ``safecity flood catchment`` shows what
would be built).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from shapely.geometry import LineString

from safecity.core.errors import BadRequest
from safecity.flood.catchment import Catchment, PlaceIn, from_elevation
from safecity.flood.sites import read_sites
from safecity.store import Store

#: Elevation given to cells without one while the domain is built (the Domain refuses NaN); they end
#: inactive, walls of the highest ground around.
NO_DATA = 1.0e6
#: Road classes a forecast reports on (as the demo: the roads whose closure changes routes).
ROAD_CLASSES = ("motorway", "trunk", "primary")


def imported_catchment(store: Store, data_dir: Path, districts: Sequence[str], cell_m: float) -> Catchment:
    """The catchment over ``districts`` (5-digit codes) at ``cell_m`` metres from the imported DEM, sites
    and roads. Raises BadRequest naming ``districts`` for an unknown code, ``dem`` when no DEM is
    imported or it covers none of the districts."""
    from safecity.geo.seoul import districts as shipped

    known = {d.code: d for d in shipped()}
    unknown = [c for c in districts if c not in known]
    if not districts or unknown:
        raise BadRequest(
            f"districts: {', '.join(unknown) or 'none given'}: name 5-digit Seoul district codes (e.g. 11650)",
            where="districts",
            message_ko=f"districts: {', '.join(unknown) or '없음'}: 서울 자치구 코드 5자리를 주십시오 (예: 11650)",
        )
    outline = shapely.union_all([known[c].polygon for c in districts])
    elevation = _dem_sampler(data_dir)
    with store.engine.connect() as conn:
        underpasses = read_sites(conn, "underpass")
        homes = read_sites(conn, "semi_basement")
    places: list[PlaceIn] = []
    for s in underpasses:
        if outline.contains(s["geom"]):
            places.append(
                PlaceIn(
                    f"underpass-{s['id']}",
                    "underpass",
                    s["name"],
                    s["name"],
                    s["geom"],
                    _district_of(s["geom"], districts, known),
                    {"generated": bool(s["generated"]), "source": s["source"]},
                )
            )
    for s in homes:
        if outline.contains(s["geom"]):
            n = int(s["homes"])
            places.append(
                PlaceIn(
                    f"semi-basement-site-{s['id']}",
                    "building",
                    f"{s['name']} (반지하 {n}세대)",
                    f"{s['name']} ({n} semi-basement homes)",
                    s["geom"],
                    _district_of(s["geom"], districts, known),
                    {"homes": n, "buildings": 1, "generated": bool(s["generated"]), "source": s["source"]},
                )
            )
    places += _roads(data_dir, outline)
    catchment = from_elevation(
        elevation,
        outline,
        places,
        cell_m=cell_m,
        label=f"districts {', '.join(districts)}, {cell_m:g} m cells",
    )
    dem = np.asarray(catchment.domain.dem, dtype=np.float64)
    missing = dem > NO_DATA / 2
    inactive = np.asarray(catchment.domain.inactive, dtype=bool) | missing
    if inactive.all():
        raise BadRequest(
            "dem: the imported DEM covers none of the districts named; import one that does",
            where="dem",
            message_ko="dem: 가져온 지형 자료가 지정한 구를 덮지 않습니다",
        )
    # a no-data cell is a wall of the highest ground around, and out of the domain
    dem = np.where(missing, float(dem[~missing].max()), dem)
    domain = dataclasses.replace(catchment.domain, dem=dem, inactive=inactive)
    return dataclasses.replace(catchment, domain=domain)


def _dem_sampler(data_dir: Path) -> Any:
    """Elevation (m) at WGS84 points from the imported DEM, NO_DATA outside it or at nodata (vectorised)."""
    import pyproj
    import rasterio  # type: ignore[import-untyped]

    from safecity.geo.terrain import dem_dir

    path = dem_dir(data_dir) / "dem.tif"
    if not path.is_file():
        raise BadRequest(
            "dem: no terrain model: run `safecity import dem FILE.tif` first",
            where="dem",
            message_ko="dem: 지형 자료가 없습니다: `safecity import dem FILE.tif`를 먼저 실행하십시오",
        )
    with rasterio.open(path) as ds:
        band = ds.read(1, masked=True)
        values = np.ma.filled(band.astype(np.float64), NO_DATA)
        t = ds.transform  # x = a col + b row + c, y = d col + e row + f (north-up: b = d = 0)
        det = t.a * t.e - t.b * t.d
        to_dem = pyproj.Transformer.from_crs("EPSG:4326", ds.crs.to_wkt(), always_xy=True)

    def elevation(lon: Any, lat: Any) -> Any:
        x, y = to_dem.transform(lon, lat)
        dx, dy = np.asarray(x) - t.c, np.asarray(y) - t.f
        col = np.floor((t.e * dx - t.b * dy) / det).astype(np.int64)
        row = np.floor((-t.d * dx + t.a * dy) / det).astype(np.int64)
        ok = (row >= 0) & (row < values.shape[0]) & (col >= 0) & (col < values.shape[1])
        out = np.full(np.shape(lon), NO_DATA)
        out[ok] = values[row[ok], col[ok]]
        return out

    return elevation


def _district_of(geom: Any, codes: Sequence[str], known: dict[str, Any]) -> str | None:
    return next((c for c in codes if known[c].polygon.contains(geom)), None)


def _roads(data_dir: Path, outline: Any) -> list[PlaceIn]:
    """Each trunk or primary OSM way of the imported road network inside the outline, as one road."""
    from safecity.geo.roads.graph import graph_path, load_graph

    path = graph_path(data_dir)
    if not path.is_file():
        return []
    g = load_graph(path)
    wanted = [i for i, c in enumerate(g.classes) if c in ROAD_CLASSES]
    out: list[PlaceIn] = []
    if not wanted:
        return out
    keep = np.flatnonzero(np.isin(g.seg_class, wanted))
    by_way: dict[int, list[int]] = {}
    for s in keep.tolist():
        by_way.setdefault(int(g.seg_way[s]), []).append(s)
    for way, segs in by_way.items():
        lines = [
            LineString(
                [
                    (g.node_lon[g.seg_u[s]], g.node_lat[g.seg_u[s]]),
                    (g.node_lon[g.seg_v[s]], g.node_lat[g.seg_v[s]]),
                ]
            )
            for s in segs
        ]
        merged = shapely.line_merge(shapely.union_all(lines))
        parts = list(getattr(merged, "geoms", [merged]))
        line = max(parts, key=lambda p: p.length)
        if not outline.intersects(line):
            continue
        cls = g.classes[int(g.seg_class[segs[0]])]
        out.append(
            PlaceIn(
                f"road-osm-{way}", "road", f"OSM way {way}", f"OSM way {way}", line, None, {"highway": cls}
            )
        )
    return out
