# SPDX-License-Identifier: Apache-2.0
"""What dispatch hears from the sensor network, through sensing's public events and directory (never its
tables): which Datastream is what (:class:`Streams`), and whether it rains where a unit drives
(:class:`RainWatch`, the speed model's rain factor from the live rain gauges, not a constant).

Rain near a call: the mean intensity (mm/h) of the gauges within ``rain_radius_m`` of it whose latest
reading ended within ``rain_window_min``; at or above ``rain_threshold_mm_h`` the road times take the rain
factor (``data/speeds.toml``). Without a call (the city's coverage map), the mean over every such gauge.
The threshold (1 mm/h) is our judgement, UNCONFIRMED: Seoul's travel-speed surveys report slower traffic
"on rainy days" without an intensity. ``rain = true`` in the settings declares rain by hand, whatever the
gauges say.
"""

from __future__ import annotations

import threading
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from safecity.core.clock import Clock
from safecity.dispatch.places import metres
from safecity.dispatch.settings import DispatchSettings
from safecity.sensing.directory import StreamInfo, recent_observations, stream_directory
from safecity.sensing.events import ObservationAccepted
from safecity.sensing.service import Sensing

#: The rain properties of sensing's catalogue and the hours one reading accumulates over (a reading
#: divided by them is mm/h). The flood capability keeps its own (capabilities of one row share nothing).
RAIN_HOURS = {"rainfall_1min": 1 / 60, "rainfall_10min": 1 / 6, "rainfall_1h": 1.0}


class Streams:
    """Sensing's stream directory as dispatch needs it: read once, again when a Thing or Datastream
    changed, or when an observation names a stream made since (events of two subscriptions come in no
    common order)."""

    def __init__(self, sensing: Sensing) -> None:
        self.sensing = sensing
        self._by_id: dict[int, StreamInfo] | None = None
        self._lock = threading.Lock()

    def invalidate(self) -> None:
        with self._lock:
            self._by_id = None

    def all(self, wanted: Iterable[int] = ()) -> dict[int, StreamInfo]:
        with self._lock:
            found = self._by_id
        if found is None or not set(wanted) <= found.keys():
            with self.sensing.store.engine.connect() as conn:
                found = {i.datastream_id: i for i in stream_directory(conn, self.sensing.catalogue)}
            with self._lock:
                self._by_id = found
        return found


@dataclass(frozen=True)
class RainNow:
    """The rain a road-time search takes: whether the rain factor applies, and why."""

    raining: bool
    mm_h: float | None  # mean of the gauges heard (None: none heard recently)
    gauges: int
    declared: bool  # rain set by hand (settings.rain)

    def public(self) -> dict[str, Any]:
        if self.declared:
            en, ko = "rain declared by the dispatch settings", "설정에 따라 비 오는 날로 계산"
        elif self.mm_h is None:
            en, ko = "no rain gauge heard nearby: dry-road speeds", "주변 강우계 자료 없음: 맑은 날 속도"
        else:
            state_en = "rain factor applied" if self.raining else "dry-road speeds"
            state_ko = "비 보정 적용" if self.raining else "맑은 날 속도"
            en = f"{self.mm_h:.1f} mm/h at {self.gauges} gauge(s) nearby: {state_en}"
            ko = f"주변 강우계 {self.gauges}곳 평균 {self.mm_h:.1f} mm/h: {state_ko}"
        return {
            "raining": self.raining,
            "mmH": None if self.mm_h is None else round(self.mm_h, 2),
            "gauges": self.gauges,
            "declared": self.declared,
            "en": en,
            "ko": ko,
        }


class RainWatch:
    """The latest reading of every rain gauge (thread-safe: the bus and the HTTP handlers call it)."""

    def __init__(self, streams: Streams, clock: Clock, settings: DispatchSettings) -> None:
        self.streams = streams
        self.clock = clock
        self.settings = settings
        self._latest: dict[int, tuple[datetime, float]] = {}  # datastream id -> (reading's end, mm/h)
        self._warm = False
        self._lock = threading.Lock()

    def gauges(self, stream_ids: Collection[int]) -> set[int]:
        """Those of these Datastreams that are rain gauges."""
        if not stream_ids:
            return set()
        infos = self.streams.all(stream_ids)
        return {
            i
            for i in stream_ids
            if (info := infos.get(i)) is not None and (info.property or "") in RAIN_HOURS
        }

    def on_observations(self, items: Sequence[ObservationAccepted]) -> None:
        numbers = [o for o in items if o.datastream_id is not None and isinstance(o.result, int | float)]
        if not numbers:
            return
        infos = self.streams.all({o.datastream_id for o in numbers if o.datastream_id is not None})
        self._keep(infos, numbers)

    def _keep(self, infos: dict[int, StreamInfo], items: Iterable[ObservationAccepted]) -> None:
        with self._lock:
            for o in items:
                info = infos.get(o.datastream_id) if o.datastream_id is not None else None
                hours = RAIN_HOURS.get(info.property or "") if info else None
                if hours is None or isinstance(o.result, bool):
                    continue
                end = o.phenomenon_time_end or o.phenomenon_time
                last = self._latest.get(o.datastream_id or 0)
                if last is None or last[0] <= end:
                    self._latest[o.datastream_id or 0] = (end, max(0.0, float(o.result)) / hours)

    def _warm_up(self) -> None:
        """After a start, the readings of the last window from the store (sensing's directory)."""
        with self._lock:
            if self._warm:
                return
            self._warm = True
        infos = self.streams.all()
        gauges = [i for i, s in infos.items() if (s.property or "") in RAIN_HOURS]
        since = self.clock.now() - timedelta(minutes=self.settings.rain_window_min)
        with self.streams.sensing.store.engine.connect() as conn:
            for chunk in recent_observations(conn, gauges, since):
                self._keep(infos, chunk)

    def at(self, lon: float | None = None, lat: float | None = None) -> RainNow:
        """The rain at (lon, lat), or over the whole city when no point is given."""
        declared = self.settings.rain
        self._warm_up()
        infos = self.streams.all()
        since = self.clock.now() - timedelta(minutes=self.settings.rain_window_min)
        with self._lock:
            latest = dict(self._latest)
        near = [
            mm_h
            for sid, (end, mm_h) in latest.items()
            if end >= since
            and (info := infos.get(sid)) is not None
            and info.lon is not None
            and info.lat is not None
            and (
                lon is None
                or lat is None
                or metres(lon, lat, info.lon, info.lat) <= self.settings.rain_radius_m
            )
        ]
        mean = sum(near) / len(near) if near else None
        raining = declared or (mean is not None and mean >= self.settings.rain_threshold_mm_h)
        return RainNow(raining, mean, len(near), declared)
