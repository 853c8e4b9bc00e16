# SPDX-License-Identifier: Apache-2.0
"""The derived series people ask for, read off the engine's windows (computed once, shared with the
rules): accumulated rainfall per window per gauge and per district, the daily maximum apparent
temperature, and river level trends."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from safecity.geo.areas import AreaRef
from safecity.situation.binding import APPARENT, LEVEL_PROPERTIES, RAIN_PROPERTIES, RAIN_WINDOWS
from safecity.situation.engine import Engine
from safecity.situation.rules import format_duration
from safecity.situation.windows import Daily, Last, LazySum, Rate, WindowSum, local_day


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat()


def derived_series(engine: Engine, now: float, districts: dict[str, AreaRef]) -> dict[str, Any]:
    gauges = []
    per_district: dict[str, list[dict[str, float]]] = {}
    heat = []
    rivers = []
    for s in engine.streams.values():
        p = s.info.property
        series = s.series
        if not series.t:
            continue
        base = {
            "datastream": s.info.datastream_id if s.info.datastream_id > 0 else None,
            "datastreams": list(s.ids),
            "thing": s.info.thing_id,
            "name": s.info.thing_name,
            "district": s.district,
            "lon": s.info.lon,
            "lat": s.info.lat,
            "latest": _iso(series.last),
        }
        if p in RAIN_PROPERTIES:
            t = max(now, series.last)
            sums = {}
            for w in RAIN_WINDOWS:
                a = next(x for x in series.aggs if isinstance(x, WindowSum | LazySum) and x.window == w)
                v = a.value(t)
                sums[format_duration(w)] = round(v, 2) if v is not None else None
            gauges.append({**base, "sums": sums})
            if s.district:
                per_district.setdefault(s.district, []).append(
                    {k: v for k, v in sums.items() if v is not None}
                )
        elif p == APPARENT:
            daily = next(x for x in series.aggs if isinstance(x, Daily) and x.maximum and x.hours is None)
            days = sorted(daily.days.items())[-3:]
            heat.append(
                {
                    **base,
                    "current": round(series.v[-1], 2),
                    "dailyMax": [
                        {
                            "day": datetime.fromtimestamp(d * 86400, UTC).date().isoformat(),
                            "value": round(v, 2),
                        }
                        for d, v in days
                    ],
                    "today": round(daily.days[local_day(series.last)], 2)
                    if local_day(series.last) in daily.days
                    else None,
                }
            )
        elif p in LEVEL_PROPERTIES:
            rate = next(x for x in series.aggs if isinstance(x, Rate) and x.window == 3600.0)
            last = next(x for x in series.aggs if isinstance(x, Last))
            r = rate.value(series.last)
            lv = last.value(series.last)
            rivers.append(
                {
                    **base,
                    "level": round(lv, 3) if lv is not None else None,
                    "trend": round(r, 3) if r is not None else None,
                    "trendUnit": "m/h",
                }
            )
    district_rows = []
    for code, rows in sorted(per_district.items()):
        ref = districts.get(code)
        keys = [format_duration(w) for w in RAIN_WINDOWS]
        district_rows.append(
            {
                "district": code,
                "nameKo": ref.name_ko if ref else None,
                "nameEn": ref.name_en if ref else None,
                "gauges": len(rows),
                "max": {k: max((r[k] for r in rows if k in r), default=None) for k in keys},
                "mean": {
                    k: round(sum(vals) / len(vals), 2) if (vals := [r[k] for r in rows if k in r]) else None
                    for k in keys
                },
            }
        )
    return {
        "at": _iso(now),
        "rainfall": {"unit": "mm", "gauges": gauges, "districts": district_rows},
        "apparentTemperature": {"unit": "Cel", "stations": heat},
        "riverLevels": {"unit": "m", "gauges": rivers},
    }
