# SPDX-License-Identifier: Apache-2.0
"""What the demo network reads: spatial fields of a scenario, and the quiet defaults.

Every value is a pure function of (sensor, scenario time): noise comes from a hash of the sensor code and
the second, never from a random generator's state, so a replay at any speed, or of one step alone, gives
the same numbers.

Fields (``[[field]]`` of a scenario file):

* ``storm``: a rain band (centre, ``bearing_deg`` of its long axis, ``along_m`` long, full rain within
  ``core_m`` of the axis, falling off as a Gaussian of ``radius_m`` beyond), optionally drifting at
  ``velocity_kmh = [east, north]``; ``signal`` is the 10-minute rainfall on the axis. Sets rainfall.
* ``heat``: ``signal`` the air temperature and ``humidity`` the relative humidity over the city, plus an
  urban heat island of ``island_c`` at ``centre`` falling off over ``radius_m``. Sets the environmental
  stations' temperature and humidity.
* ``river``: ``signal`` the stage at the ``reference`` gauge; every other gauge on the river sees the same
  rise above its own base stage, earlier upstream and later downstream at ``celerity_kmh``.
* ``earthquake``: ``magnitude``, ``epicentre`` [lon, lat], ``depth_km``, ``origin`` (time after the start):
  each accelerometer reports the peak ground acceleration of the step in which the S wave arrives
  (:func:`pga_gal`), then a weaker coda, over its background noise.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from safecity.core.errors import ConfigError
from safecity.demo.city import M_PER_DEG
from safecity.demo.scenario import Scenario, Station, Stream, shape_value
from safecity.quake.intensity import mmi_aww14, pga_from_mmi, pga_gal
from safecity.situation.rules import parse_duration

if TYPE_CHECKING:
    from safecity.demo.floodmodel import StormWater
    from safecity.demo.network import Network, Sensor

__all__ = ["check_fields", "distance_m", "mmi_aww14", "network_stations", "noise", "pga_from_mmi", "pga_gal"]

#: Latitude of the local frame used for distances (Seoul).
_LAT0 = 37.55
_KX = M_PER_DEG * math.cos(math.radians(_LAT0))

#: Seoul (station 108) monthly mean air temperature, °C, January to December: KMA climate normals
#: 1991-2020 as the author recalls them (UNCONFIRMED, within a few tenths). Quiet days follow them.
SEOUL_MONTHLY_MEAN_C = (-1.9, 0.7, 6.1, 12.6, 18.2, 22.7, 25.3, 26.1, 21.8, 15.0, 7.5, 0.2)
#: Half the quiet daily temperature range, °C (judgement: Seoul's mean daily range is ~8 °C).
DAILY_HALF_RANGE_C = 4.0
#: Quiet stage of each Han River gauge, metres on the gauge's own staff (judgement: ordinary summer
#: stages, well below every pack threshold; the Hangang Bridge figure is the heavy-rain scenario's base).
QUIET_STAGE_M = {"hangang_bridge": 3.1, "jamsu_bridge": 2.6, "gwangjin_bridge": 2.4, "haengju_bridge": 2.2}
#: Rain gauge resolution, mm (one bucket tip; the scenario series are multiples of it).
RAIN_TIP_MM = 0.5
#: S-wave speed of the upper crust, km/s (judgement: 3.5 km/s is the usual crustal average).
VS_KM_S = 3.5
#: Background peak acceleration of a quiet urban accelerometer over one reporting step, gal (judgement:
#: traffic and microtremor; well under intensity II).
PGA_BACKGROUND_GAL = 0.3
#: Rain an underpass's drains take away, mm per 10 min: Seoul's sewer design rainfall, spread evenly.
#: Seoul raised it from 95 mm/h (the 30-year event) to 100 mm/h (the 50-year event), and to 110 mm/h around
#: 강남역 (the 100-year event), in its December 2022 rainwater-management plan after the 8 August 2022
#: flood (서울시 「방재성능목표 상향」, as reported in Dec 2022; the same figures are in
#: safecity.flood's sewer, docs/flood-model.md). The demo's generated underpasses are not at 강남역.
UNDERPASS_DRAIN_MM_10MIN = 100.0 / 6
#: Road catchment that drains into an underpass's sag per unit of its own area (judgement: an underpass
#: gathers the approach roads and the streets around; 20x turns 10 mm of excess rain into 20 cm of water).
UNDERPASS_CATCHMENT_RATIO = 20.0
#: Share of the ponded water left after each 10 minutes of pumping (judgement).
UNDERPASS_PUMP_KEEP = 0.5
#: How many 10-minute steps of rain the ponding remembers (the rest has been pumped out: 0.5**6 < 2 %).
UNDERPASS_MEMORY_STEPS = 6


def noise(key: str, t: float) -> float:
    """A deterministic number in [-1, 1) for (key, whole second t)."""
    h = hashlib.blake2b(f"{key}|{int(t)}".encode(), digest_size=8).digest()
    return int.from_bytes(h) / 2.0**63 - 1.0


def _offset(key: str) -> float:
    """A fixed number in [-1, 1) per key: a sensor's own calibration offset."""
    return noise(key, -1)


def distance_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Distance in metres between two lon/lat points (local equirectangular frame; < 0.1 % off in Seoul)."""
    return math.hypot((a[0] - b[0]) * _KX, (a[1] - b[1]) * M_PER_DEG)


# --- ground motion ----------------------------------------------------------------------------------


# mmi_aww14, pga_from_mmi and pga_gal live in safecity.quake.intensity (one conversion for the demo's
# accelerometers and the damage model); imported above and re-exported here for the demo's callers.


# --- sources ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Quiet:
    """An ordinary day: no rain, a seasonal daily temperature cycle, PM noise, structures at rest."""

    def sample(self, stream: Stream, elapsed_s: float, when: datetime) -> float:
        k, p = stream.key, stream.prop
        n = noise(f"{k}|{p}", elapsed_s)
        if p.startswith("rainfall"):
            return 0.0
        if p == "air_temperature":
            mean = SEOUL_MONTHLY_MEAN_C[when.month - 1]
            s = {"shape": "daily", "low": mean - DAILY_HALF_RANGE_C, "high": mean + DAILY_HALF_RANGE_C}
            return shape_value({**s, "peak_hour": 15}, elapsed_s, when) + 0.6 * _offset(k) + 0.2 * n
        if p == "relative_humidity":
            day = shape_value({"shape": "daily", "low": 45, "high": 75, "peak_hour": 5}, elapsed_s, when)
            return day + 3 * _offset(k) + 2 * n
        if p in ("pm10", "pm2_5"):
            phase = (_offset(k) + 1) * math.pi
            pm10 = 35 + 10 * math.sin(elapsed_s / 86400 * 2 * math.pi + phase) + 4 * n
            return pm10 if p == "pm10" else 0.5 * pm10 + 1.5 * noise(f"{k}|pm25", elapsed_s)
        if p == "peak_ground_acceleration":
            return PGA_BACKGROUND_GAL * (1 + 0.5 * n)
        if p == "water_level":
            return QUIET_STAGE_M.get(str(stream.properties.get("gauge", "")), 2.5) + 0.01 * n
        if p == "tilt":
            return 0.015 + 0.01 * _offset(k) + 0.0005 * n
        if p == "crack_width":
            return 0.08 + 0.03 * _offset(k) + 0.002 * n
        if p == "vibration_velocity":
            return 0.04 + 0.015 * abs(n)
        if p == "fire_detector_temperature":
            return 20.0 + 0.5 * _offset(k) + 0.2 * n
        if p == "co_concentration":
            return 1.0 + 0.5 * abs(n)
        return 0.0  # smoke_obscuration and anything at rest


QUIET = Quiet()


@dataclass(frozen=True)
class Storm:
    centre: tuple[float, float]
    signal: Mapping[str, Any]
    core_m: float
    radius_m: float
    along_m: float
    bearing_deg: float
    velocity_kmh: tuple[float, float]
    #: the flood model's water at the underpasses under this storm (safecity.demo.floodmodel); without it
    #: (a network built without its city) the underpass gauges fall back to the bucket of :meth:`ponding`
    water: StormWater | None = field(default=None, compare=False, repr=False)

    def factor(self, lon: float, lat: float, elapsed_s: float) -> float:
        """Share (0-1) of the axis rainfall at a point: 1 within the band's core, Gaussian beyond."""
        cx = self.centre[0] + self.velocity_kmh[0] * 1000 * elapsed_s / 3600 / _KX
        cy = self.centre[1] + self.velocity_kmh[1] * 1000 * elapsed_s / 3600 / M_PER_DEG
        dx, dy = (lon - cx) * _KX, (lat - cy) * M_PER_DEG
        b = math.radians(self.bearing_deg)
        along = dx * math.sin(b) + dy * math.cos(b)
        across = dx * math.cos(b) - dy * math.sin(b)
        ea = max(0.0, abs(along) - self.along_m / 2)
        ec = max(0.0, abs(across) - self.core_m)
        return math.exp(-((ea / self.radius_m) ** 2 + (ec / self.radius_m) ** 2))

    def sample(self, stream: Stream, elapsed_s: float, when: datetime) -> float:
        if stream.prop == "road_water_depth":
            if self.water is not None:
                return self.water.depth(stream.key, elapsed_s)
            return self.ponding(stream, elapsed_s, when)
        if not stream.prop.startswith("rainfall"):
            return QUIET.sample(stream, elapsed_s, when)
        rain = max(0.0, shape_value(self.signal, elapsed_s, when))
        share = self.factor(*stream.at, elapsed_s)
        if share < 1.0:
            # outside the core, rain varies from gauge to gauge and step to step (±15 %, judgement); the
            # core keeps the scenario's exact series (141.5 mm in Dongjak's peak hour)
            share *= 1 + 0.15 * noise(f"{stream.key}|rain", elapsed_s)
        # a tipping-bucket gauge counts whole tips: 0.5 mm, as KMA's AWS gauges (UNCONFIRMED resolution)
        return math.floor(rain * share / RAIN_TIP_MM) * RAIN_TIP_MM

    def ponding(self, stream: Stream, elapsed_s: float, when: datetime) -> float:
        """Water on an underpass's road, metres: the local rain the drains cannot take, gathered from the
        underpass's catchment, with the pumps emptying it step by step (a bucket model, kept only for a
        network without its city; the demo's networks use the flood model, :attr:`water`)."""
        stored_mm = 0.0
        for k in range(UNDERPASS_MEMORY_STEPS, -1, -1):  # oldest step first
            t = elapsed_s - k * 600
            if t < 0:
                continue
            rain = max(0.0, shape_value(self.signal, t, when - timedelta(seconds=k * 600)))
            excess = rain * self.factor(*stream.at, t) - UNDERPASS_DRAIN_MM_10MIN
            stored_mm = stored_mm * UNDERPASS_PUMP_KEEP + max(0.0, excess)
        return round(stored_mm * UNDERPASS_CATCHMENT_RATIO / 1000, 2)


@dataclass(frozen=True)
class Heat:
    signal: Mapping[str, Any]
    humidity: Mapping[str, Any] | None
    centre: tuple[float, float]
    island_c: float
    radius_m: float

    def sample(self, stream: Stream, elapsed_s: float, when: datetime) -> float:
        n = noise(f"{stream.key}|{stream.prop}", elapsed_s)
        if stream.prop == "air_temperature":
            d = distance_m(stream.at, self.centre)
            island = self.island_c * math.exp(-((d / self.radius_m) ** 2))
            return shape_value(self.signal, elapsed_s, when) + island + 0.3 * _offset(stream.key) + 0.1 * n
        if stream.prop == "relative_humidity" and self.humidity is not None:
            return shape_value(self.humidity, elapsed_s, when) + 2 * _offset(stream.key) + n
        return QUIET.sample(stream, elapsed_s, when)


@dataclass(frozen=True)
class River:
    reference: float  # along-river position of the reference gauge, metres
    signal: Mapping[str, Any]
    celerity_ms: float
    positions: Mapping[str, float]  # gauge → along-river position, metres (downstream = smaller: the
    # Han runs east to west through Seoul and the facts list its course west → east)

    def sample(self, stream: Stream, elapsed_s: float, when: datetime) -> float:
        if stream.prop != "water_level":
            return QUIET.sample(stream, elapsed_s, when)
        gauge = str(stream.properties.get("gauge", ""))
        pos = self.positions.get(gauge)
        if pos is None:
            return QUIET.sample(stream, elapsed_s, when)
        # a flood wave reaches upstream gauges first: delay > 0 downstream of the reference
        delay = (self.reference - pos) / self.celerity_ms
        base = float(self.signal.get("base", 0.0))
        rise = shape_value(self.signal, elapsed_s - delay, when) - base
        return QUIET.sample(stream, elapsed_s, when) + rise


@dataclass(frozen=True)
class Earthquake:
    magnitude: float
    epicentre: tuple[float, float]
    depth_km: float
    origin_s: float
    step_s: float

    def peak_gal(self, lon: float, lat: float) -> float:
        return pga_gal(self.magnitude, distance_m((lon, lat), self.epicentre) / 1000, self.depth_km)

    def arrival_s(self, lon: float, lat: float) -> float:
        """S-wave arrival, seconds after the scenario's start."""
        epi = distance_m((lon, lat), self.epicentre) / 1000
        return self.origin_s + math.hypot(epi, self.depth_km) / VS_KM_S

    def sample(self, stream: Stream, elapsed_s: float, when: datetime) -> float:
        quiet = QUIET.sample(stream, elapsed_s, when)
        if stream.prop != "peak_ground_acceleration":
            return quiet
        arrival = self.arrival_s(*stream.at)
        # a reading is the peak of the step that ends at its time: the S wave's step carries the peak,
        # the next one the coda (judgement: a third of the peak)
        if elapsed_s - self.step_s < arrival <= elapsed_s:
            return max(quiet, self.peak_gal(*stream.at) * (1 + 0.1 * noise(stream.key, elapsed_s)))
        if elapsed_s - 2 * self.step_s < arrival <= elapsed_s - self.step_s:
            return max(quiet, self.peak_gal(*stream.at) / 3)
        return quiet


# --- building the feed ------------------------------------------------------------------------------


def _point(v: Any, where: str) -> tuple[float, float]:
    if not isinstance(v, list | tuple) or len(v) != 2:
        raise ConfigError(f"{where}: give [longitude, latitude]", where=where)
    lon, lat = float(v[0]), float(v[1])
    if not (124 <= lon <= 132 and 33 <= lat <= 39):
        raise ConfigError(
            f"{where}: [{lon}, {lat}] is not a point in Korea (lon 124-132, lat 33-39)", where=where
        )
    return lon, lat


def _sources(sc: Scenario) -> dict[str, Any]:
    """Sensor kind → the field that drives it (raises :class:`ConfigError` naming the field)."""
    out: dict[str, Any] = {}
    for i, f in enumerate(sc.fields):
        where = f"scenario {sc.key}: field[{i}] ({f['kind']})"
        try:
            if f["kind"] == "storm":
                v = f.get("velocity_kmh", [0.0, 0.0])
                out["rain"] = out["underpass"] = Storm(
                    _point(f["centre"], f"{where}.centre"),
                    f["signal"],
                    float(f.get("core_m", 1500)),
                    float(f.get("radius_m", 5000)),
                    float(f.get("along_m", 0)),
                    float(f.get("bearing_deg", 90)),
                    (float(v[0]), float(v[1])),
                )
            elif f["kind"] == "heat":
                out["environment"] = Heat(
                    f["signal"],
                    f.get("humidity"),
                    _point(f.get("centre", [126.978, 37.566]), f"{where}.centre"),
                    float(f.get("island_c", 0.0)),
                    float(f.get("radius_m", 8000)),
                )
            elif f["kind"] == "river":
                out["river"] = _river(f, where)
            elif f["kind"] == "earthquake":
                m = float(f["magnitude"])
                depth = float(f["depth_km"])
                if not 2.0 <= m <= 9.5:
                    raise ConfigError(f"{where}.magnitude: {m} is outside 2.0-9.5", where=where)
                if not 0 <= depth <= 700:
                    raise ConfigError(f"{where}.depth_km: {depth} is outside 0-700 km", where=where)
                origin = parse_duration(f.get("origin", "0s"))
                if origin > sc.duration_s:
                    raise ConfigError(f"{where}.origin: after the scenario's end", where=where)
                out["seismic"] = Earthquake(
                    m, _point(f["epicentre"], f"{where}.epicentre"), depth, origin, sc.step_s
                )
        except (KeyError, TypeError, ValueError) as e:
            raise ConfigError(f"{where}: {type(e).__name__}: {e}", where=where) from None
    return out


def _river(f: Mapping[str, Any], where: str) -> River:
    from safecity.demo.city import load_facts

    facts = load_facts()
    han = facts.han.line
    positions: dict[str, float] = {}
    for g in facts.gauges:
        p = han.project(_as_point(g.position))
        positions[g.code.replace("-", "_")] = p * _KX  # the Han runs mostly east-west: degrees of lon
    ref = str(f["reference"])
    if ref not in positions:
        raise ConfigError(
            f"{where}.reference: {ref!r} is not a gauge ({', '.join(sorted(positions))})", where=where
        )
    return River(positions[ref], f["signal"], float(f.get("celerity_kmh", 8.0)) / 3.6, positions)


def _as_point(p: tuple[float, float]) -> Any:
    from shapely.geometry import Point

    return Point(p)


def check_fields(sc: Scenario) -> None:
    """Validate a scenario's fields (raises :class:`ConfigError` naming the field and entry)."""
    _sources(sc)


def network_stations(sc: Scenario, network: Network) -> list[Station]:
    """The network's sensors as stations of ``sc``: each stream is driven by its override, else by the
    field for the sensor's kind, else by the quiet default. Raises :class:`ConfigError` for an override
    that names no sensor or stream of the network."""
    sources = _sources(sc)
    storm = sources.get("underpass")
    if isinstance(storm, Storm):
        from safecity.demo.floodmodel import storm_water

        water = storm_water(storm, network, sc.start, sc.step_s, sc.duration_s)
        if water is not None:
            sources["underpass"] = replace(storm, water=water)
    by_code: dict[str, Sensor] = {s.code: s for s in network.sensors}
    for s in network.sensors:
        if s.properties.get("facility_code"):
            by_code.setdefault(str(s.properties["facility_code"]), s)
    overrides: dict[tuple[str, str], Mapping[str, Any]] = {}
    for i, o in enumerate(sc.overrides):
        target = by_code.get(o.sensor)
        if target is None or o.prop not in {st.prop for st in target.streams}:
            raise ConfigError(
                f"scenario {sc.key}: override[{i}]: no sensor {o.sensor!r} with a {o.prop!r} stream",
                where=f"override[{i}]",
            )
        overrides[(target.code, o.prop)] = o.signal
    out: list[Station] = []
    for s in network.sensors:
        source = sources.get(s.kind, QUIET)
        streams = []
        for spec in s.streams:
            signal = overrides.get((s.code, spec.prop))
            streams.append(
                Stream(
                    spec.prop,
                    spec.unit_name,
                    spec.unit_symbol,
                    dict(signal) if signal is not None else {"shape": "field"},
                    # the gauge name travels with the stream so the river field and the quiet stage
                    # find it; the Thing carries it too (the han_river pack reads it there)
                    {
                        **spec.properties,
                        **({"gauge": s.properties["gauge"]} if "gauge" in s.properties else {}),
                    },
                    spec.round,
                    None if signal is not None else source,
                    (s.lon, s.lat),
                    s.code,
                )
            )
        out.append(
            Station(
                s.name, s.name_ko, s.lon, s.lat, tuple(streams), s.transport, s.thing_properties(), s.kind
            )
        )
    return out
