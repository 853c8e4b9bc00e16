# SPDX-License-Identifier: Apache-2.0
"""The demo city's sensor network and places, generated deterministically from the demo city.

:func:`build_network` places, for every district: a rain gauge, an environmental station (temperature,
humidity, PM10, PM2.5) and a seismic accelerometer near (never on) the district office; a water-level
gauge at each Han River bridge gauge of the facts; structural (and, for old buildings, fire) sensors at
the bridges, tunnels and old buildings of the facts; a generated underpass per district with a road
water-depth gauge and structural sensors. Places: schools (count per district proportional to
its population, placed where people live), shelters at a subset of schools and at the district offices,
119 safety centres (about one per :data:`RESIDENTS_PER_SAFETY_CENTRE`), and the real hospitals of the
facts at their approximate positions.

Everything here is **demo data**: every sensor's Thing carries ``demo: true`` and every generated place
``generated: true`` and ``source`` = :data:`~safecity.demo.city.SOURCE`. No position is a real school,
shelter or safety centre. All positions are WGS84 lon/lat on land (outside the rivers' water) inside
their district's real polygon, and each sensor and place names the real dong it stands in (``dong``,
10-digit MOIS code).
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import shapely
import shapely.ops
from shapely.geometry import Point
from shapely.prepared import prep

from safecity.demo.city import M_PER_DEG, SOURCE, DemoCity, DemoDistrict

#: Residents per generated school. Seoul has ~1,300 elementary, middle and high schools for ~9.5 M
#: residents (one per ~7,300); the demo shows one in three of that density to keep the map readable.
RESIDENTS_PER_SCHOOL = 20_000
#: Residents per 119 safety centre (119안전센터): Seoul runs about 120 for ~9.5 M residents (judgement from
#: the Seoul Fire & Disaster HQ's published count, ~one per 80-100 k).
RESIDENTS_PER_SAFETY_CENTRE = 90_000
#: Every n-th school is a designated temporary-housing site (이재민 임시주거시설; Korean practice
#: designates school gyms and community centres).
SHELTER_EVERY_NTH_SCHOOL = 3
#: Every n-th school's yard is an outdoor earthquake evacuation site (지진옥외대피장소: school grounds
#: are the most common designation in Seoul).
YARD_EVERY_NTH_SCHOOL = 2
#: Distance kept from the rivers' water, metres: a sensor or school is never placed in the Han.
WATER_MARGIN_M = 60.0

#: Distance kept from a district's border by generated underpasses, degrees (~30 m): a street-grid
#: vertex can lie on the border, which would leave the sensor's district ambiguous.
BORDER_MARGIN_DEG = 3e-4

LAND_LABEL_KO = "데모용 생성 위치(실제 아님)"
LAND_LABEL_EN = "generated demo position (not real)"


@dataclass(frozen=True)
class StreamSpec:
    """One datastream of a sensor: a catalogue property and its unit (UCUM symbol)."""

    prop: str
    unit_name: str
    unit_symbol: str
    round: int = 2
    properties: dict[str, Any] = field(default_factory=dict)  # e.g. allowable


RAIN = StreamSpec("rainfall_10min", "millimetre", "mm", 1)
TEMPERATURE = StreamSpec("air_temperature", "degree Celsius", "Cel", 1)
HUMIDITY = StreamSpec("relative_humidity", "percent", "%", 0)
PM10 = StreamSpec("pm10", "microgram per cubic metre", "ug/m3", 0)
PM2_5 = StreamSpec("pm2_5", "microgram per cubic metre", "ug/m3", 0)
PGA = StreamSpec("peak_ground_acceleration", "centimetre per second squared (gal)", "cm/s2", 2)
WATER_LEVEL = StreamSpec("water_level", "metre", "m", 2)
# Allowable values (허용치) of the demo's structures: judgement, typical figures of Korean monitoring
# plans (a tiltmeter's 0.5°; a crack gauge's 0.3 mm; 0.5 cm/s PPV for ordinary buildings), not any real
# structure's plan. The facility pack reads them as shares of allowable.
TILT = StreamSpec("tilt", "degree", "deg", 4, {"allowable": 0.5})
CRACK = StreamSpec("crack_width", "millimetre", "mm", 3, {"allowable": 0.3})
VIBRATION = StreamSpec("vibration_velocity", "centimetre per second", "cm/s", 3, {"allowable": 0.5})
SMOKE = StreamSpec("smoke_obscuration", "percent per metre", "%/m", 2)
HEAT = StreamSpec("fire_detector_temperature", "degree Celsius", "Cel", 1)
CO = StreamSpec("co_concentration", "part per million", "ppm", 1)
ROAD_WATER = StreamSpec("road_water_depth", "metre", "m", 2)

#: Sensor kinds and their streams.
KIND_STREAMS: dict[str, tuple[StreamSpec, ...]] = {
    "rain": (RAIN,),
    "environment": (TEMPERATURE, HUMIDITY, PM10, PM2_5),
    "seismic": (PGA,),
    "river": (WATER_LEVEL,),
    "bridge": (TILT, VIBRATION),
    "tunnel": (CRACK, VIBRATION),
    "old_building": (TILT, CRACK, VIBRATION, SMOKE, HEAT, CO),
    "underpass": (ROAD_WATER, CRACK),
}
KIND_LABELS: dict[str, tuple[str, str]] = {
    "rain": ("강우계", "rain gauge"),
    "environment": ("환경 센서", "environmental station"),
    "seismic": ("지진 가속도계", "seismic accelerometer"),
    "river": ("수위계", "water-level gauge"),
    "bridge": ("교량 계측기", "bridge monitor"),
    "tunnel": ("터널 계측기", "tunnel monitor"),
    "old_building": ("노후 건물 계측·화재 감지기", "old-building monitor and fire detector"),
    "underpass": ("지하차도 침수·구조 계측기", "underpass flood and structure monitor"),
}
FACILITY_SENSOR_KINDS = ("bridge", "tunnel", "old_building")


@dataclass(frozen=True)
class Sensor:
    """One demo device (one SensorThings Thing)."""

    code: str  # unique, e.g. "rain-11590", "facility-bridge-hangang"
    kind: str  # a key of KIND_STREAMS
    name: str
    name_ko: str
    lon: float
    lat: float
    district: str  # MOIS code of the district it lies in
    streams: tuple[StreamSpec, ...]
    transport: str = "http"  # http | mqtt
    properties: dict[str, Any] = field(default_factory=dict)  # e.g. gauge, facility, name_ko
    dong: str = ""  # MOIS code of the dong it lies in
    #: the administrative address (시 구 동), so an incident at it names the place people know
    address_ko: str = ""
    address_en: str = ""

    def thing_properties(self) -> dict[str, Any]:
        address = {"address_ko": self.address_ko, "address_en": self.address_en} if self.address_ko else {}
        return {
            "code": self.code,
            "kind": self.kind,
            "district": self.district,
            "dong": self.dong,
            "demo": True,
            "source": SOURCE,
            **address,
            **self.properties,
        }


@dataclass(frozen=True)
class Place:
    """A school, shelter, 119 safety centre or hospital."""

    code: str
    kind: str  # school | shelter kind (temporary_housing, earthquake_outdoor) | fire_station | hospital
    name_ko: str
    name_en: str
    lon: float
    lat: float
    district: str
    generated: bool = True
    capacity: int | None = None  # shelters only
    source: str = SOURCE
    dong: str = ""  # MOIS code of the dong it lies in

    def properties(self) -> dict[str, Any]:
        props: dict[str, Any] = {
            "code": self.code,
            "kind": self.kind,
            "name_ko": self.name_ko,
            "name_en": self.name_en,
            "source": self.source,
            "district": self.district,
            "dong": self.dong,
            "generated": self.generated,
            "demo": True,
        }
        if self.capacity is not None:
            props["capacity"] = self.capacity
        return props


@dataclass(frozen=True)
class Network:
    sensors: tuple[Sensor, ...]
    schools: tuple[Place, ...]
    shelters: tuple[Place, ...]
    fire_stations: tuple[Place, ...]
    hospitals: tuple[Place, ...]
    #: the city it was built for (the flood model of a storm scenario runs on its terrain)
    city: DemoCity | None = field(default=None, compare=False, repr=False)

    def counts(self) -> dict[str, int]:
        """Sensors by kind, then places: ``{"rain": 25, ..., "schools": n, ...}``."""
        out: dict[str, int] = dict(sorted(Counter(s.kind for s in self.sensors).items()))
        out |= {
            "schools": len(self.schools),
            "shelters": len(self.shelters),
            "fire_stations": len(self.fire_stations),
            "hospitals": len(self.hospitals),
        }
        return out

    def sensor(self, code: str) -> Sensor:
        for s in self.sensors:
            if s.code == code:
                return s
        raise KeyError(code)

    def digest(self) -> str:
        h = hashlib.sha256()
        for s in self.sensors:
            h.update(repr((s.code, s.kind, s.lon, s.lat, s.district, s.transport, s.properties)).encode())
        for s in self.sensors:
            h.update(s.dong.encode())
        for p in (*self.schools, *self.shelters, *self.fire_stations, *self.hospitals):
            h.update(repr((p.code, p.kind, p.lon, p.lat, p.district, p.dong, p.capacity)).encode())
        return h.hexdigest()


def _unit(key: str) -> float:
    """A deterministic number in [0, 1) from a key (stable across runs and platforms, unlike hash())."""
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest()) / 2.0**64


class _Land:
    """Where things may stand: inside a district's polygon and more than WATER_MARGIN_M from water."""

    def __init__(self, city: DemoCity) -> None:
        lat0 = city.outline.centroid.y
        margin_deg = WATER_MARGIN_M / (M_PER_DEG * math.cos(math.radians(lat0)))
        self._shore = city.water.buffer(margin_deg * 1.5).boundary
        self._wet = city.water.buffer(margin_deg * 1.5)
        self.water = prep(city.water.buffer(margin_deg))
        self.districts = {d.code: prep(d.polygon) for d in city.districts}
        self.polygons = {d.code: d.polygon for d in city.districts}
        self.kx = M_PER_DEG * math.cos(math.radians(lat0))

    def ok(self, district: str, lon: float, lat: float) -> bool:
        p = Point(lon, lat)
        return bool(self.districts[district].contains(p)) and not self.water.contains(p)

    def near(self, d: DemoDistrict, key: str, radius_m: float) -> tuple[float, float]:
        """A land point ``radius_m`` from the district office (a little further if needed), on a bearing
        drawn from ``key``: near the office but never on it."""
        start = _unit(key) * 2 * math.pi
        for ring in range(8):
            r = radius_m * (1 + 0.35 * ring)
            for k in range(16):
                a = start + k * 2 * math.pi / 16
                lon = d.office.x + r * math.sin(a) / self.kx
                lat = d.office.y + r * math.cos(a) / M_PER_DEG
                if self.ok(d.code, lon, lat):
                    return round(lon, 6), round(lat, 6)
        p = d.polygon.representative_point()  # unreachable for the shipped facts; keeps the contract
        return round(p.x, 6), round(p.y, 6)

    def bank(self, lon: float, lat: float) -> tuple[float, float]:
        """(lon, lat) itself on land, else the nearest point of the nearer bank: the demo's rivers are
        bands of nominal width, so a gauge or a bridge abutment given at the bridge's centre moves to the
        shore where the instrument house stands."""
        if not self.water.contains(Point(lon, lat)):
            return lon, lat
        q = shapely.ops.nearest_points(self._shore, Point(lon, lat))[0]
        return round(q.x, 6), round(q.y, 6)

    def settle(self, city: DemoCity, lon: float, lat: float) -> tuple[float, float, str]:
        """(lon, lat, district) for a fact's position: on the bank if it is in the water, and pulled
        inside the nearest district if it lies just outside the simplified outline (a border gauge)."""
        lon, lat = self.bank(lon, lat)
        p = Point(lon, lat)
        for d in city.districts:
            if d.polygon.contains(p):
                return lon, lat, d.code
        d = min(city.districts, key=lambda d: d.polygon.distance(p))
        inner = d.polygon.buffer(-1e-4).difference(self._wet)
        q = shapely.ops.nearest_points(inner, p)[0]
        return round(q.x, 6), round(q.y, 6), d.code


def _underpasses(city: DemoCity, land: _Land) -> list[Sensor]:
    """One generated underpass (지하차도) per district, at the lowest point of its street grid off the
    riverside expressways: water gathers where the road is lowest, which is where underpasses flood.

    The facts table holds no underpass position anyone could vouch for, so these are generated like the
    schools: named by district and number, marked generated, never a real underpass.
    """
    best: dict[str, tuple[float, float, float]] = {}  # district -> (elevation, lon, lat)
    for road in city.roads:
        if road.bridge or road.highway != "secondary":
            continue
        for x, y in road.geometry.coords:
            lon, lat = round(x, 6), round(y, 6)
            p = Point(lon, lat)
            d = next((d for d in city.districts if land.districts[d.code].contains(p)), None)
            # on dry land and off the border (a grid vertex may lie on it)
            if d is None or land.water.contains(p) or d.polygon.boundary.distance(p) <= BORDER_MARGIN_DEG:
                continue
            z = city.terrain.elevation_at(lon, lat)
            if d.code not in best or (z, lon, lat) < best[d.code]:
                best[d.code] = (z, lon, lat)
    ko, en = KIND_LABELS["underpass"]
    out = []
    for d in city.districts:
        if d.code not in best:
            continue
        _z, lon, lat = best[d.code]
        out.append(
            Sensor(
                f"underpass-{d.code}",
                "underpass",
                f"{d.name_en} {en} (demo, generated position)",
                f"{d.name_ko} {ko} (데모, 생성 위치)",
                lon,
                lat,
                d.code,
                KIND_STREAMS["underpass"],
                properties={
                    "facility": "underpass",
                    "generated": True,
                    "name_ko": f"{d.name_ko} 지하차도 (생성)",
                    "name_en": f"{d.name_en} underpass (generated)",
                },
            )
        )
    return out


def build_network(city: DemoCity) -> Network:
    """The demo sensor network and places of ``city``; the same city gives the same network."""
    land = _Land(city)
    sensors: list[Sensor] = []
    for d in city.districts:
        for kind, r in (("rain", 500.0), ("environment", 800.0), ("seismic", 350.0)):
            lon, lat = land.near(d, f"{kind}|{d.code}", r)
            ko, en = KIND_LABELS[kind]
            sensors.append(
                Sensor(
                    f"{kind}-{d.code}",
                    kind,
                    f"{d.name_en} {en} (demo)",
                    f"{d.name_ko} {ko} (데모)",
                    lon,
                    lat,
                    d.code,
                    KIND_STREAMS[kind],
                )
            )
    for g in city.facts.gauges:
        ko, en = KIND_LABELS["river"]
        lon, lat, district = land.settle(city, *g.position)
        sensors.append(
            Sensor(
                f"river-{g.code}",
                "river",
                f"{g.name_en} {en} (demo)",
                f"{g.name_ko} {ko} (데모)",
                lon,
                lat,
                district,
                KIND_STREAMS["river"],
                # river gauges publish over MQTT, as field loggers do; the rest post over HTTP
                transport="mqtt",
                # the han_river pack finds its gauges by this property (e.g. "hangang_bridge"); an
                # incident at it is named after the gauge's place (name_ko / name_en)
                properties={
                    "gauge": g.code.replace("-", "_"),
                    "river": "han",
                    "name_ko": f"{g.name_ko} {ko}",
                    "name_en": f"{g.name_en} {en}",
                },
            )
        )
    for f in city.facts.facilities:
        if f.kind not in FACILITY_SENSOR_KINDS:
            continue
        ko, en = KIND_LABELS[f.kind]
        lon, lat, district = land.settle(city, *f.position)
        sensors.append(
            Sensor(
                f"facility-{f.code}",
                f.kind,
                f"{f.name_en} {en} (demo)",
                f"{f.name_ko} {ko} (데모)",
                lon,
                lat,
                district,
                KIND_STREAMS[f.kind],
                properties={
                    "facility": f.kind,
                    "facility_code": f.code,
                    "name_ko": f.name_ko,
                    "name_en": f.name_en,
                },
            )
        )
    sensors += _underpasses(city, land)
    schools = _schools(city, land)
    network = Network(
        sensors=tuple(sensors),
        schools=schools,
        shelters=_shelters(city, land, schools),
        fire_stations=_fire_stations(city, land),
        hospitals=tuple(
            Place(
                h.code,
                "hospital",
                h.name_ko,
                h.name_en,
                h.position[0],
                h.position[1],
                land.settle(city, *h.position)[2],
                generated=False,
                source="real hospital, approximate position (safecity demo city facts)",
            )
            for h in city.facts.hospitals
        ),
    )
    return _with_dongs(city, network)


def _with_dongs(city: DemoCity, network: Network) -> Network:
    """Each sensor and place with the code of the dong it stands in (one vectorised query; a point on a
    border takes the dong of the lowest code, as :func:`safecity.geo.areas.locate` does)."""
    tree = shapely.STRtree([d.polygon for d in city.dongs])

    def codes(items: Sequence[Sensor | Place]) -> list[str]:
        pts = shapely.points([i.lon for i in items], [i.lat for i in items])
        point_i, dong_i = tree.query(pts, predicate="intersects")
        found: dict[int, str] = {}
        for p, d in sorted(zip(point_i.tolist(), dong_i.tolist(), strict=True)):
            found.setdefault(p, city.dongs[d].code)
        return [found.get(k, "") for k in range(len(items))]

    def tag(items: tuple[Any, ...]) -> tuple[Any, ...]:
        return tuple(replace(i, dong=c) for i, c in zip(items, codes(items), strict=True)) if items else ()

    dongs = {d.code: d for d in city.dongs}
    districts = {d.code: d for d in city.districts}

    def addressed(s: Sensor) -> Sensor:
        dong, district = dongs.get(s.dong), districts.get(s.district)
        if dong is None or district is None:
            return s
        return replace(
            s,
            address_ko=f"서울특별시 {district.name_ko} {dong.name_ko}",
            address_en=f"{dong.name_en}, {district.name_en}, Seoul",
        )

    return Network(
        tuple(addressed(s) for s in tag(network.sensors)),
        tag(network.schools),
        tag(network.shelters),
        tag(network.fire_stations),
        tag(network.hospitals),
        city,
    )


def _spread(city: DemoCity, land: _Land, d: DemoDistrict, n: int, salt: str) -> list[tuple[float, float]]:
    """``n`` land points in district ``d``, drawn where its residents live (population-grid cells weighted
    by residents, then jittered inside the cell): schools and fire stations follow people, not mountains."""
    cells = [c for c in city.population if c.district_code == d.code and c.population > 0]
    if not cells or n <= 0:
        return []
    seed = int.from_bytes(hashlib.blake2b(f"{salt}|{d.code}".encode(), digest_size=8).digest())
    rng = np.random.default_rng(seed)
    weights = np.array([c.population for c in cells], dtype=float)
    weights /= weights.sum()
    half = city.population_cell_m / 2
    out: list[tuple[float, float]] = []
    tries = 0
    while len(out) < n and tries < n * 50:
        tries += 1
        c = cells[int(rng.choice(len(cells), p=weights))]
        lon = c.lon + float(rng.uniform(-half, half)) / land.kx
        lat = c.lat + float(rng.uniform(-half, half)) / M_PER_DEG
        if not land.ok(d.code, lon, lat):
            continue
        # keep places apart (~250 m) so the map shows them as separate points
        if any(abs(lon - x) * land.kx < 250 and abs(lat - y) * M_PER_DEG < 250 for x, y in out):
            continue
        out.append((round(lon, 6), round(lat, 6)))
    return out


def _schools(city: DemoCity, land: _Land) -> tuple[Place, ...]:
    out: list[Place] = []
    for d in city.districts:
        n = max(1, round(d.population / RESIDENTS_PER_SCHOOL))
        for i, (lon, lat) in enumerate(_spread(city, land, d, n, "school"), start=1):
            out.append(
                Place(
                    f"school-{d.code}-{i:02d}",
                    "school",
                    f"{d.name_ko} 데모학교 {i} (생성)",
                    f"{d.name_en} demo school {i} (generated)",
                    lon,
                    lat,
                    d.code,
                )
            )
    return tuple(out)


def _shelters(city: DemoCity, land: _Land, schools: tuple[Place, ...]) -> tuple[Place, ...]:
    out: list[Place] = []
    for i, s in enumerate(schools):
        # capacities: judgement, a school gym at ~3.3 m² per person (재해구호 guidance on space per
        # evacuee, UNCONFIRMED) holds a few hundred; a school yard thousands
        if i % SHELTER_EVERY_NTH_SCHOOL == 0:
            out.append(
                Place(
                    f"shelter-{s.code}",
                    "temporary_housing",
                    f"{s.name_ko} 체육관 (임시주거시설)",
                    f"{s.name_en}, gym (temporary housing)",
                    s.lon,
                    s.lat,
                    s.district,
                    capacity=200 + int(_unit(f"gym|{s.code}") * 400),
                )
            )
        if i % YARD_EVERY_NTH_SCHOOL == 0:
            out.append(
                Place(
                    f"yard-{s.code}",
                    "earthquake_outdoor",
                    f"{s.name_ko} 운동장 (지진옥외대피장소)",
                    f"{s.name_en}, school yard (outdoor earthquake evacuation site)",
                    s.lon,
                    s.lat,
                    s.district,
                    capacity=1000 + int(_unit(f"yard|{s.code}") * 2000),
                )
            )
    for d in city.districts:
        # an office that the generated tributary band covers (Nowon) moves to the band's bank
        lon, lat, _ = land.settle(city, round(d.office.x, 6), round(d.office.y, 6))
        out.append(
            Place(
                f"shelter-office-{d.code}",
                "temporary_housing",
                f"{d.name_ko}청 (임시주거시설)",
                f"{d.name_en} Office (temporary housing)",
                lon,
                lat,
                d.code,
                capacity=500,
            )
        )
    return tuple(out)


def _fire_stations(city: DemoCity, land: _Land) -> tuple[Place, ...]:
    out: list[Place] = []
    for d in city.districts:
        n = max(1, round(d.population / RESIDENTS_PER_SAFETY_CENTRE))
        for i, (lon, lat) in enumerate(_spread(city, land, d, n, "fire"), start=1):
            out.append(
                Place(
                    f"fire-{d.code}-{i:02d}",
                    "fire_station",
                    f"{d.name_ko} 데모 119안전센터 {i} (생성)",
                    f"{d.name_en} demo 119 safety centre {i} (generated)",
                    lon,
                    lat,
                    d.code,
                )
            )
    return tuple(out)


def on_land(city: DemoCity, lon: float, lat: float) -> bool:
    """True when (lon, lat) is not in the rivers' water (for tests and callers placing things)."""
    return not bool(shapely.contains_xy(city.water, lon, lat))


__all__ = [
    "KIND_STREAMS",
    "Network",
    "Place",
    "Sensor",
    "StreamSpec",
    "build_network",
    "on_land",
]
