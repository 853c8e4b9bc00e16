# SPDX-License-Identifier: Apache-2.0
"""Demo scenarios as data (``demo/scenarios/<name>.toml``): what every sensor of the demo network reads
over the scenario's simulated time.

A value is a pure function of the time since the scenario's start, so a scenario replays identically at
any speed. A scenario file has:

* ``[parameters]``: named values a user can change on the command line (``--set magnitude=5.8``); any
  string ``"$name"`` in the file's fields and signals is replaced by the parameter.
* ``[[field]]``: spatial fields that set whole kinds of sensors (:mod:`safecity.demo.fields`): a
  ``storm`` cell for the rain gauges, ``heat`` for the environmental stations, a ``river`` hydrograph for
  the water-level gauges, an ``earthquake`` for the accelerometers.
* ``[[override]]``: one sensor's stream (``sensor`` = a sensor code or a facility code of the facts,
  ``property``) follows its own ``signal``, e.g. the building that collapses.
* ``[[station]]`` (optional): extra stations with their own streams and signals.

Every sensor and stream no field or override drives reads its quiet default (no rain, a seasonal daily
temperature cycle, PM noise, structures at rest): :func:`safecity.demo.fields.quiet`.

Signal shapes: ``gauss`` (a peak: base, peak, at, width), ``daily`` (a day's cycle in local time: low,
high, peak_hour, rise_per_day), ``ramp`` (from, to between start and end, optionally a jump to a value at
a time: a collapse), ``sine`` (base, amplitude, period) and ``series`` (listed values, one per ``every``).
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from safecity.core.errors import ConfigError
from safecity.situation.rules import parse_duration

if TYPE_CHECKING:
    from safecity.demo.network import Network

SCENARIOS = Path(__file__).with_name("scenarios")
KST = timezone(timedelta(hours=9))
_PARAM = re.compile(r"^\$([a-z_][a-z0-9_]*)$")


class Source(Protocol):
    """Where a network stream's values come from (a field or a quiet default)."""

    def sample(self, stream: Stream, elapsed_s: float, when: datetime) -> float: ...


def shape_value(s: Mapping[str, Any], elapsed_s: float, when: datetime) -> float:
    """The value of a signal shape (see the module docstring) at ``elapsed_s`` after the start."""
    kind = s["shape"]
    if kind == "gauss":
        at, width = parse_duration(s["at"]), parse_duration(s["width"])
        base = float(s.get("base", 0.0))
        v = base + (float(s["peak"]) - base) * math.exp(-(((elapsed_s - at) / width) ** 2))
    elif kind == "daily":
        local = when.astimezone(KST)
        hour = local.hour + local.minute / 60
        phase = math.cos((hour - float(s["peak_hour"])) / 24 * 2 * math.pi)
        rise = float(s.get("rise_per_day", 0.0)) * elapsed_s / 86400
        low, high = float(s["low"]), float(s["high"])
        v = (low + high) / 2 + rise + (high - low) / 2 * phase
    elif kind == "ramp":
        start, end = parse_duration(s.get("start", "0s")), parse_duration(s["end"])
        if "jump_at" in s and elapsed_s >= parse_duration(s["jump_at"]):
            v = float(s["jump_to"])
        elif elapsed_s <= start:
            v = float(s["from"])
        elif elapsed_s >= end:
            v = float(s["to"])
        else:
            v = float(s["from"]) + (float(s["to"]) - float(s["from"])) * (elapsed_s - start) / (end - start)
    elif kind == "sine":
        v = float(s["base"]) + float(s["amplitude"]) * math.sin(
            elapsed_s / parse_duration(s["period"]) * 2 * math.pi
        )
    else:  # series
        values = s["values"]
        i = int(elapsed_s // parse_duration(s["every"]))
        v = float(values[i] if 0 <= i < len(values) else s.get("then", values[-1] if i >= 0 else 0.0))
    return max(float(s.get("min", -math.inf)), v)


@dataclass(frozen=True)
class Stream:
    prop: str  # catalogue key
    unit_name: str
    unit_symbol: str
    shape: dict[str, Any]
    properties: dict[str, Any] = field(default_factory=dict)  # e.g. allowable
    round: int = 2
    source: Source | None = None  # a network stream's field or quiet default (then shape is unused)
    at: tuple[float, float] = (0.0, 0.0)  # the sensor's lon, lat (for fields)
    key: str = ""  # the sensor code (seeds its noise)

    def value(self, elapsed_s: float, when: datetime) -> float:
        if self.source is not None:
            v = self.source.sample(self, elapsed_s, when)
        else:
            v = shape_value(self.shape, elapsed_s, when)
        return float(round(v, self.round))


@dataclass(frozen=True)
class Station:
    name: str
    name_ko: str
    lon: float
    lat: float
    streams: tuple[Stream, ...]
    transport: str = "http"  # http | mqtt
    properties: dict[str, Any] = field(default_factory=dict)  # Thing properties, e.g. gauge
    kind: str = "station"  # the network sensor kind, or "station" for a scenario's own


@dataclass(frozen=True)
class Override:
    sensor: str  # sensor code ("facility-building-sewoon") or facility code ("building-sewoon")
    prop: str
    signal: dict[str, Any]


@dataclass(frozen=True)
class Scenario:
    key: str
    name_ko: str
    name_en: str
    start: datetime
    step_s: float
    duration_s: float
    stations: tuple[Station, ...]
    fields: tuple[dict[str, Any], ...] = ()
    overrides: tuple[Override, ...] = ()
    parameters: dict[str, Any] = field(default_factory=dict)

    @property
    def steps(self) -> int:
        return int(self.duration_s // self.step_s)

    def feed(self, network: Network) -> tuple[Station, ...]:
        """Every station that reports in this scenario: the whole demo network (each stream driven by a
        field, an override or its quiet default), then the scenario's own stations."""
        from safecity.demo.fields import network_stations

        return (*network_stations(self, network), *self.stations)


SHAPES = {"gauss", "daily", "ramp", "sine", "series"}
FIELD_KINDS = {"storm", "heat", "river", "earthquake"}


def names() -> list[str]:
    return sorted(p.stem for p in SCENARIOS.glob("*.toml"))


def parse_set(items: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """``["magnitude=5.8", "epicentre=127.05,37.45"]`` → ``{"magnitude": 5.8, "epicentre": [127.05, 37.45]}``.
    A value is a number, a comma-separated list of numbers, or text. Raises :class:`ConfigError` naming the
    item when it has no ``=``."""
    out: dict[str, Any] = {}
    for item in items:
        name, sep, raw = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise ConfigError(f"--set {item!r}: write NAME=VALUE, e.g. --set magnitude=5.8", where="set")
        parts = [p.strip() for p in raw.split(",")]
        try:
            nums = [float(p) for p in parts]
            out[name] = nums if len(nums) > 1 else nums[0]
        except ValueError:
            out[name] = raw.strip()
    return out


def _substitute(value: Any, params: Mapping[str, Any], where: str) -> Any:
    if isinstance(value, str):
        m = _PARAM.match(value)
        if m is None:
            return value
        if m.group(1) not in params:
            raise ConfigError(f"{where}: {value} is not in [parameters]", where=where)
        return params[m.group(1)]
    if isinstance(value, dict):
        return {k: _substitute(v, params, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, params, f"{where}[{i}]") for i, v in enumerate(value)]
    return value


def _check_shape(shape: Any, where: str) -> dict[str, Any]:
    if not isinstance(shape, dict) or shape.get("shape") not in SHAPES:
        raise ConfigError(f"{where}.shape: one of {', '.join(sorted(SHAPES))}", where=where)
    return shape


def load(name: str, overrides: Mapping[str, Any] | None = None) -> Scenario:
    """Read ``scenarios/<name>.toml``; ``overrides`` replace entries of its ``[parameters]``.

    Raises :class:`ConfigError` naming the file and entry for a bad file, and naming the parameter (with
    the ones that exist) for an override the scenario does not have.
    """
    path = SCENARIOS / f"{name}.toml"
    if not path.is_file():
        raise ConfigError(f"no scenario {name!r}; the scenarios are: {', '.join(names())}", where="scenario")
    where = str(path)
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
        params = dict(doc.get("parameters", {}))
        for key, value in (overrides or {}).items():
            if key not in params:
                known = ", ".join(sorted(params)) or "none"
                raise ConfigError(
                    f"--set {key}: scenario {name!r} has no parameter {key!r} (its parameters: {known})",
                    where="set",
                )
            if isinstance(params[key], list) and not isinstance(value, list):
                raise ConfigError(
                    f"--set {key}: give {len(params[key])} comma-separated numbers", where="set"
                )
            params[key] = value
        doc = _substitute({k: v for k, v in doc.items() if k != "parameters"}, params, "")
        stations = []
        for i, st in enumerate(doc.get("station", [])):
            streams = []
            for j, sd in enumerate(st["stream"]):
                shape = _check_shape(sd["signal"], f"{where}: station[{i}].stream[{j}].signal")
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
        fields = []
        for i, fd in enumerate(doc.get("field", [])):
            if fd.get("kind") not in FIELD_KINDS:
                raise ConfigError(
                    f"{where}: field[{i}].kind: one of {', '.join(sorted(FIELD_KINDS))}", where=where
                )
            for key in ("signal", "humidity"):
                if key in fd:
                    _check_shape(fd[key], f"{where}: field[{i}].{key}")
            fields.append(dict(fd))
        overrides_ = tuple(
            Override(
                str(o["sensor"]),
                str(o["property"]),
                _check_shape(o["signal"], f"{where}: override[{i}].signal"),
            )
            for i, o in enumerate(doc.get("override", []))
        )
        sc = Scenario(
            name,
            doc["name_ko"],
            doc["name_en"],
            datetime.fromisoformat(doc["start"]),
            parse_duration(doc["step"]),
            parse_duration(doc["duration"]),
            tuple(stations),
            tuple(fields),
            overrides_,
            params,
        )
    except (KeyError, TypeError, ValueError, tomllib.TOMLDecodeError) as e:
        raise ConfigError(f"{where}: {type(e).__name__}: {e}", where=where) from None
    from safecity.demo.fields import check_fields

    check_fields(sc)
    return sc
