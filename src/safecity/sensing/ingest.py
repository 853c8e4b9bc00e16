# SPDX-License-Identifier: Apache-2.0
"""Observation ingest: the one path every observation takes (HTTP, Data Array, MQTT, bulk files).

Validate each row, compute its quality flags, write the batch in one transaction together with its
``ObservationAccepted`` outbox event, and answer per row. Parsing and quality control run outside the
store's write lock; only the insert runs inside it. A retried observation (same stream and
phenomenonTime, or the same client-supplied id) is stored once and answers its existing id.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import case, insert, literal, select, update
from sqlalchemy.engine import Connection

from safecity.bus import Bus
from safecity.core.clock import Clock
from safecity.core.errors import BadRequest, Forbidden, NotFound
from safecity.core.events import OBSERVATIONS_ACCEPTED
from safecity.core.timeutil import parse_instant, parse_time_or_interval, to_micros
from safecity.sensing import tables as t
from safecity.sensing.catalogue import Catalogue
from safecity.sensing.quality import QualityControl, StreamRules, flags_to_quality
from safecity.store import Store
from safecity.store.types import Timestamp

DATASTREAM, MULTI_DATASTREAM = "Datastream", "MultiDatastream"


@dataclass(frozen=True)
class StreamInfo:
    kind: str  # DATASTREAM | MULTI_DATASTREAM
    id: int
    thing_id: int
    n_results: int  # MultiDatastream: number of observed properties; Datastream: 1
    valid_range: tuple[float, float] | None
    zero_flatline_ok: bool
    rules: StreamRules | None  # quality-control tuning of the stream's observed property
    location_id: int | None  # the Thing's (first) Location, source of a generated FeatureOfInterest


@dataclass
class RowError:
    index: int
    message: str


@dataclass
class IngestResult:
    ids: list[int | None]  # per input row: the stored id, or None when the row was rejected
    created: int
    duplicates: int
    errors: list[RowError]


@dataclass
class ObservationIn:
    """One observation as received, before validation (values straight from JSON)."""

    stream_kind: str
    stream_id: Any
    phenomenon_time: Any = None
    result: Any = None
    has_result: bool = False
    result_time: Any = None
    valid_time: Any = None
    parameters: Any = None
    result_quality: Any = None
    foi_id: Any = None
    client_id: Any = None
    where: str = ""


class Ingest:
    def __init__(
        self, store: Store, bus: Bus, qc: QualityControl, catalogue: Catalogue, clock: Clock
    ) -> None:
        self.store = store
        self.bus = bus
        self.qc = qc
        self.catalogue = catalogue
        self.clock = clock
        self._streams: dict[tuple[str, int], StreamInfo] = {}
        self._fois: dict[int, int] = {}  # location id -> generated FeatureOfInterest id
        self._lock = threading.Lock()
        #: Called after each committed batch with (created count, duplicate count, error count).
        self.on_batch: Callable[[int, int, int], None] | None = None

    # cached stream facts ------------------------------------------------------------------------
    def invalidate(self) -> None:
        """Forget cached stream facts (after a Datastream, Thing or Location changed)."""
        with self._lock:
            self._streams.clear()
            self._fois.clear()

    def stream(self, conn: Connection, kind: str, stream_id: int) -> StreamInfo | None:
        key = (kind, stream_id)
        info = self._streams.get(key)
        if info is not None:
            return info
        if kind == DATASTREAM:
            row = conn.execute(
                select(
                    t.datastreams.c.thing_id,
                    t.observed_properties.c.definition,
                    t.observed_properties.c.name,
                    t.datastreams.c.unit_of_measurement,
                )
                .join(
                    t.observed_properties, t.observed_properties.c.id == t.datastreams.c.observed_property_id
                )
                .where(t.datastreams.c.id == stream_id)
            ).first()
            if row is None:
                return None
            unit = row.unit_of_measurement or {}
            spec = self.catalogue.match(
                row.definition, row.name, unit.get("symbol") if isinstance(unit, dict) else None
            )
            thing_id, n = row.thing_id, 1
            valid_range = (spec.valid_min, spec.valid_max) if spec else None
            zero_ok = bool(spec and spec.qc.flatline_ignores_zero)
            rules = StreamRules.from_spec(spec) if spec else None
        else:
            row = conn.execute(
                select(t.multi_datastreams.c.thing_id).where(t.multi_datastreams.c.id == stream_id)
            ).first()
            if row is None:
                return None
            thing_id = row.thing_id
            n = len(
                conn.execute(
                    select(t.multi_datastream_observed_properties.c.position).where(
                        t.multi_datastream_observed_properties.c.multi_datastream_id == stream_id
                    )
                ).all()
            )
            valid_range, zero_ok, rules = None, False, None
        loc = conn.execute(
            select(t.thing_locations.c.location_id)
            .where(t.thing_locations.c.thing_id == thing_id)
            .order_by(t.thing_locations.c.location_id)
            .limit(1)
        ).scalar()
        info = StreamInfo(kind, stream_id, thing_id, n, valid_range, zero_ok, rules, loc)
        with self._lock:
            self._streams[key] = info
        return info

    def _generated_foi(self, conn: Connection, location_id: int) -> int:
        foi = self._fois.get(location_id)
        if foi is not None:
            return foi
        found = conn.execute(
            select(t.features_of_interest.c.id).where(
                t.features_of_interest.c.source_location_id == location_id
            )
        ).scalar()
        if found is None:
            loc = conn.execute(select(t.locations).where(t.locations.c.id == location_id)).one()
            found = conn.execute(
                insert(t.features_of_interest)
                .values(
                    name=loc.name,
                    description=loc.description,
                    encoding_type=loc.encoding_type,
                    feature=loc.location,
                    geom=loc.geom,
                    source_location_id=location_id,
                )
                .returning(t.features_of_interest.c.id)
            ).scalar_one()
        self._fois[location_id] = int(found)
        return int(found)

    # the ingest path ------------------------------------------------------------------------------
    def ingest(
        self,
        items: Sequence[ObservationIn],
        *,
        device_thing: int | None = None,
        conn: Connection | None = None,
    ) -> IngestResult:
        """Validate, flag and store ``items``; rows that fail are reported, the others stored.

        ``device_thing`` restricts a device to the streams of its own Thing. With ``conn`` the rows are
        written in the caller's transaction (deep insert); otherwise in a transaction of their own.
        """
        now = self.clock.now()
        now_us = to_micros(now)
        errors: list[RowError] = []
        with self.store.engine.connect() as rconn:
            prepared = self._prepare(rconn, items, errors, device_thing, now)
        rows = [p[1] for p in prepared]
        flags = (
            self.qc.check_batch(
                [p[2].id for p in prepared],
                [to_micros(r[1]) for r in rows],
                [r[6] for r in rows],
                now_us,
                {p[2].id: p[2].valid_range for p in prepared},
                {p[2].id: p[2].zero_flatline_ok for p in prepared},
                rules={p[2].id: p[2].rules for p in prepared if p[2].rules is not None},
            )
            if prepared
            else []
        )
        final: list[tuple[Any, ...]] = []
        for (_, row, _info), f in zip(prepared, flags, strict=True):
            if f:
                quality = flags_to_quality(f)
                merged = row[8]
                if quality:
                    merged = orjson.dumps(_merge_quality(row[8], quality)).decode()
                row = (*row[:8], merged, f, *row[10:])
            final.append(row)
        ids: list[int | None] = [None] * len(items)
        created = dup = 0
        if final:
            if conn is not None:
                created, dup = self._write(conn, final, prepared, ids, now)
            else:
                with self.store.write() as wconn:
                    created, dup = self._write(wconn, final, prepared, ids, now)
                self.bus.notify()
        if self.on_batch:
            self.on_batch(created, dup, len(errors))
        return IngestResult(ids, created, dup, errors)

    def _resolve_fois(self, conn: Connection, rows: list[tuple[Any, ...]], prepared: list[Any]) -> None:
        for i, (row, (_, _, info)) in enumerate(zip(rows, prepared, strict=True)):
            if row[13] is None:
                assert info.location_id is not None
                rows[i] = (*row[:13], self._generated_foi(conn, info.location_id), *row[14:])

    def _write(
        self,
        conn: Connection,
        rows: list[tuple[Any, ...]],
        prepared: list[Any],
        ids: list[int | None],
        now: datetime,
    ) -> tuple[int, int]:
        self._resolve_fois(conn, rows, prepared)
        answers = self.store.insert_observations(conn, rows)
        packed: list[list[Any]] = []
        spans: dict[tuple[str, int], list[Any]] = {}
        created = 0
        for (index, _, info), row, (oid, is_new) in zip(prepared, rows, answers, strict=True):
            ids[index] = oid
            if not is_new:
                continue
            created += 1
            result = row[6] if row[6] is not None else (orjson.loads(row[7]) if row[7] is not None else None)
            t0 = to_micros(row[1])
            packed.append(
                [
                    oid,
                    row[11],
                    row[12],
                    row[13],
                    t0,
                    to_micros(row[2]) if row[2] else None,
                    to_micros(row[3]) if row[3] else None,
                    result,
                    row[9],
                ]
            )
            span = spans.get((info.kind, info.id))
            end = row[2] or row[1]
            if span is None:
                spans[(info.kind, info.id)] = [row[1], end, row[3], row[3], row[6], row[1], row[9]]
            else:
                span[0] = min(span[0], row[1])
                span[1] = max(span[1], end)
                if row[3] is not None:
                    span[2] = row[3] if span[2] is None else min(span[2], row[3])
                    span[3] = row[3] if span[3] is None else max(span[3], row[3])
                if row[1] >= span[5]:
                    span[4], span[5], span[6] = row[6], row[1], row[9]
        for (kind, sid), (p0, p1, r0, r1, last, _, last_flags) in spans.items():
            table = t.datastreams if kind == DATASTREAM else t.multi_datastreams
            c = table.c
            p0, p1 = literal(p0, Timestamp()), literal(p1, Timestamp())
            if r0 is not None:
                r0, r1 = literal(r0, Timestamp()), literal(r1, Timestamp())
            values: dict[str, Any] = {
                "phenomenon_time_start": case(
                    (c.phenomenon_time_start.is_(None) | (c.phenomenon_time_start > p0), p0),
                    else_=c.phenomenon_time_start,
                ),
                "phenomenon_time_end": case(
                    (c.phenomenon_time_end.is_(None) | (c.phenomenon_time_end < p1), p1),
                    else_=c.phenomenon_time_end,
                ),
                "last_received_at": now,
                "last_result": last,
                "last_qc_flags": last_flags,
            }
            if r0 is not None:
                values["result_time_start"] = case(
                    (c.result_time_start.is_(None) | (c.result_time_start > r0), r0),
                    else_=c.result_time_start,
                )
                values["result_time_end"] = case(
                    (c.result_time_end.is_(None) | (c.result_time_end < r1), r1), else_=c.result_time_end
                )
            conn.execute(update(table).where(c.id == sid).values(**values))
        if packed:
            self.bus.publish(conn, OBSERVATIONS_ACCEPTED, {"observations": packed})
        return created, len(rows) - created

    def _prepare(
        self,
        conn: Connection,
        items: Sequence[ObservationIn],
        errors: list[RowError],
        device_thing: int | None,
        now: datetime,
    ) -> list[tuple[int, tuple[Any, ...], StreamInfo]]:
        out: list[tuple[int, tuple[Any, ...], StreamInfo]] = []
        fois_checked: set[int] = set()
        for index, item in enumerate(items):
            try:
                info = self._check_stream(conn, item, device_thing)
                row = self._row(conn, item, info, now, fois_checked)
            except (BadRequest, NotFound, Forbidden) as e:
                errors.append(RowError(index, e.message))
                continue
            out.append((index, row, info))
        return out

    def _check_stream(self, conn: Connection, item: ObservationIn, device_thing: int | None) -> StreamInfo:
        sid = item.stream_id
        if not isinstance(sid, int) or isinstance(sid, bool):
            raise BadRequest(f"{item.where}{item.stream_kind}/@iot.id: expected an integer id, got {sid!r}")
        info = self.stream(conn, item.stream_kind, sid)
        if info is None:
            raise NotFound(f"{item.where}{item.stream_kind}: {item.stream_kind}({sid}) does not exist")
        if device_thing is not None and info.thing_id != device_thing:
            raise Forbidden(
                f"{item.where}{item.stream_kind}: {item.stream_kind}({sid}) belongs to Thing({info.thing_id}); "
                f"this device key is for Thing({device_thing})"
            )
        return info

    def _row(
        self, conn: Connection, item: ObservationIn, info: StreamInfo, now: datetime, fois_checked: set[int]
    ) -> tuple[Any, ...]:
        w = item.where
        if not item.has_result:
            raise BadRequest(f"{w}result: required")
        result = item.result
        number: float | None = None
        result_json: str | None = None
        if isinstance(result, bool) or result is None:
            result_json = orjson.dumps(result).decode()
        elif isinstance(result, (int, float)):
            if not math.isfinite(result):
                raise BadRequest(f"{w}result: {result} is not a finite number")
            number = float(result)
        elif isinstance(result, str) and result in ("NaN", "Infinity", "-Infinity", "nan", "inf", "-inf"):
            raise BadRequest(f"{w}result: '{result}' is not a finite number")
        else:
            result_json = orjson.dumps(result).decode()
        if info.kind == MULTI_DATASTREAM:
            if not isinstance(result, list) or len(result) != info.n_results:
                raise BadRequest(
                    f"{w}result: a MultiDatastream with {info.n_results} ObservedProperties needs an array of "
                    f"{info.n_results} values"
                )
            for k, v in enumerate(result):
                if isinstance(v, float) and not math.isfinite(v):
                    raise BadRequest(f"{w}result[{k}]: not a finite number")
        if item.phenomenon_time is None:
            start, end = now, None
        else:
            start, end = parse_time_or_interval(item.phenomenon_time, f"{w}phenomenonTime")
        result_time = (
            parse_instant(item.result_time, f"{w}resultTime") if item.result_time is not None else None
        )
        v0 = v1 = None
        if item.valid_time is not None:
            v0, v1 = parse_time_or_interval(item.valid_time, f"{w}validTime")
        params = None
        if item.parameters is not None:
            if not isinstance(item.parameters, dict):
                raise BadRequest(f"{w}parameters: expected a JSON object")
            params = orjson.dumps(item.parameters).decode()
        quality = None
        if item.result_quality is not None:
            quality = orjson.dumps(item.result_quality).decode()
        foi = item.foi_id
        if foi is not None:
            if not isinstance(foi, int) or isinstance(foi, bool):
                raise BadRequest(f"{w}FeatureOfInterest/@iot.id: expected an integer id, got {foi!r}")
            if foi not in fois_checked:
                if (
                    conn.execute(
                        select(t.features_of_interest.c.id).where(t.features_of_interest.c.id == foi)
                    ).first()
                    is None
                ):
                    raise NotFound(f"{w}FeatureOfInterest: FeatureOfInterest({foi}) does not exist")
                fois_checked.add(foi)
        elif info.location_id is None:
            raise BadRequest(
                f"{w}FeatureOfInterest: required, because the {info.kind}'s Thing has no Location to derive it from"
            )
        client_id = item.client_id
        if client_id is not None and (
            not isinstance(client_id, int) or isinstance(client_id, bool) or client_id <= 0
        ):
            raise BadRequest(f"{w}@iot.id: a client-supplied id must be a positive integer")
        return (
            client_id,
            start,
            end,
            result_time,
            v0,
            v1,
            number,
            result_json,
            quality,
            0,
            params,
            info.id if info.kind == DATASTREAM else None,
            info.id if info.kind == MULTI_DATASTREAM else None,
            foi,
            now,
        )


def _merge_quality(existing: str | None, flags: list[str]) -> Any:
    """resultQuality keeps what the sensor sent and adds our flags under ``safecity:qc``."""
    if existing is None:
        return flags
    value = orjson.loads(existing)
    if isinstance(value, dict):
        return {**value, "safecity:qc": flags}
    return {"sensor": value, "safecity:qc": flags}
