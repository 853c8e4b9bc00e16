# SPDX-License-Identifier: Apache-2.0
"""The flood checks of :mod:`safecity.demo.judge` (issue 18): a storm scenario's forecasts, what they
predicted and what the underpass gauges read, and the checks ``flood_predicted_first``,
``closed_from_prediction``, ``routed_around`` and ``warned_before_flooding`` (their meaning is in
:mod:`safecity.demo.judge`'s docstring). Apart from the judge so that each module stays one concern.
"""

from __future__ import annotations

import math
import time
from datetime import datetime
from typing import TYPE_CHECKING, Any

import shapely
from shapely.geometry.base import BaseGeometry

from safecity.demo import scenario
from safecity.demo.city import DemoCity
from safecity.demo.sample import Player

if TYPE_CHECKING:
    from safecity.demo.judge import Report

#: How far a route avoiding a closed underpass keeps from it, m (the closure is a box of 60 m either side).
AROUND_M = 50.0
#: Underpass closure depth (facility pack; safecity.flood.forecast.CLOSE_DEPTH_M).
CLOSE_DEPTH_M = 0.15
_M_PER_DEG_LAT = 110_574.0


class FloodChecks:
    """Mixed into the judge's run: the state below is the run's."""

    platform: Any
    report: Report
    city: DemoCity
    underpass_at: dict[str, tuple[float, float]]
    wet: set[str]  # underpasses reading 15 cm in the current step
    through: dict[str, tuple[Any, Any] | None]

    def _violate(self, check: str, at: datetime, detail: str) -> None:
        raise NotImplementedError  # the run's own (safecity.demo.judge._Run._violate)

    def forecast(self, flood: Any, player: Player, sc: scenario.Scenario, i: int, at: datetime) -> None:
        """Deliver the step's rain to the flood capability (the gauges' readings over the bus and, with
        ``radar``, a generated radar frame), run a forecast, and note which underpasses it predicts at
        15 cm and which read 15 cm now."""
        p = self.platform
        while p.bus.pending():
            p.bus.drain()
        flood.step(i, at)
        forecasts = flood.forecasts
        began = time.perf_counter()
        result = forecasts.run(at)
        if result is not None:
            self.report.forecast_runs += 1
            self.report.forecast_seconds += time.perf_counter() - began
            for f in result.closing():
                if f.place.kind == "underpass":
                    self.report.predicted.setdefault(f.place.code, at)
        elapsed = sc.step_s * i
        for station, streams, _ in player.keys:
            for stream, _ds in streams:
                if stream.prop != "road_water_depth":
                    continue
                if stream.value(elapsed, at) >= CLOSE_DEPTH_M:
                    self.report.observed.setdefault(stream.key, at)
                    self.underpass_at.setdefault(stream.key, (station.lon, station.lat))
                    self.wet.add(stream.key)
                else:
                    self.wet.discard(stream.key)

    def _check_flood(self, now: datetime) -> None:
        from shapely.geometry import Point

        from safecity.evacuation.zones import active_closures

        report = self.report
        for code, seen in report.observed.items():
            predicted = report.predicted.get(code)
            if predicted is None or predicted >= seen:
                self._violate(
                    "flood_predicted_first",
                    seen,
                    f"{code} read 15 cm at {seen:%H:%M} with no earlier prediction",
                )
        # an underpass that did flood must be closed from its first prediction to its first 15 cm; one
        # predicted but never flooded (a false alarm) is rightly reopened when the forecasts stop
        # predicting it, and is counted apart (Report.false_alarms)
        for code, seen in report.observed.items():
            warned = report.warned.get(code)
            if warned is None or warned >= seen:
                self._violate(
                    "warned_before_flooding",
                    seen,
                    f"{code} read 15 cm at {seen:%H:%M} and no alert in force covered it before",
                )
        self._check_routes(now)
        waiting = [
            (code, t)
            for code, t in report.predicted.items()
            if code in report.observed and t <= now < report.observed[code]
        ]
        if not waiting:
            return
        with self.platform.store.engine.connect() as conn:
            closed = [c.geom for c in active_closures(conn, now)]
        for code, t in waiting:
            at = self.underpass_at.get(code)
            if at is None:
                at = self._underpass(code)
            if at is not None and not any(g.covers(Point(*at)) for g in closed):
                self._violate(
                    "closed_from_prediction",
                    now,
                    f"{code} predicted at 15 cm at {t:%H:%M} but open to routing at {now:%H:%M}",
                )

    def _check_routes(self, now: datetime) -> None:
        """``routed_around`` at ``now``: routes by the platform's routing past every underpass predicted to
        flood, from its prediction until it was observed and while it reads 15 cm."""
        from safecity.evacuation.routing import EvacuationRouting, avoided_geometries
        from safecity.geo.roads.graph import Mode
        from safecity.geo.roads.routing import Avoid, NoRoute

        report = self.report
        due = [
            (code, t)
            for code, t in report.predicted.items()
            if code in report.observed and t <= now and (now < report.observed[code] or code in self.wet)
        ]
        if not due:
            return
        router = self.platform.services.get(EvacuationRouting).router()
        with self.platform.store.engine.connect() as conn:
            closures, zones = avoided_geometries(conn, now)
        avoid = Avoid(tuple(closures), tuple(zones))
        for code, t in due:
            at = self.underpass_at.get(code) or self._underpass(code)
            ends = self._through(code, at)
            if at is None or ends is None:
                continue
            try:
                route = router.route(ends[0], ends[1], Mode.drive, avoid)
            except NoRoute:
                self._violate("routed_around", now, f"no drive around {code} at {now:%H:%M}")
                continue
            gap = _metres(route.line, at)
            if gap <= AROUND_M:
                self._violate(
                    "routed_around",
                    now,
                    f"{code} predicted at 15 cm at {t:%H:%M} but a drive past it at {now:%H:%M} passes "
                    f"{gap:.0f} m from it",
                )

    def _through(self, code: str, at: tuple[float, float] | None) -> tuple[Any, Any] | None:
        """Two neighbouring vertices of the underpass on its roads, as nearly opposite as can be found,
        such that the fastest drive between them without closures goes through it (recorded in
        ``Report.through_routes``)."""
        from safecity.evacuation.routing import EvacuationRouting
        from safecity.geo.roads.graph import Mode
        from safecity.geo.roads.routing import NoRoute

        if code in self.through:
            return self.through[code]
        found = None
        if at is not None:
            router = self.platform.services.get(EvacuationRouting).router()
            near: set[tuple[float, float]] = set()
            for road in self.city.roads:
                coords = [(round(x, 6), round(y, 6)) for x, y in road.geometry.coords]
                for k, c in enumerate(coords):
                    if c == at:
                        near.update(coords[j] for j in (k - 1, k + 1) if 0 <= j < len(coords))
            kx = math.cos(math.radians(at[1]))

            def angle(p: tuple[float, float]) -> float:
                return math.atan2(p[1] - at[1], (p[0] - at[0]) * kx)

            pairs = sorted(
                ((a, b) for a in near for b in near if a < b),
                key=lambda ab: -abs(math.remainder(angle(ab[0]) - angle(ab[1]), 2 * math.pi)),
            )
            for a, b in pairs:
                try:
                    free = router.route(a, b, Mode.drive)
                except NoRoute:
                    continue
                if _metres(free.line, at) <= 10.0:
                    found = (a, b)
                    break
        self.report.through_routes[code] = found is not None
        self.through[code] = found
        return found

    def _underpass(self, code: str) -> tuple[float, float] | None:
        from safecity.flood.service import FloodForecasts

        cat = self.platform.services.get(FloodForecasts).catchment
        for place in cat.of_kind("underpass") if cat is not None else []:
            if place.code == code:
                xy = (place.geometry.x, place.geometry.y)
                self.underpass_at[code] = xy
                return xy
        return None


def _metres(line: BaseGeometry, at: tuple[float, float]) -> float:
    """Distance from ``at`` (lon, lat) to ``line`` (WGS84), metres, in a local equirectangular frame."""
    k = math.cos(math.radians(at[1]))
    scaled = shapely.transform(line, lambda xy: (xy - [at[0], at[1]]) * [k * _M_PER_DEG_LAT, _M_PER_DEG_LAT])
    return float(shapely.Point(0.0, 0.0).distance(scaled))
