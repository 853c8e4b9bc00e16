# SPDX-License-Identifier: Apache-2.0
"""Load a :class:`~safecity.demo.city.DemoCity` into a platform, through the public importers.

The real districts and dongs are the boundary files shipped in the package (:mod:`safecity.geo.seoul`),
imported as a user would (``safecity import layer FILE --as districts|dongs``), so the OGC API
collections carry their attribution. The generated rest is written as the files a user would import (a
GeoJSON facility layer, an OSM XML road file, a GeoTIFF terrain model) into ``workdir``, and each file
goes through the same function as ``safecity import ...``. Loading twice changes nothing: areas are
upserted by code, the facility layer replaces its previous import, and the road network and the DEM
are rewritten in place.

The demo network's places go the same way: schools, 119 safety centres and hospitals as the geo layers
``schools``, ``fire_stations`` and ``hospitals`` (properties ``code, kind, name_ko, name_en, source``, plus
``district``, ``generated`` and ``demo``), shelters through the evacuation capability's shelter registry
(``import_layer(..., "shelters")`` → :func:`safecity.evacuation.shelters.upsert_shelters`).

Population goes to ``geo_areas.population``: each district's 2021 Q2 resident registration (facts) and
each dong's generated share of it, whose ``properties.population_source`` says so
(:data:`~safecity.demo.city.DONG_POPULATION_SOURCE`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from xml.sax.saxutils import quoteattr

import rasterio  # type: ignore[import-untyped]
import shapely
from rasterio.transform import Affine  # type: ignore[import-untyped]

from safecity.demo.city import DONG_POPULATION_SOURCE, SOURCE, DemoCity
from safecity.demo.network import Network, Place, build_network
from safecity.geo import seoul
from safecity.geo.importer import ImportReport, import_layer
from safecity.geo.roads.graph import graph_path
from safecity.geo.roads.osm import read_osm
from safecity.geo.terrain import DemInfo, import_dem
from safecity.settings import Settings
from safecity.store import Store


class _Platform(Protocol):
    settings: Settings
    store: Store


@dataclass(frozen=True)
class LoadReport:
    districts: ImportReport
    dongs: ImportReport
    facilities: ImportReport
    roads: dict[str, int]  # RoadGraph.counts()
    roads_path: Path
    dem: DemInfo
    places: dict[str, ImportReport]  # layer (schools, fire_stations, hospitals) → report
    shelters: ImportReport
    network: Network
    rivers: ImportReport


#: The geo layers of the demo's places (a contract with the dashboard).
PLACE_LAYERS = ("schools", "fire_stations", "hospitals")


def write_places(places: tuple[Place, ...], path: Path) -> Path:
    """Places as GeoJSON points with ``code, kind, name_ko, name_en, source`` (+ district, capacity...)."""
    features = [
        {
            "type": "Feature",
            "properties": p.properties(),
            "geometry": {"type": "Point", "coordinates": [p.lon, p.lat]},
        }
        for p in places
    ]
    _write_json(path, {"type": "FeatureCollection", "features": features})
    return path


def write_rivers(city: DemoCity, path: Path) -> Path:
    """The rivers' water (the Han and its tributaries inside the city) as GeoJSON polygons with
    ``code, kind, name_ko, name_en, width_m``: the map's landmarks, drawn under the sensors."""
    features = [
        {
            "type": "Feature",
            "properties": {
                "code": f"river-{i}",
                "kind": "river",
                "name_ko": r.name_ko,
                "name_en": r.name_en,
                "width_m": r.width_m,
                "generated": True,
                # the Han's course follows the real district borders (mid-river); tributaries approximate
                "source": "demo: generated water band, course along the real district borders"
                if i == 0
                else "demo: generated water band, approximate course",
            },
            "geometry": shapely.geometry.mapping(water),
        }
        for i, (r, water) in enumerate(zip(city.facts.rivers, city.river_water, strict=True))
        if not water.is_empty
    ]
    _write_json(path, {"type": "FeatureCollection", "features": features})
    return path


def write_facilities(city: DemoCity, path: Path) -> Path:
    """The named facilities (bridges, tunnels, lowlands, old buildings...) as GeoJSON points."""
    features = [
        {
            "type": "Feature",
            "properties": {
                "code": f.code,
                "kind": f.kind,
                "name_ko": f.name_ko,
                "name_en": f.name_en,
                "source": SOURCE,
            },
            "geometry": {"type": "Point", "coordinates": list(f.position)},
        }
        for f in city.facts.facilities
    ]
    _write_json(path, {"type": "FeatureCollection", "features": features})
    return path


def _write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")


def write_osm(city: DemoCity, path: Path) -> Path:
    """The road network as OSM XML: one way per noded segment, nodes shared where segments meet
    (coordinates equal to 1e-7 degrees, OSM's own precision). Bridges carry ``bridge=yes`` + ``layer=1``."""
    node_ids: dict[tuple[int, int], int] = {}
    node_lines: list[str] = []
    way_lines: list[str] = []
    for way_id, road in enumerate(city.roads, start=1):
        refs: list[int] = []
        for lon, lat in road.geometry.coords:
            key = (round(lon * 1e7), round(lat * 1e7))
            nid = node_ids.get(key)
            if nid is None:
                nid = node_ids[key] = len(node_ids) + 1
                node_lines.append(
                    f'  <node id="{nid}" version="1" lat="{key[1] / 1e7:.7f}" lon="{key[0] / 1e7:.7f}"/>'
                )
            if not refs or refs[-1] != nid:
                refs.append(nid)
        if len(refs) < 2:
            continue
        tags = {"highway": road.highway, "name": road.name, "source": SOURCE}
        if road.bridge:
            tags |= {"bridge": "yes", "layer": "1"}
        way_lines.append(f'  <way id="{way_id}" version="1">')
        way_lines += [f'    <nd ref="{r}"/>' for r in refs]
        way_lines += [f"    <tag k={quoteattr(k)} v={quoteattr(v)}/>" for k, v in tags.items()]
        way_lines.append("  </way>")
    text = "\n".join(
        [
            '<?xml version="1.0" encoding="UTF-8"?>',
            '<osm version="0.6" generator="safecity demo city">',
            *node_lines,
            *way_lines,
            "</osm>",
            "",
        ]
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def write_dem(city: DemoCity, path: Path) -> Path:
    """The terrain model as a single-band float32 GeoTIFF in EPSG:4326."""
    t = city.terrain
    height, width = t.elevation.shape
    path.parent.mkdir(parents=True, exist_ok=True)
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=width,
        height=height,
        count=1,
        dtype="float32",
        crs=t.crs,
        transform=Affine(*t.transform),
        compress="deflate",
    ) as ds:
        ds.write(t.elevation, 1)
        ds.update_tags(source=SOURCE)
    return path


def load_city(
    platform: _Platform, city: DemoCity, workdir: Path, network: Network | None = None
) -> LoadReport:
    """Import the demo city into ``platform``: the shipped real districts and dongs (``geo_areas``, MOIS
    codes) with the city's population, facilities (``geo_features`` layer ``facilities``), the network's places (layers ``schools``,
    ``fire_stations``, ``hospitals``; shelters in the shelter registry), the road network
    (``data_dir/roads/roads.npz``) and the terrain model (``data_dir/dem/``). ``network`` defaults to
    :func:`~safecity.demo.network.build_network` of the city. Files are written under ``workdir``.
    Idempotent.

    Raises :class:`~safecity.core.errors.BadRequest` from the importers if a generated file is rejected.
    """
    workdir = Path(workdir)
    with seoul.boundary_file(seoul.DISTRICTS_FILE) as path:
        districts = import_layer(platform, path, "districts")
    with seoul.boundary_file(seoul.DONGS_FILE) as path:
        dongs = import_layer(platform, path, "dongs")
    facilities = import_layer(
        platform, write_facilities(city, workdir / "demo_facilities.geojson"), "facilities"
    )
    rivers = import_layer(platform, write_rivers(city, workdir / "demo_rivers.geojson"), "rivers")
    roads = read_osm(write_osm(city, workdir / "demo_roads.osm"), strict=True).graph
    roads_path = graph_path(platform.settings.data_dir)
    roads.save(roads_path)
    dem = import_dem(write_dem(city, workdir / "demo_dem.tif"), platform.settings.data_dir)
    _set_population(platform.store, city)
    network = network or build_network(city)
    places = {
        layer: import_layer(
            platform, write_places(getattr(network, layer), workdir / f"demo_{layer}.geojson"), layer
        )
        for layer in PLACE_LAYERS
    }
    shelters = import_layer(
        platform, write_places(network.shelters, workdir / "demo_shelters.geojson"), "shelters"
    )
    return LoadReport(
        districts, dongs, facilities, roads.counts(), roads_path, dem, places, shelters, network, rivers
    )


def _set_population(store: Store, city: DemoCity) -> None:
    from sqlalchemy import select, update

    from safecity.geo import areas
    from safecity.geo import tables as t

    a = t.areas.c
    dongs = {d.code: d.population for d in city.dongs}
    with store.write() as conn:
        for d in city.districts:
            conn.execute(
                update(t.areas)
                .where(a.kind == "district", a.code_system == "mois", a.code == d.code)
                .values(population=d.population)
            )
        rows = conn.execute(
            select(a.id, a.code, a.properties).where(a.kind == "dong", a.code_system == "mois")
        ).all()
        for row in rows:
            if row.code not in dongs:
                continue
            props = {**(row.properties or {}), "population_source": DONG_POPULATION_SOURCE}
            conn.execute(
                update(t.areas).where(a.id == row.id).values(population=dongs[row.code], properties=props)
            )
    areas.invalidate(store.engine)


__all__ = [
    "PLACE_LAYERS",
    "LoadReport",
    "load_city",
    "write_dem",
    "write_facilities",
    "write_osm",
    "write_places",
    "write_rivers",
]
