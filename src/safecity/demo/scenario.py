# SPDX-License-Identifier: Apache-2.0
"""Demo scenarios as data (``demo/scenarios/<name>.toml``): the stations that report, what each of their
datastreams measures, and the shape of the values over the scenario's simulated time.

A value is a function of the time since the scenario's start, so a scenario replays identically at any
speed. Shapes: ``gauss`` (a peak: base, peak, at, width), ``daily`` (a day's cycle in local time: low, high,
peak_hour), ``ramp`` (from, to between start and end, optionally a jump to a value at a time: a collapse),
``sine`` (base, amplitude, period) and ``series`` (listed values, one per step).
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from safecity.core.errors import ConfigError
from safecity.situation.rules import parse_duration

SCENARIOS = Path(__file__).with_name("scenarios")
KST = timezone(timedelta(hours=9))


@dataclass(frozen=True)
class Stream:
    prop: str  # catalogue key
    unit_name: str
    unit_symbol: str
    shape: dict[str, Any]
    properties: dict[str, Any] = field(default_factory=dict)  # e.g. allowable
    round: int = 2

    def value(self, elapsed_s: float, when: datetime) -> float:
        s = self.shape
        kind = s["shape"]
        if kind == "gauss":
            at, width = parse_duration(s["at"]), parse_duration(s["width"])
            v = s.get("base", 0.0) + (s["peak"] - s.get("base", 0.0)) * math.exp(
                -(((elapsed_s - at) / width) ** 2)
            )
        elif kind == "daily":
            hour = when.astimezone(KST).hour + when.astimezone(KST).minute / 60
            phase = math.cos((hour - s["peak_hour"]) / 24 * 2 * math.pi)
            day = elapsed_s / 86400
            rise = s.get("rise_per_day", 0.0) * day
            v = (s["low"] + s["high"]) / 2 + rise + (s["high"] - s["low"]) / 2 * phase
        elif kind == "ramp":
            start, end = parse_duration(s.get("start", "0s")), parse_duration(s["end"])
            if "jump_at" in s and elapsed_s >= parse_duration(s["jump_at"]):
                v = s["jump_to"]
            elif elapsed_s <= start:
                v = s["from"]
            elif elapsed_s >= end:
                v = s["to"]
            else:
                v = s["from"] + (s["to"] - s["from"]) * (elapsed_s - start) / (end - start)
        elif kind == "sine":
            v = s["base"] + s["amplitude"] * math.sin(elapsed_s / parse_duration(s["period"]) * 2 * math.pi)
        else:  # series
            values = s["values"]
            i = int(elapsed_s // parse_duration(s["every"]))
            v = values[i] if i < len(values) else s.get("then", values[-1])
        return float(round(max(float(s.get("min", -math.inf)), float(v)), self.round))


@dataclass(frozen=True)
class Station:
    name: str
    name_ko: str
    lon: float
    lat: float
    streams: tuple[Stream, ...]
    transport: str = "http"  # http | mqtt
    properties: dict[str, Any] = field(default_factory=dict)  # Thing properties, e.g. gauge


@dataclass(frozen=True)
class Scenario:
    key: str
    name_ko: str
    name_en: str
    start: datetime
    step_s: float
    duration_s: float
    stations: tuple[Station, ...]

    @property
    def steps(self) -> int:
        return int(self.duration_s // self.step_s)


SHAPES = {"gauss", "daily", "ramp", "sine", "series"}


def names() -> list[str]:
    return sorted(p.stem for p in SCENARIOS.glob("*.toml"))


def load(name: str) -> Scenario:
    path = SCENARIOS / f"{name}.toml"
    if not path.is_file():
        raise ConfigError(f"no scenario {name!r}; the scenarios are: {', '.join(names())}", where="scenario")
    where = str(path)
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
        stations = []
        for i, st in enumerate(doc["station"]):
            streams = []
            for j, sd in enumerate(st["stream"]):
                shape = sd["signal"]
                if shape.get("shape") not in SHAPES:
                    raise ConfigError(
                        f"{where}: station[{i}].stream[{j}].signal.shape: one of {', '.join(sorted(SHAPES))}",
                        where=where,
                    )
                streams.append(
                    Stream(
                        sd["property"],
                        sd["unit_name"],
                        sd["unit_symbol"],
                        shape,
                        dict(sd.get("properties", {})),
                        int(sd.get("round", 2)),
                    )
                )
            stations.append(
                Station(
                    st["name"],
                    st["name_ko"],
                    float(st["lon"]),
                    float(st["lat"]),
                    tuple(streams),
                    st.get("transport", "http"),
                    dict(st.get("properties", {})),
                )
            )
        start = datetime.fromisoformat(doc["start"])
        return Scenario(
            name,
            doc["name_ko"],
            doc["name_en"],
            start,
            parse_duration(doc["step"]),
            parse_duration(doc["duration"]),
            tuple(stations),
        )
    except (KeyError, TypeError, ValueError, tomllib.TOMLDecodeError) as e:
        raise ConfigError(f"{where}: {type(e).__name__}: {e}", where=where) from None
