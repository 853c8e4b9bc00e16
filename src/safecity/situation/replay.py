# SPDX-License-Identifier: Apache-2.0
"""Replaying recorded observations through rules on a simulated clock (``safecity rules test``).

How an operator checks a rule change against a past event before deploying it: the same engine as in
production, fed the file in time order, the clock moved along the data (and on past its end, so that
conditions can clear), and every level change printed with the time it happened on the data's own
timeline.

The file is CSV or Parquet with ``phenomenonTime`` (or ``time``) and ``result`` (or ``value``), and
either ``datastream`` (ids in the configured store, whose directory tells what each stream is) or
``property`` and ``thing`` (catalogue key and a station name; optional ``lon``, ``lat``, ``district``,
``thing_properties`` as JSON, ``allowable`` and other numbers a rule may read via ``of``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from safecity.core.errors import BadRequest
from safecity.core.timeutil import parse_instant
from safecity.sensing.directory import StreamInfo
from safecity.sensing.events import ObservationAccepted
from safecity.sensing.importer import parse_value, read_rows
from safecity.situation.engine import Engine
from safecity.situation.model import ConditionChange
from safecity.situation.rules import LoadedRule

TIME = ("phenomenontime", "time", "timestamp")
VALUE = ("result", "value")
MAX_ERRORS = 20


@dataclass
class ReplayResult:
    changes: list[ConditionChange] = field(default_factory=list)
    observations: int = 0
    streams: int = 0
    first: datetime | None = None
    last: datetime | None = None
    names: dict[int, str] = field(default_factory=dict)  # datastream id -> "thing / property"


def _find(cols: dict[str, int], names: Sequence[str]) -> int | None:
    for n in names:
        if n in cols:
            return cols[n]
    return None


def read_observations(
    path: Path, directory: Callable[[], list[StreamInfo]] | None
) -> tuple[list[StreamInfo], list[tuple[float, int, float, int]]]:
    """Stream descriptions and (time, stream, value, line) rows, sorted by time; every bad row is
    reported by its line number (up to MAX_ERRORS of them) and nothing is replayed."""
    header, rows, _ = read_rows(path)
    try:
        return _read(path, header, rows, directory)
    finally:
        # a CSV's handle is closed by its row generator: finish it even when the header was refused
        _discard(rows)


def _discard(rows: Any) -> None:
    """Finish a row generator (starting it if needed, so its ``with open(...)`` runs and closes)."""
    next(rows, None)
    rows.close()


def _read(
    path: Path, header: list[str], rows: Any, directory: Callable[[], list[StreamInfo]] | None
) -> tuple[list[StreamInfo], list[tuple[float, int, float, int]]]:
    cols = {h.strip().lower(): i for i, h in enumerate(header)}
    ti, vi = _find(cols, TIME), _find(cols, VALUE)
    if ti is None or vi is None:
        raise BadRequest(
            f"{path}: needs columns phenomenonTime (or time) and result (or value); found {', '.join(header)}",
            where=str(path),
        )
    by_id = "datastream" in cols
    if not by_id and not ("property" in cols and "thing" in cols):
        raise BadRequest(
            f"{path}: name the stream of each row, with a datastream column (ids in the store) or with "
            "property and thing columns",
            where=str(path),
        )
    infos: dict[Any, StreamInfo] = {}
    known: dict[int, StreamInfo] = {}
    if by_id:
        if directory is None:
            raise BadRequest(f"{path}: datastream ids need a store to look them up in", where=str(path))
        known = {i.datastream_id: i for i in directory()}
    errors: list[str] = []
    out: list[tuple[float, int, float, int]] = []
    extra = [
        c
        for c in cols
        if c
        not in (
            *TIME,
            *VALUE,
            "datastream",
            "property",
            "thing",
            "lon",
            "lat",
            "district",
            "thing_properties",
            "qc_flags",
        )
    ]
    width = len(header)
    for line, values in rows:
        if len(errors) >= MAX_ERRORS:
            break
        if len(values) < width:
            errors.append(f"line {line}: {len(values)} fields where the header has {width}")
            continue
        try:
            when = values[ti].isoformat() if isinstance(values[ti], datetime) else values[ti]  # Parquet
            t = parse_instant(when, f"line {line}: phenomenonTime").timestamp()
        except BadRequest as e:
            errors.append(e.message)
            continue
        v = parse_value(values[vi])
        if not isinstance(v, int | float) or isinstance(v, bool):
            errors.append(f"line {line}: result {values[vi]!r} is not a number")
            continue
        if by_id:
            raw = parse_value(values[cols["datastream"]])
            if not isinstance(raw, int) or raw not in known:
                errors.append(f"line {line}: datastream {values[cols['datastream']]!r} is not in the store")
                continue
            infos[raw] = known[raw]
            out.append((t, raw, float(v), line))
            continue
        prop = str(values[cols["property"]]).strip()
        thing = str(values[cols["thing"]]).strip()
        key = (thing, prop)
        info = infos.get(key)
        if info is None:
            try:
                info = _info(len(infos) + 1, thing, prop, values, cols, extra, line)
            except BadRequest as e:
                errors.append(e.message)
                continue
            infos[key] = info
        out.append((t, info.datastream_id, float(v), line))
    if errors:
        raise BadRequest(f"{path}: " + "; ".join(errors), where=str(path), details=errors)
    out.sort(key=lambda r: (r[0], r[3]))
    return list(infos.values()), out


def _info(
    ds: int, thing: str, prop: str, values: list[Any], cols: dict[str, int], extra: list[str], line: int
) -> StreamInfo:
    def num(name: str) -> float | None:
        if name not in cols or values[cols[name]] in ("", None):
            return None
        v = parse_value(values[cols[name]])
        if not isinstance(v, int | float) or isinstance(v, bool):
            raise BadRequest(f"line {line}: {name} {values[cols[name]]!r} is not a number")
        return float(v)

    tprops: dict[str, Any] = {}
    if "thing_properties" in cols and values[cols["thing_properties"]] not in ("", None):
        try:
            tprops = orjson.loads(values[cols["thing_properties"]])
        except orjson.JSONDecodeError as e:
            raise BadRequest(f"line {line}: thing_properties is not JSON ({e})") from None
        if not isinstance(tprops, dict):
            raise BadRequest(f"line {line}: thing_properties must be a JSON object")
    if "district" in cols and values[cols["district"]] not in ("", None):
        tprops["_district"] = str(values[cols["district"]]).strip()
    props = {name: v for name in extra if (v := num(name)) is not None}
    return StreamInfo(
        datastream_id=ds,
        name=f"{thing} / {prop}",
        property=prop,
        thing_id=abs(hash(thing)) % 10**9 + 1,
        thing_name=thing,
        thing_properties=tprops,
        properties=props,
        lon=num("lon"),
        lat=num("lat"),
    )


def replay(
    rules: Sequence[LoadedRule],
    infos: list[StreamInfo],
    rows: list[tuple[float, int, float, int]],
    *,
    tick_s: float = 60.0,
    tail_s: float = 0.0,
    locate: Callable[[float, float], tuple[str | None, str | None]] | None = None,
) -> ReplayResult:
    """Feed rows in time order; the clock ticks every ``tick_s`` of data time and runs on for ``tail_s``
    past the last row."""
    from datetime import UTC

    by_id = {i.datastream_id: i for i in infos}
    # a district given in the file wins over a lookup by location
    given = {
        i.datastream_id: (str(i.thing_properties["_district"]), None)
        for i in infos
        if i.thing_properties.get("_district")
    }
    engine = Engine(locate=locate)
    result = ReplayResult(names={i.datastream_id: i.name for i in infos}, streams=len(infos))
    result.changes.extend(engine.plan(rules, infos, areas=given))
    if not rows:
        return result
    next_tick = rows[0][0] + tick_s
    batch: list[ObservationAccepted] = []
    current = rows[0][0]
    for n, (t, sid, v, line) in enumerate(rows, start=1):
        if t != current:
            result.changes.extend(engine.process(batch))
            batch = []
            while next_tick < t:
                result.changes.extend(engine.tick(datetime.fromtimestamp(next_tick, UTC)))
                next_tick += tick_s
            current = t
        if sid in by_id:
            when = datetime.fromtimestamp(t, UTC)
            batch.append(ObservationAccepted(line, sid, None, 0, when, None, None, v, 0))
        result.observations = n
    result.changes.extend(engine.process(batch))
    end = rows[-1][0] + tail_s
    while next_tick <= end:
        result.changes.extend(engine.tick(datetime.fromtimestamp(next_tick, UTC)))
        next_tick += tick_s
    result.first = datetime.fromtimestamp(rows[0][0], UTC)
    result.last = datetime.fromtimestamp(rows[-1][0], UTC)
    return result


KST = timedelta(hours=9)


def format_change(c: ConditionChange, names: dict[int, str]) -> str:
    when = (c.at + KST).strftime("%Y-%m-%d %H:%M:%S") + " KST"
    verb = (
        "FIRED  "
        if c.level > c.previous and c.previous == 0
        else ("RAISED " if c.level > c.previous else ("CLEARED" if c.level == 0 else "LOWERED"))
    )
    stage = f"{c.stage_ko} / {c.stage_en}" if c.stage_ko else "-"
    who = ", ".join(names.get(i, f"ds:{i}") for i in c.datastream_ids) or c.subject
    value = f"{c.signal} = {c.value:g}" if c.value is not None else c.signal
    level = f"{c.previous.name_ko}→{c.level.name_ko} ({c.previous.name}→{c.level.name})"
    late = " [late data]" if c.late else ""
    return f"{when}  {verb}  {c.rule_id:<28} {level:<34} {stage:<40} {who}  {value}{late}"
