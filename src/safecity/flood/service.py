# SPDX-License-Identifier: Apache-2.0
"""The forecast service: rain from the gauges' events, a run every few minutes, results into the chain.

:class:`FloodForecasts` follows ``sensing.ObservationAccepted`` (the rain gauges' readings arrive in
the events themselves; which streams are gauges, and where, comes from sensing's public stream
directory), keeps the :class:`~safecity.flood.forecast.Forecaster`'s analysis up to date with the rain
observed, and every ``forecast_interval_min`` of platform time (:meth:`run_due`, the worker's step)
runs a forecast. Each run is stored (its depth areas are the ``flood-forecast`` OGC API collection),
the underpasses and roads predicted to reach 15 cm are closed in evacuation routing (evacuation's
public road-closure functions; each run replaces the previous run's closures, which also expire on
their own two intervals later), and ``flood.ForecastIssued`` announces it all.

Nothing runs until a catchment is given (:meth:`use`): the demo gives its city's; a deployment gives
one built from its DEM (:func:`safecity.flood.catchment.from_elevation`).
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import numpy as np
import shapely
from shapely.geometry import Point, mapping
from sqlalchemy import delete, func, insert, select
from sqlalchemy.engine import Connection

from safecity.bus import Bus
from safecity.core.clock import Clock
from safecity.core.events import Envelope
from safecity.core.logging import get_logger
from safecity.flood import tables as t
from safecity.flood.events import DistrictRisk, ForecastIssued, PredictedClosure
from safecity.flood.settings import FloodSettings
from safecity.sensing.events import observations
from safecity.store import Store

if TYPE_CHECKING:
    # the model (numba) and the nowcast (scipy) load on the first run, not with the routes
    from safecity.flood.catchment import Catchment
    from safecity.flood.chain import ForecastStreams
    from safecity.flood.forecast import Forecaster, ForecastResult
    from safecity.flood.model import SolverOptions
    from safecity.flood.nowcast import Gauge
    from safecity.warning.targeted import TargetedAlerts

log = get_logger(__name__)

#: The time zone of the texts people read (docs: store UTC, show Asia/Seoul).
LOCAL = ZoneInfo("Asia/Seoul")

#: Rain properties of the sensing catalogue and the hours each reading covers (its accumulation period).
RAIN_PROPERTIES = {"rainfall_1min": 1 / 60, "rainfall_10min": 1 / 6, "rainfall_1h": 1.0}
#: Water under this depth everywhere (m) is a dry city for :meth:`FloodForecasts.run`.
DRY_M = 0.01
#: A closure around an underpass: the sag and its approaches, metres either side (judgement: the
#: lowest 100 m of a typical Seoul underpass's ramps).
UNDERPASS_CLOSURE_M = 60.0
#: Water-depth gauges (m) whose readings keep a flooded underpass closed while the water is there.
DEPTH_PROPERTY = "road_water_depth"
#: A gauge this close to an underpass (m) measures it (judgement: a gauge sits at the sag's lowest point).
GAUGE_MATCH_M = 150.0
#: A depth reading older than this no longer keeps a road closed (the facility pack's max_age).
OBSERVED_MAX_AGE = timedelta(minutes=30)


@dataclass(frozen=True)
class RainStream:
    datastream_id: int
    gauge: Gauge
    hours: float  # the accumulation period of one reading


class FloodForecasts:
    """The forecast runs of one platform (thread-safe: the bus and the worker call it)."""

    def __init__(
        self,
        store: Store,
        bus: Bus,
        clock: Clock,
        settings: FloodSettings,
        directory: Callable[[], Sequence[Any]] | None = None,
        streams: ForecastStreams | None = None,
        data_dir: Path | None = None,
        alerts: TargetedAlerts | None = None,
    ) -> None:
        """``directory`` lists sensing's streams (:func:`safecity.sensing.directory.stream_directory`
        items: datastream id, property, lon, lat); ``streams`` writes each run's predictions as
        observations for the situation rules (:mod:`safecity.flood.chain`); ``alerts`` drafts each run's
        warning aimed at the places at risk (:mod:`safecity.flood.targets`)."""
        self.store = store
        self.bus = bus
        self.clock = clock
        self.settings = settings
        self._directory = directory
        self.streams = streams
        self._lock = threading.RLock()
        self.catchment: Catchment | None = None
        self.options: SolverOptions | None = None
        self.forecaster: Forecaster | None = None
        self._streams: dict[int, RainStream | None] = {}
        #: water-depth gauges at underpasses: datastream id -> place code; the latest reading per place
        self._depth_streams: dict[int, str] = {}
        self._observed: dict[str, tuple[datetime, float]] = {}
        #: reading end time -> datastream id -> mm/h
        self._readings: dict[datetime, dict[int, float]] = defaultdict(dict)
        self._frames: list[tuple[datetime, datetime, np.ndarray[Any, Any]]] = []
        self._radar: dict[datetime, tuple[datetime, np.ndarray[Any, Any]]] = {}
        self._last_run: datetime | None = None
        self.last: ForecastResult | None = None
        #: where imported radar rasters are kept (flood/radar.py), and those already read
        self.data_dir = data_dir
        self._radar_read: set[str] = set()
        self.alerts = alerts

    # -- set-up --------------------------------------------------------------------------------------
    def use(self, catchment: Catchment, options: SolverOptions | None = None) -> None:
        """Forecast on ``catchment`` from now on (the analysis starts dry at the next reading), with the
        solver's ``options`` (default: :class:`~safecity.flood.model.SolverOptions`)."""
        with self._lock:
            self.catchment = catchment
            self.options = options
            self.forecaster = None
            self._streams.clear()
            self._depth_streams.clear()
            self._observed.clear()
            if self.streams is not None:
                self.streams.ensure(catchment)

    # -- rain ----------------------------------------------------------------------------------------
    def on_events(self, batch: Sequence[Envelope]) -> None:
        """Bus handler of ``sensing.ObservationAccepted``: keep the rain gauges' readings, and the latest
        depth at each underpass that has a water-depth gauge."""
        if self.catchment is None:
            return
        with self._lock:
            for o in observations(batch):
                if o.datastream_id is None or not isinstance(o.result, int | float):
                    continue
                stream = self._stream(o.datastream_id)
                end = o.phenomenon_time_end or o.phenomenon_time
                if stream is None:
                    code = self._depth_streams.get(o.datastream_id)
                    if code is not None and (code not in self._observed or self._observed[code][0] <= end):
                        self._observed[code] = (end, float(o.result))
                    continue
                self._readings[end][stream.datastream_id] = max(0.0, float(o.result)) / stream.hours

    def _stream(self, datastream_id: int) -> RainStream | None:
        if datastream_id not in self._streams and self._directory is not None:
            self._refresh_streams()
        return self._streams.get(datastream_id)

    def _refresh_streams(self) -> None:
        from safecity.flood.nowcast import Gauge

        assert self.catchment is not None and self._directory is not None
        to_m = self.catchment.to_metric()
        underpasses = [
            (p.code, *to_m.transform(p.geometry.centroid.x, p.geometry.centroid.y))
            for p in self.catchment.of_kind("underpass")
        ]
        for s in self._directory():
            if s.property == DEPTH_PROPERTY and s.lon is not None and s.lat is not None and underpasses:
                x, y = to_m.transform(s.lon, s.lat)
                code, ux, uy = min(underpasses, key=lambda u: (u[1] - x) ** 2 + (u[2] - y) ** 2)
                if (ux - x) ** 2 + (uy - y) ** 2 <= GAUGE_MATCH_M**2:
                    self._depth_streams[s.datastream_id] = code
            hours = RAIN_PROPERTIES.get(s.property or "")
            if hours is None or s.lon is None or s.lat is None:
                self._streams.setdefault(s.datastream_id, None)
                continue
            x, y = to_m.transform(s.lon, s.lat)
            self._streams[s.datastream_id] = RainStream(s.datastream_id, Gauge(s.name, x, y), hours)

    def radar(self, start: datetime, end: datetime, mm_h: np.ndarray[Any, Any]) -> None:
        """A radar or nowcast frame on the catchment's grid (mm/h over ``[start, end)``, e.g. from
        :func:`safecity.flood.nowcast.frames_from_raster`): it replaces the gauges' analysis for the
        reading that ends at ``end``. Raises ``ValueError`` for a frame of another shape or with negative
        or non-finite cells."""
        with self._lock:
            if self.catchment is None:
                raise ValueError("radar frame: no catchment to forecast on yet (FloodForecasts.use)")
            g = self.catchment.grid
            frame = np.asarray(mm_h, dtype=np.float64)
            if frame.shape != (g.ny, g.nx) or not np.all(np.isfinite(frame)) or np.any(frame < 0):
                raise ValueError(
                    f"radar frame: need {g.ny}×{g.nx} finite cells ≥ 0 mm/h; got shape {frame.shape}"
                )
            self._radar[end] = (start, frame)

    def _read_radar_imports(self, now: datetime) -> None:
        """Imported radar rasters not read yet, as frames on the catchment's grid (flood/radar.py)."""
        from safecity.flood.nowcast import NowcastError, frames_from_raster
        from safecity.flood.radar import STALE_AFTER, imports

        if self.data_dir is None or self.catchment is None:
            return
        for item in imports(self.data_dir):
            if item.path.name in self._radar_read:
                continue
            self._radar_read.add(item.path.name)
            try:
                frames = frames_from_raster(item.path, self.catchment.grid, self.catchment.crs)
            except NowcastError as e:
                log.warning("radar import left out", file=item.path.name, reason=str(e))
                continue
            for (start, end), frame in zip(item.frame_times(), frames, strict=True):
                if end >= now - STALE_AFTER:
                    self.radar(start, end, frame)

    def _assimilate(self, now: datetime) -> None:
        """Feed every complete reading time up to ``now`` into the analysis, oldest first: the radar
        frame of that time where there is one, else the gauges' field."""
        from safecity.flood.forecast import Forecaster
        from safecity.flood.nowcast import NowcastError, gauge_field

        assert self.catchment is not None
        self._read_radar_imports(now)
        for end in sorted(k for k in {*self._readings, *self._radar} if k <= now):
            values = self._readings.pop(end, {})
            radar = self._radar.pop(end, None)
            streams = [s for ds in values if (s := self._streams.get(ds)) is not None]
            if radar is not None:
                start, field = radar
            elif streams:
                start = end - timedelta(hours=min(s.hours for s in streams))
                try:
                    field = gauge_field(
                        self.catchment.grid,
                        [s.gauge for s in streams],
                        [values[s.datastream_id] for s in streams],
                    )
                except NowcastError as e:
                    log.warning("rain readings left out", reason=str(e), at=end.isoformat())
                    continue
            else:
                continue
            if self.forecaster is None:
                self.forecaster = Forecaster(self.catchment, start, self.options)
            self.forecaster.observe(start, end, field)
            self._frames = [*self._frames[-1:], (start, end, field)]

    # -- runs ----------------------------------------------------------------------------------------
    def run_due(self) -> int:
        """The worker's step: run a forecast if the interval has passed since the last (1), else 0."""
        now = self.clock.now()
        if self.catchment is None:
            return 0
        if self._last_run is not None and now - self._last_run < timedelta(
            minutes=self.settings.forecast_interval_min
        ):
            return 0
        return 1 if self.run(now) is not None else 0

    def run(self, now: datetime) -> ForecastResult | None:
        """Run one forecast issued at ``now``; None when no rain has been observed yet."""
        from safecity.flood.nowcast import TRACE_MM_H, Motion, estimate_motion

        with self._lock:
            if self.catchment is None:
                return None
            self._assimilate(now)
            if self.forecaster is None or not self._frames:
                return None
            self._last_run = now
            last_start, last_end, last = self._frames[-1]
            dry = (
                last.max(initial=0.0) < TRACE_MM_H
                and self.forecaster.model.hmax < DRY_M
                and not self.observed_flooded(now)  # a gauge still reads 15 cm: keep closing it
            )
            if not dry:
                motion = Motion.still("one frame only")
                if len(self._frames) == 2:
                    _, p_end, prev = self._frames[0]
                    motion = estimate_motion(
                        prev, last, (last_end - p_end).total_seconds(), self.catchment.grid.dx
                    )
                horizon = timedelta(minutes=self.settings.horizon_min)
                result = self.forecaster.forecast(now, last, motion, horizon, last_end - last_start)
                self.last = result
        if dry:
            # no rain and no water: nothing can flood within the horizon (and an hour of a dry city costs
            # as much to simulate as a wet one); a warning still in force ends
            self._target(None, None)
            return None
        run_id = self._store(result)
        if self.streams is not None:
            self.streams.publish(result)
        self._target(result, run_id)
        return result

    def _target(self, r: ForecastResult | None, run_id: int | None) -> None:
        """Draft (or update, or end) the warning aimed at the places ``r`` puts at risk. A failure is
        logged: the forecast, its closures and its rules stand without it."""
        from safecity.flood.targets import THREAD, targeted_warning

        if self.alerts is None or not self.settings.target_warnings:
            return
        try:
            with self.store.engine.connect() as conn:
                warning = targeted_warning(conn, r, run_id) if r is not None else None
            if warning is None:
                self.alerts.end(THREAD)
            else:
                self.alerts.warn(THREAD, warning)
        except Exception:  # the warning's boundary: the forecast itself went through
            log.exception("could not draft the forecast's targeted warning", run=run_id)

    def _store(self, r: ForecastResult) -> int:
        valid_until = r.issued + r.horizon
        close_until = r.issued + timedelta(minutes=2 * self.settings.forecast_interval_min)
        with self.store.write() as conn:
            previous = conn.execute(select(t.runs.c.closures).order_by(t.runs.c.id.desc()).limit(1)).scalar()
            opened = self._close_roads(conn, r, previous or [], close_until)
            run_id = conn.execute(
                insert(t.runs)
                .values(
                    issued_at=r.issued,
                    valid_until=valid_until,
                    cell_m=r.cell_m,
                    cells=r.cells,
                    rain_max_mm_h=r.rain_now_mm_h,
                    motion={
                        "u": r.motion.u,
                        "v": r.motion.v,
                        "known": r.motion.known,
                        "method": r.motion.method,
                    },
                    elapsed_s=r.elapsed_s,
                    catchment=self.catchment.label if self.catchment else "",
                    closures=sorted(opened.values()),
                )
                .returning(t.runs.c.id)
            ).scalar_one()
            if r.areas:
                conn.execute(
                    insert(t.areas),
                    [
                        {
                            "run_id": run_id,
                            "depth_min_m": a.depth_min_m,
                            "depth_max_m": a.depth_max_m,
                            "area_m2": a.area_m2,
                            "issued_at": r.issued,
                            "valid_until": valid_until,
                            "geom": a.geometry,
                        }
                        for a in r.areas
                    ],
                )
            rows = [
                {
                    "run_id": run_id,
                    "code": p.place.code,
                    "kind": p.place.kind,
                    "name_ko": p.place.name_ko,
                    "name_en": p.place.name_en,
                    "district": p.place.district,
                    "depth_now_m": round(p.depth_now_m, 3),
                    "depth_max_m": round(p.depth_max_m, 3),
                    "crosses_at": p.crosses_at,
                    "risk": p.risk,
                    "properties": p.place.properties,
                    "geom": p.place.geometry,
                }
                for p in r.places
                if p.depth_max_m > 0.0 or p.place.kind != "building"
            ]
            if rows:
                conn.execute(insert(t.places), rows)
            self._prune(conn, run_id)
            self.bus.publish(conn, self._event(run_id, r, opened))
        self.bus.notify()
        return int(run_id)

    def _close_roads(
        self, conn: Connection, r: ForecastResult, previous: Sequence[int], until: datetime
    ) -> dict[str, int]:
        """Replace the previous run's road closures with this run's; returns place code -> closure id."""
        from safecity.evacuation.zones import RoadClosureIn, deactivate_closure, insert_closure

        if not self.settings.close_roads:
            return {}
        for closure_id in previous:
            deactivate_closure(conn, int(closure_id), r.issued)
        opened: dict[str, int] = {}
        for p in r.closing():
            # the time operators read it in (the platform stores UTC)
            when = (p.crosses_at or r.issued).astimezone(LOCAL)
            reason = (
                f"침수 예측: {p.place.name_ko} {when:%H:%M}경 수심 15 cm 도달 예상 (홍수 모델) / "
                f"Flood forecast: {p.place.name_en} predicted to reach 15 cm of water at {when:%H:%M} KST (flood model)"
            )
            geom = _closure_geometry(p.place.geometry)
            closure = insert_closure(
                conn, RoadClosureIn(reason=reason, geometry=mapping(geom), expires_at=until), r.issued
            )
            opened[p.place.code] = closure.id
        # an underpass its gauge says is flooded stays closed whatever the forecast's own water says (the
        # model's analysis follows the rain gauges and can drain it before the real sag is dry)
        for code, depth in sorted(self.observed_flooded(r.issued).items()):
            place = self.catchment.place(code) if self.catchment is not None else None
            if code in opened or place is None:
                continue
            reason = (
                f"침수 관측: {place.name_ko} 수심 {depth * 100:.0f} cm (계측기) / "
                f"Flooding observed: {place.name_en}, {depth * 100:.0f} cm of water (gauge)"
            )
            geom = _closure_geometry(place.geometry)
            closure = insert_closure(
                conn, RoadClosureIn(reason=reason, geometry=mapping(geom), expires_at=until), r.issued
            )
            opened[code] = closure.id
        return opened

    def observed_flooded(self, now: datetime) -> dict[str, float]:
        """Underpasses whose water-depth gauge read closure depth (15 cm) or more in its latest reading,
        not older than :data:`OBSERVED_MAX_AGE`: place code -> depth (m)."""
        from safecity.flood.forecast import CLOSE_DEPTH_M

        with self._lock:
            return {
                code: depth
                for code, (at, depth) in self._observed.items()
                if depth >= CLOSE_DEPTH_M and now - OBSERVED_MAX_AGE <= at <= now
            }

    def _prune(self, conn: Connection, run_id: int) -> None:
        keep_from = run_id - self.settings.keep_runs + 1
        for table in (t.areas, t.places):
            conn.execute(delete(table).where(table.c.run_id < keep_from))
        conn.execute(delete(t.runs).where(t.runs.c.id < keep_from))

    def _event(self, run_id: int, r: ForecastResult, opened: dict[str, int]) -> ForecastIssued:
        closures = []
        for p in r.closing():
            c = (
                shapely.centroid(p.place.geometry)
                if not isinstance(p.place.geometry, Point)
                else p.place.geometry
            )
            assert p.crosses_at is not None
            closures.append(
                PredictedClosure(
                    code=p.place.code,
                    kind=p.place.kind,
                    name_ko=p.place.name_ko,
                    name_en=p.place.name_en,
                    district=p.place.district,
                    lon=round(c.x, 6),
                    lat=round(c.y, 6),
                    crosses_at=p.crosses_at,
                    depth_max_m=round(p.depth_max_m, 3),
                    closure_id=opened.get(p.place.code),
                )
            )
        risk: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
        for p in r.semi_basements_at_risk():
            d = risk[p.place.district or ""]
            homes = int(p.place.properties.get("homes", 1))
            if p.risk == "high":
                d[0] += 1
                d[1] += homes
            else:
                d[2] += 1
        return ForecastIssued(
            run_id=run_id,
            issued_at=r.issued,
            valid_until=r.issued + r.horizon,
            rain_max_mm_h=round(r.rain_now_mm_h, 1),
            motion=r.motion.method,
            closures=closures,
            semi_basements=[
                DistrictRisk(district=k, buildings_high=v[0], homes_high=v[1], buildings_watch=v[2])
                for k, v in sorted(risk.items())
            ],
        )

    # -- reading -------------------------------------------------------------------------------------
    def latest(
        self, conn: Connection, kind: str | None = None, wet_only: bool = True
    ) -> dict[str, Any] | None:
        """The latest run and its places (``kind``: underpass, road or building; ``wet_only``: places
        with predicted water only), as JSON."""
        run = conn.execute(select(t.runs).order_by(t.runs.c.id.desc()).limit(1)).mappings().first()
        if run is None:
            return None
        q = select(t.places).where(t.places.c.run_id == run["id"]).order_by(t.places.c.id)
        if kind is not None:
            q = q.where(t.places.c.kind == kind)
        if wet_only:
            q = q.where(t.places.c.depth_max_m > 0.0)
        places = [
            {
                "code": p["code"],
                "kind": p["kind"],
                "nameKo": p["name_ko"],
                "nameEn": p["name_en"],
                "district": p["district"],
                "depthNowM": p["depth_now_m"],
                "depthMaxM": p["depth_max_m"],
                "crossesAt": p["crosses_at"].isoformat() if p["crosses_at"] else None,
                "risk": p["risk"],
                "properties": p["properties"],
                "geometry": mapping(p["geom"]),
            }
            for p in conn.execute(q).mappings()
        ]
        return {
            "runId": run["id"],
            "issuedAt": run["issued_at"].isoformat(),
            "validUntil": run["valid_until"].isoformat(),
            "cellM": run["cell_m"],
            "cells": run["cells"],
            "rainMaxMmH": run["rain_max_mm_h"],
            "motion": run["motion"],
            "elapsedS": run["elapsed_s"],
            "catchment": run["catchment"],
            "closures": run["closures"],
            "places": places,
        }

    def runs(self, conn: Connection) -> int:
        return int(conn.execute(select(func.count()).select_from(t.runs)).scalar_one())


def _closure_geometry(geom: Any) -> Any:
    """A closure's geometry (WGS84): a road's line as it is; around a point, a square of
    :data:`UNDERPASS_CLOSURE_M` either side (degrees at Seoul's latitude)."""
    if not isinstance(geom, Point):
        return geom
    dlat = UNDERPASS_CLOSURE_M / 111_000.0
    dlon = dlat / np.cos(np.radians(geom.y))
    return shapely.box(geom.x - dlon, geom.y - dlat, geom.x + dlon, geom.y + dlat)
