# SPDX-License-Identifier: Apache-2.0
"""A Seoul-like city for the simulation and the benchmark (generated; labelled so wherever it shows).

Seoul's real outline and 425 dongs (``safecity.geo.seoul``), a generated street grid clipped to the
outline (arterials every fourth line, collectors every second, local streets between), 119 safety centres
placed per district by population (one per ~80,000 residents, like the demo city), hospitals where people
live, and demand per dong: the district's residents (``data/seoul_demand.toml``, cited there) spread over
its dongs by land area, or a per-dong table when one is given.

Limits: the grid has no river (every street crosses the Han) and no one-way streets; it is a test bed for
policies, not a map.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import shapely

from safecity.dispatch.coverage import DemandPoints, demand_points
from safecity.dispatch.roadtime import RoadTimes
from safecity.geo.roads.graph import DRIVE_BWD, DRIVE_FWD, WALK, RoadGraph
from safecity.geo.seoul import districts, dongs

GENERATED = "generated Seoul-like city (safecity.dispatch.city)"
RESIDENTS_PER_CENTRE = 80_000
CLASSES = ("primary", "secondary", "tertiary")
M_PER_DEG_LAT = 110_574.0


@dataclass(frozen=True)
class DemandConfig:
    ems_calls_per_day: int
    fires_per_day: int
    rescues_per_day: int
    ambulances: int
    handling_s: float
    turnout_s: float
    on_scene_min: float
    transport_share: float
    hospital_min: float
    fire_on_scene_min: float
    rescue_on_scene_min: float
    hour_share: tuple[float, ...]
    population: dict[str, int]


@cache
def demand_config() -> DemandConfig:
    raw = tomllib.loads(
        resources.files("safecity.dispatch").joinpath("data/seoul_demand.toml").read_text("utf-8")
    )
    share = np.asarray(raw["hour_share"], dtype=float)
    return DemandConfig(
        ems_calls_per_day=int(raw["ems_calls_per_day"]),
        fires_per_day=int(raw["fires_per_day"]),
        rescues_per_day=int(raw["rescues_per_day"]),
        ambulances=int(raw["ambulances"]),
        handling_s=float(raw["handling_s"]),
        turnout_s=float(raw["turnout_s"]),
        on_scene_min=float(raw["on_scene_min"]),
        transport_share=float(raw["transport_share"]),
        hospital_min=float(raw["hospital_min"]),
        fire_on_scene_min=float(raw["fire_on_scene_min"]),
        rescue_on_scene_min=float(raw["rescue_on_scene_min"]),
        hour_share=tuple(share / share.sum()),
        population={str(k): int(v) for k, v in raw["population"].items()},
    )


@dataclass(frozen=True)
class SimStation:
    code: str
    district: str
    lon: float
    lat: float
    node: int


@dataclass(frozen=True)
class SimCity:
    roads: RoadTimes
    stations: tuple[SimStation, ...]
    hospitals: np.ndarray  # node of each hospital
    demand: DemandPoints
    ambulances_at: np.ndarray  # ambulances per station (index into stations)
    label: str = GENERATED


def grid_graph(outline: Any, spacing_m: float) -> RoadGraph:
    """A street grid with ``spacing_m`` between streets, clipped to ``outline`` (lon/lat polygon)."""
    minx, miny, maxx, maxy = outline.bounds
    lat0 = (miny + maxy) / 2
    m_per_deg_lon = M_PER_DEG_LAT * np.cos(np.radians(lat0))
    nx_ = int((maxx - minx) * m_per_deg_lon / spacing_m) + 1
    ny_ = int((maxy - miny) * M_PER_DEG_LAT / spacing_m) + 1
    ii, jj = np.meshgrid(np.arange(nx_), np.arange(ny_), indexing="ij")
    lon = minx + ii.ravel() * spacing_m / m_per_deg_lon
    lat = miny + jj.ravel() * spacing_m / M_PER_DEG_LAT
    shapely.prepare(outline)
    inside = shapely.contains_xy(outline, lon, lat)
    index = np.full(nx_ * ny_, -1, dtype=np.int64)
    index[inside] = np.arange(int(inside.sum()))
    grid = index.reshape(nx_, ny_)
    us, vs, cls = [], [], []
    for axis in (0, 1):  # streets along x (varying i), then along y (varying j)
        a = grid[:-1, :] if axis == 0 else grid[:, :-1]
        b = grid[1:, :] if axis == 0 else grid[:, 1:]
        line = (jj[:-1, :] if axis == 0 else ii[:, :-1]).astype(np.int64)  # the street's line number
        ok = (a >= 0) & (b >= 0)
        us.append(a[ok])
        vs.append(b[ok])
        cls.append(np.where(line[ok] % 4 == 0, 0, np.where(line[ok] % 2 == 0, 1, 2)))
    seg_u = np.concatenate(us).astype(np.int32)
    seg_v = np.concatenate(vs).astype(np.int32)
    n_seg = seg_u.shape[0]
    seg_class = np.concatenate(cls).astype(np.uint8)
    return RoadGraph(
        node_lon=lon[inside].astype(np.float64),
        node_lat=lat[inside].astype(np.float64),
        node_osm=np.arange(int(inside.sum()), dtype=np.int64),
        seg_u=seg_u,
        seg_v=seg_v,
        seg_length_m=np.full(n_seg, float(spacing_m)),
        seg_way=np.zeros(n_seg, dtype=np.int64),
        seg_class=seg_class,
        seg_flags=np.full(n_seg, DRIVE_FWD | DRIVE_BWD | WALK, dtype=np.uint8),
        seg_drive_kmh=np.array([50.0, 40.0, 30.0])[seg_class],
        seg_walk_kmh=np.full(n_seg, 4.5),
        classes=CLASSES,
        source=GENERATED,
    )


def dong_weights(population_file: Path | None = None) -> list[tuple[str, str, Any, float]]:
    """(dong code, district, polygon, residents) for every dong."""
    cfg = demand_config()
    per_dong = _read_dong_table(population_file) if population_file else {}
    out = []
    by_district: dict[str, list[Any]] = {}
    for d in dongs():
        by_district.setdefault(d.district_code, []).append(d)
    for code, items in by_district.items():
        areas = np.array([d.polygon.area for d in items])
        total = cfg.population.get(code, 0)
        for d, a in zip(items, areas, strict=True):
            w = per_dong.get((code, _norm(d.name_ko)))
            out.append((d.code, code, d.polygon, float(w if w is not None else total * a / areas.sum())))
    return out


def _norm(name: str) -> str:
    return name.replace("·", "").replace(".", "").replace(" ", "")


def _read_dong_table(path: Path) -> dict[tuple[str, str], float]:
    """The Seoul statistics table (기간, 자치구, 동, 세대, 인구 ...; tab-separated, 3 header rows)."""
    names = {d.name_ko: d.code for d in districts()}
    out: dict[tuple[str, str], float] = {}
    for n, line in enumerate(path.read_text("utf-8").splitlines()):
        cols = line.rstrip("\r").split("\t")
        if n < 3 or len(cols) < 5 or cols[2] in ("합계", "소계"):
            continue
        district = names.get(cols[1])
        if district is None:
            continue
        out[(district, _norm(cols[2]))] = float(cols[4].replace(",", ""))
    return out


def seoul_city(
    spacing_m: float = 400.0, *, population_file: Path | None = None, hospitals: int = 45, seed: int = 7
) -> SimCity:
    """The generated Seoul-like city (deterministic for a seed)."""
    outline = shapely.union_all([d.polygon for d in districts()])
    graph = grid_graph(outline, spacing_m)
    roads = RoadTimes(graph)
    areas = dong_weights(population_file)
    demand = demand_points(roads, areas)
    rng = np.random.default_rng(seed)
    stations: list[SimStation] = []
    cfg = demand_config()
    for d in districts():
        mine = np.array([i for i, a in enumerate(areas) if a[1] == d.code])
        n = max(1, round(cfg.population.get(d.code, 0) / RESIDENTS_PER_CENTRE))
        centres = _kmeans(demand.lon[mine], demand.lat[mine], demand.weight[mine], n, rng)
        for k, (lon, lat) in enumerate(centres, start=1):
            node, _ = roads.snap(np.array([lon]), np.array([lat]))
            stations.append(SimStation(f"sim-{d.code}-{k:02d}", d.code, float(lon), float(lat), int(node[0])))
    h = _kmeans(demand.lon, demand.lat, demand.weight, hospitals, rng)
    hnodes, _ = roads.snap(h[:, 0], h[:, 1])
    # one ambulance per centre, the rest where each centre's ambulances serve the most residents
    slon = np.array([s.lon for s in stations])
    slat = np.array([s.lat for s in stations])
    nearest = np.argmin(
        (demand.lon[:, None] - slon[None, :]) ** 2 + (demand.lat[:, None] - slat[None, :]) ** 2, axis=1
    )
    load = np.bincount(nearest, weights=demand.weight, minlength=len(stations))
    counts = np.ones(len(stations), dtype=np.int64)
    for _ in range(max(0, cfg.ambulances - len(stations))):
        counts[int(np.argmax(load / counts))] += 1
    return SimCity(roads, tuple(stations), hnodes, demand, counts)


def _kmeans(lon: np.ndarray, lat: np.ndarray, w: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Weighted k-means (Lloyd, 20 rounds) of points; deterministic for the generator's state."""
    pts = np.column_stack([lon, lat])
    k = min(k, pts.shape[0])
    centres = pts[rng.choice(pts.shape[0], size=k, replace=False, p=w / w.sum())]
    for _ in range(20):
        label = np.argmin(((pts[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2), axis=1)
        for c in range(k):
            m = label == c
            if m.any():
                centres[c] = (pts[m] * w[m, None]).sum(axis=0) / w[m].sum()
    return centres
