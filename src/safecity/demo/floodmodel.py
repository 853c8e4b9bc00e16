# SPDX-License-Identifier: Apache-2.0
"""The demo city under the flood model: its catchment, its semi-basement homes, and a storm's water.

* :func:`demo_catchment`: the demo terrain at :data:`DEMO_CELL_M` (200 m: a city-wide hour of forecast in
  about a second on this 2-core machine, so a run every 5 minutes stays far inside its interval), with the
  demo's generated underpasses burnt in as sags, the main roads (trunk and primary) and the generated
  semi-basement homes (:func:`semi_basement_places`) as the places a forecast reports on.
* :class:`StormWater`: the *observed* water of a storm scenario. The demo's underpass gauges read the
  depth the same flood model computes under the scenario's own rain field (every 10 minutes, on the
  grid), instead of the old bucket: the forecast the platform runs from its 25 rain gauges is then judged
  against the water the same physics makes of the true rain.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

import numpy as np
from shapely.geometry import Point

from safecity.demo.city import DemoCity
from safecity.demo.scenario import shape_value

if TYPE_CHECKING:
    from safecity.demo.fields import Storm
    from safecity.demo.network import Network
    from safecity.flood.catchment import Catchment, PlaceIn

#: Cell size of the demo's flood grid, m (see the module docstring).
DEMO_CELL_M = 200.0
#: The longest step the demo's model takes, s: the CFL limit is far above it on a 200 m grid.
DEMO_DT_MAX_S = 30.0
#: Model time after the rain stops before the water is taken as gone, s (the pumps empty a sag well
#: within it; checked by tests/demo/test_floodmodel.py).
DRAIN_TAIL_S = 3 * 3600.0
#: Road classes a forecast reports on (the arterials that close; the street grid is not reported).
ROAD_CLASSES = ("trunk", "primary")


@dataclass(frozen=True)
class SemiBasementFacts:
    source: str
    total: int
    homes_per_building: int


@cache
def semi_basement_facts() -> SemiBasementFacts:
    text = resources.files("safecity.demo").joinpath("semi_basement.toml").read_text(encoding="utf-8")
    raw = tomllib.loads(text)
    return SemiBasementFacts(str(raw["source"]), int(raw["total"]), int(raw["homes_per_building"]))


def semi_basement_places(city: DemoCity) -> list[PlaceIn]:
    """One generated place per population cell of the demo city holding its share of Seoul's semi-basement
    homes (see ``semi_basement.toml``: shared by residents, UNCONFIRMED), each marked generated."""
    from safecity.flood.catchment import PlaceIn

    facts = semi_basement_facts()
    people = sum(c.population for c in city.population) or 1
    out = []
    for c in city.population:
        homes = round(facts.total * c.population / people)
        if homes <= 0:
            continue
        out.append(
            PlaceIn(
                f"semi-basement-{c.dong_code}-{c.row}-{c.col}",
                "building",
                f"반지하 주택 {homes}호 (데모 생성)",
                f"{homes} semi-basement homes (demo, generated)",
                Point(c.lon, c.lat),
                c.district_code,
                {
                    "homes": homes,
                    "buildings": max(1, math.ceil(homes / facts.homes_per_building)),
                    # a targeted warning's circle covers the whole cell: its half-diagonal
                    "radius_m": round(city.population_cell_m / math.sqrt(2)),
                    "dong": c.dong_code,
                    "generated": True,
                    "source": facts.source,
                },
            )
        )
    return out


def _places(city: DemoCity, network: Network) -> list[PlaceIn]:
    from safecity.flood.catchment import PlaceIn

    places = [
        PlaceIn(s.code, "underpass", s.name_ko, s.name, Point(s.lon, s.lat), s.district, {"generated": True})
        for s in network.sensors
        if s.kind == "underpass"
    ]
    for i, r in enumerate(city.roads):
        if r.highway in ROAD_CLASSES and not r.bridge:
            places.append(
                PlaceIn(
                    f"road-{i}",
                    "road",
                    r.name,
                    r.name,
                    r.geometry,
                    None,
                    {"highway": r.highway, "generated": True},
                )
            )
    return places + semi_basement_places(city)


_CATCHMENTS: dict[str, Catchment] = {}


def demo_catchment(city: DemoCity, network: Network) -> Catchment:
    """The demo city's catchment (cached per city)."""
    from safecity.flood.catchment import from_elevation

    key = city.digest()
    if key not in _CATCHMENTS:
        t = city.terrain
        a, _b, c, _d, e, f = t.transform
        rows, cols = t.elevation.shape

        def elevation(lon: Any, lat: Any) -> Any:
            col = np.clip(((lon - c) / a).astype(np.int64), 0, cols - 1)
            row = np.clip(((lat - f) / e).astype(np.int64), 0, rows - 1)
            return t.elevation[row, col].astype(np.float64)

        _CATCHMENTS[key] = from_elevation(
            elevation,
            city.outline,
            _places(city, network),
            cell_m=DEMO_CELL_M,
            label=f"demo city (generated terrain), {DEMO_CELL_M:g} m cells",
        )
    return _CATCHMENTS[key]


def storm_field(storm: Storm, catchment: Catchment, elapsed_s: float, when: datetime) -> Any:
    """The storm's rain on every cell, mm/h, for the reading interval ending ``elapsed_s`` after the start
    (the vectorised twin of :meth:`safecity.demo.fields.Storm.factor` times the axis series)."""
    from safecity.demo.city import M_PER_DEG
    from safecity.demo.fields import _KX

    g = catchment.grid
    xs, ys = np.meshgrid(g.centres_x(), g.centres_y())
    lon, lat = catchment.to_wgs84().transform(xs, ys)
    rain = max(0.0, shape_value(storm.signal, elapsed_s, when))
    cx = storm.centre[0] + storm.velocity_kmh[0] * 1000 * elapsed_s / 3600 / _KX
    cy = storm.centre[1] + storm.velocity_kmh[1] * 1000 * elapsed_s / 3600 / M_PER_DEG
    dx, dy = (np.asarray(lon) - cx) * _KX, (np.asarray(lat) - cy) * M_PER_DEG
    b = math.radians(storm.bearing_deg)
    along = dx * math.sin(b) + dy * math.cos(b)
    across = dx * math.cos(b) - dy * math.sin(b)
    ea = np.maximum(0.0, np.abs(along) - storm.along_m / 2)
    ec = np.maximum(0.0, np.abs(across) - storm.core_m)
    share = np.exp(-((ea / storm.radius_m) ** 2 + (ec / storm.radius_m) ** 2))
    # 10-minute totals (the series' unit) to an intensity
    return rain * share * 6.0


#: The demo radar's resolution, m: KMA's radar composite is about 1 km (UNCONFIRMED for the current
#: product; 1 km is the figure commonly quoted for its rain-rate composite).
RADAR_RESOLUTION_M = 1000.0


def radar_frame(storm: Storm, catchment: Catchment, elapsed_s: float, when: datetime) -> Any:
    """A GENERATED radar frame of the storm (mm/h on the catchment grid): its true rain field smoothed to
    :data:`RADAR_RESOLUTION_M` (a Gaussian of that width), as a radar composite sees a band. Not a real
    radar product: the demo's stand-in for the radar or nowcast grid a city would import."""
    from scipy.ndimage import gaussian_filter  # type: ignore[import-untyped]

    sigma = RADAR_RESOLUTION_M / 2.0 / catchment.grid.dx
    return np.maximum(
        gaussian_filter(storm_field(storm, catchment, elapsed_s, when), sigma, mode="nearest"), 0.0
    )


@dataclass
class StormWater:
    """The water of one storm scenario at the demo's underpasses, computed once on first use."""

    storm: Storm
    city: DemoCity
    network: Network
    start: datetime
    step_s: float
    duration_s: float
    depths: dict[str, list[float]] = field(default_factory=dict)  # underpass code -> depth per step, m

    def depth(self, code: str, elapsed_s: float) -> float:
        """Water at underpass ``code`` at the step holding ``elapsed_s``, m (0 for an unknown place)."""
        if not self.depths:
            self._run()
        series = self.depths.get(code)
        if not series:
            return 0.0
        k = int(elapsed_s // self.step_s)
        return series[k] if 0 <= k < len(series) else 0.0

    def _run(self) -> None:
        from safecity.flood.forecast import Forecaster
        from safecity.flood.model import SolverOptions

        cat = demo_catchment(self.city, self.network)
        cells = {p.code: p.cells[0] for p in cat.of_kind("underpass")}
        fc = Forecaster(cat, self.start, SolverOptions(dt_max=DEMO_DT_MAX_S))
        steps = int(self.duration_s // self.step_s)
        last_rain = max(
            (k for k in range(steps + 1) if shape_value(self.storm.signal, k * self.step_s, self.start) > 0),
            default=0,
        )
        end = min(steps, last_rain + int(DRAIN_TAIL_S // self.step_s))
        out: dict[str, list[float]] = {code: [0.0] for code in cells}
        for k in range(1, end + 1):
            when = self.start + timedelta(seconds=k * self.step_s)
            rain = storm_field(self.storm, cat, k * self.step_s, when)
            fc.observe(when - timedelta(seconds=self.step_s), when, rain)
            for code, (r, c) in cells.items():
                out[code].append(round(float(fc.model.h[r, c]), 2))
        self.depths = out


_WATER: dict[tuple[str, str], StormWater] = {}


def storm_water(
    storm: Storm, network: Network, start: datetime, step_s: float, duration_s: float
) -> StormWater | None:
    """The (cached) water of ``storm`` at ``network``'s underpasses; None without the network's city."""
    city = network.city
    if city is None:
        return None
    key = (city.digest(), repr((storm, start, step_s, duration_s)))
    if key not in _WATER:
        _WATER[key] = StormWater(storm, city, network, start, step_s, duration_s)
    return _WATER[key]


@dataclass
class DemoFlood:
    """The flood capability wired to a demo run: the city's catchment, and the step's generated radar
    frame for a storm scenario (see :func:`radar_frame`). The forecasts themselves run as the platform
    runs them: the capability's worker every 5 minutes of scenario time (live demo), or once per step
    (the judge)."""

    forecasts: Any  # safecity.flood.service.FloodForecasts
    storm: Storm | None
    step_s: float

    @classmethod
    def attach(
        cls, platform: Any, sc: Any, city: DemoCity, network: Network, *, radar: bool = True
    ) -> DemoFlood:
        from safecity.demo.fields import Storm, _sources
        from safecity.flood.model import SolverOptions
        from safecity.flood.service import FloodForecasts

        forecasts = platform.services.get(FloodForecasts)
        forecasts.use(demo_catchment(city, network), SolverOptions(dt_max=DEMO_DT_MAX_S))
        storm = _sources(sc).get("rain")
        return cls(forecasts, storm if radar and isinstance(storm, Storm) else None, sc.step_s)

    def step(self, i: int, at: datetime) -> None:
        """Give the forecasts the radar frame of the reading interval ending at step ``i`` (``at``)."""
        if self.storm is None or i <= 0 or self.forecasts.catchment is None:
            return
        frame = radar_frame(self.storm, self.forecasts.catchment, self.step_s * i, at)
        self.forecasts.radar(at - timedelta(seconds=self.step_s), at, frame)
