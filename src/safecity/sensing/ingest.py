# SPDX-License-Identifier: Apache-2.0
"""Observation ingest: the one path every observation takes (HTTP, Data Array, MQTT, bulk files).

Validate each row, compute its quality flags, write the batch in one transaction together with its
``ObservationAccepted`` outbox event, and answer per row. Parsing and quality control run outside the
store's write lock; only the insert runs inside it. A retried observation (same stream and
phenomenonTime, or the same client-supplied id) is stored once and answers its existing id.

This is the platform's hot path (the target is 100,000 observations/s over HTTP on two cores), so rows
are plain lists in :data:`safecity.store.port.OBSERVATION_COLUMNS` order with times as integer
microseconds, and the common Data Array shape (phenomenonTime, result) has a loop of its own.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import insert, select
from sqlalchemy.engine import Connection

from safecity.bus import Bus
from safecity.core.clock import Clock
from safecity.core.errors import BadRequest, Forbidden, NotFound, is_id
from safecity.core.text import NUL_REFUSED, nul_path
from safecity.core.timeutil import parse_instant, parse_time_or_interval, to_micros
from safecity.sensing import tables as t
from safecity.sensing.catalogue import Catalogue
from safecity.sensing.events import EntityChanged, ObservationsAccepted
from safecity.sensing.quality import QualityControl, StreamRules, flags_to_quality
from safecity.store import Store

DATASTREAM, MULTI_DATASTREAM = "Datastream", "MultiDatastream"
_INF = math.inf
_fromiso = datetime.fromisoformat
# Times must be representable in UTC (years 1 to 9999), as the slower parser checks.
_MIN_US = to_micros(datetime(1, 1, 1, tzinfo=UTC))
_MAX_US = to_micros(datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC))
# Row positions (see OBSERVATION_COLUMNS).
_ID, _T, _TE, _RT, _VS, _VE, _NUM, _JSON, _QUAL, _FLAGS, _PARAMS, _DS, _MDS, _FOI, _RECV = range(15)


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

    @property
    def qc_key(self) -> int:
        # Datastream and MultiDatastream ids are separate sequences; keep their QC state apart.
        return self.id if self.kind == DATASTREAM else -self.id


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

    @classmethod
    def from_json(
        cls, body: dict[str, Any], kind: str, stream_id: Any, foi_id: Any, where: str = ""
    ) -> ObservationIn:
        """An Observation's JSON (HTTP POST or MQTT publish) once its stream and feature are known."""
        return cls(
            stream_kind=kind,
            stream_id=stream_id,
            phenomenon_time=body.get("phenomenonTime"),
            result=body.get("result"),
            has_result="result" in body,
            result_time=body.get("resultTime"),
            valid_time=body.get("validTime"),
            parameters=body.get("parameters"),
            result_quality=body.get("resultQuality"),
            foi_id=foi_id,
            client_id=body.get("@iot.id"),
            where=where,
        )


@dataclass
class DataArrayGroup:
    """One element of a CreateObservations request: a stream, its components and its rows."""

    stream_kind: str
    stream_id: Any
    components: list[str]
    rows: list[Any]
    where: str


@dataclass
class _Batch:
    """Validated rows waiting to be flagged and written."""

    index: list[int] = field(default_factory=list)  # position in the request's answer
    rows: list[list[Any]] = field(default_factory=list)
    infos: list[StreamInfo] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)


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
        rules: StreamRules | None = None
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
            unit = row.unit_of_measurement if isinstance(row.unit_of_measurement, dict) else {}
            spec = self.catalogue.match(row.definition, row.name, unit.get("symbol"))
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
            valid_range, zero_ok = None, False
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
            self.bus.publish(
                conn, EntityChanged(entity="FeatureOfInterest", entity_id=int(found), action="created")
            )
        return int(found)

    # entry points ---------------------------------------------------------------------------------
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
        now_us = to_micros(self.clock.now())
        batch = _Batch()
        with self.store.engine.connect() as rconn:
            fois_checked: set[int] = set()
            for index, item in enumerate(items):
                try:
                    info = self._check_stream(
                        rconn, item.stream_kind, item.stream_id, item.where, device_thing
                    )
                    row = self._row(rconn, item, info, now_us, fois_checked)
                except (BadRequest, NotFound, Forbidden) as e:
                    batch.errors.append(RowError(index, e.message))
                    continue
                batch.index.append(index)
                batch.rows.append(row)
                batch.infos.append(info)
        return self._finish(batch, len(items), now_us, conn)

    def ingest_data_array(
        self, groups: Sequence[DataArrayGroup], *, device_thing: int | None = None
    ) -> tuple[IngestResult, list[int | str]]:
        """The Data Array extension: returns the result and, per answer position, the item index or
        the error message of a row that could not even be read."""
        now_us = to_micros(self.clock.now())
        batch = _Batch()
        slots: list[int | str] = []
        n_items = 0
        with self.store.engine.connect() as rconn:
            fois_checked: set[int] = set()
            for g in groups:
                try:
                    info = self._check_stream(rconn, g.stream_kind, g.stream_id, g.where + "/", device_thing)
                except (BadRequest, NotFound, Forbidden) as e:
                    for _ in g.rows:
                        batch.errors.append(RowError(n_items, e.message))
                        slots.append(n_items)
                        n_items += 1
                    continue
                comps = g.components
                if info.kind == DATASTREAM and len(comps) == 2 and set(comps) == {"phenomenonTime", "result"}:
                    n_items = self._fast_rows(
                        info, g, comps.index("phenomenonTime"), batch, slots, n_items, now_us
                    )
                    continue
                index = {c: i for i, c in enumerate(comps)}
                width = len(comps)
                for r, values in enumerate(g.rows):
                    rw = f"{g.where}/dataArray[{r}]/"
                    if not isinstance(values, list) or len(values) != width:
                        slots.append(f"{rw[:-1]}: expected an array of {width} values matching components")
                        continue

                    def get(name: str, values: list[Any] = values, index: dict[str, int] = index) -> Any:
                        i = index.get(name)
                        return values[i] if i is not None else None

                    item = ObservationIn(
                        info.kind,
                        info.id,
                        get("phenomenonTime"),
                        get("result"),
                        True,
                        get("resultTime"),
                        get("validTime"),
                        get("parameters"),
                        get("resultQuality"),
                        get("FeatureOfInterest/id"),
                        None,
                        rw,
                    )
                    try:
                        row = self._row(rconn, item, info, now_us, fois_checked)
                    except (BadRequest, NotFound) as e:
                        batch.errors.append(RowError(n_items, e.message))
                    else:
                        batch.index.append(n_items)
                        batch.rows.append(row)
                        batch.infos.append(info)
                    slots.append(n_items)
                    n_items += 1
        return self._finish(batch, n_items, now_us, None), slots

    def _fast_rows(
        self,
        info: StreamInfo,
        g: DataArrayGroup,
        ti: int,
        batch: _Batch,
        slots: list[int | str],
        n: int,
        now_us: int,
    ) -> int:
        """The common Data Array shape, [phenomenonTime, result] rows of one Datastream."""
        ri = 1 - ti
        loc = info.location_id
        foi = self._fois.get(loc) if loc is not None else None
        rows, index, infos, errors = batch.rows, batch.index, batch.infos, batch.errors
        for r, values in enumerate(g.rows):
            if type(values) is not list or len(values) != 2:
                slots.append(f"{g.where}/dataArray[{r}]: expected an array of 2 values matching components")
                continue
            slots.append(n)
            n += 1
            if loc is None:
                errors.append(
                    RowError(
                        n - 1,
                        f"{g.where}/FeatureOfInterest: required, because the Datastream's Thing has no Location",
                    )
                )
                continue
            when, result = values[ti], values[ri]
            end_us = None
            try:  # an instant with an offset, by far the most common: parsed in one C call
                if type(when) is not str or "/" in when:
                    raise ValueError
                dt = _fromiso(when)
                if dt.tzinfo is None:
                    raise ValueError
                t_us = to_micros(dt)
                if not _MIN_US <= t_us <= _MAX_US:
                    raise ValueError  # the slow path names the problem
            except (ValueError, OverflowError):
                try:
                    start, end = parse_time_or_interval(when, f"{g.where}/dataArray[{r}]/phenomenonTime")
                except BadRequest as e:
                    errors.append(RowError(n - 1, e.message))
                    continue
                t_us, end_us = to_micros(start), (to_micros(end) if end else None)
            tr = type(result)
            if tr is float and result - result == 0.0:  # finite (inf - inf and nan - nan are nan)
                number, rjson = result, None
            elif tr is int:
                number, rjson = float(result), None
            else:
                try:
                    number, rjson = _result(result, f"{g.where}/dataArray[{r}]/")
                except BadRequest as e:
                    errors.append(RowError(n - 1, e.message))
                    continue
            rows.append([None, t_us, end_us, None, None, None, number, rjson, None, 0, None, info.id, None, foi, now_us])  # fmt: skip
            index.append(n - 1)
            infos.append(info)
        return n

    # the common second half -------------------------------------------------------------------------
    def _finish(self, batch: _Batch, n_items: int, now_us: int, conn: Connection | None) -> IngestResult:
        rows, infos = batch.rows, batch.infos
        if rows:
            # Rows of a stream share one cached StreamInfo: dedupe by identity (hashing the frozen
            # dataclass per row cost more than the quality checks).
            streams = {i.qc_key: i for i in {id(i): i for i in infos}.values()}
            flags = self.qc.check_batch(
                [i.qc_key for i in infos],
                [r[_T] for r in rows],
                [r[_NUM] for r in rows],
                now_us,
                {k: i.valid_range for k, i in streams.items()},
                {k: i.zero_flatline_ok for k, i in streams.items()},
                rules={k: i.rules for k, i in streams.items() if i.rules is not None},
            )
            plain: dict[int, str] = {}  # flags -> resultQuality JSON, for rows that sent none
            for row, f in zip(rows, flags, strict=True):
                if f:
                    row[_FLAGS] = f
                    if row[_QUAL] is None:
                        text = plain.get(f)
                        if text is None:
                            text = plain[f] = orjson.dumps(flags_to_quality(f)).decode()
                        row[_QUAL] = text
                    else:
                        row[_QUAL] = orjson.dumps(
                            _merge_quality(row[_QUAL], flags_to_quality(f) or [])
                        ).decode()
        ids: list[int | None] = [None] * n_items
        created = dup = 0
        if rows:
            if conn is not None:
                created = self._write(conn, batch, ids, now_us)
            else:
                with self.store.write() as wconn:
                    created = self._write(wconn, batch, ids, now_us)
                self.bus.notify()
            dup = len(rows) - created
        if self.on_batch:
            self.on_batch(created, dup, len(batch.errors))
        return IngestResult(ids, created, dup, batch.errors)

    def _write(self, conn: Connection, batch: _Batch, ids: list[int | None], now_us: int) -> int:
        rows, infos = batch.rows, batch.infos
        # Observations without a FeatureOfInterest get the one generated from their Thing's Location.
        missing: dict[int, int] = {}
        for row, info in zip(rows, infos, strict=True):
            if row[_FOI] is None:
                loc = info.location_id
                assert loc is not None  # rows without either were rejected
                foi = missing.get(loc)
                if foi is None:
                    foi = missing[loc] = self._generated_foi(conn, loc)
                row[_FOI] = foi
        answers = self.store.insert_observations(conn, rows)
        created: list[int] = []
        spans: dict[tuple[str, int], list[Any]] = {}
        for index, row, info, (oid, is_new) in zip(batch.index, rows, infos, answers, strict=True):
            ids[index] = oid
            if not is_new:
                continue
            created.append(oid)
            t0 = row[_T]
            end = row[_TE] or t0
            key = (info.kind, info.id)
            span = spans.get(key)
            if span is None:
                spans[key] = [t0, end, row[_RT], row[_RT], row[_NUM], end, row[_FLAGS]]
                continue
            if t0 < span[0]:
                span[0] = t0
            if end > span[1]:
                span[1] = end
            rt = row[_RT]
            if rt is not None:
                span[2] = rt if span[2] is None else min(span[2], rt)
                span[3] = rt if span[3] is None else max(span[3], rt)
            if end >= span[5]:
                span[4], span[5], span[6] = row[_NUM], end, row[_FLAGS]
        for kind in (DATASTREAM, MULTI_DATASTREAM):
            touched = [(sid, *span, now_us) for (k, sid), span in spans.items() if k == kind]
            if touched:
                self.store.touch_streams(
                    conn, "sta_datastreams" if kind == DATASTREAM else "sta_multi_datastreams", touched
                )
        if created:
            self.bus.publish(conn, _accepted(rows, answers))
        # Generated features are cached only now: if this transaction rolls back they never existed.
        self._fois.update(missing)
        return len(created)

    # validation -------------------------------------------------------------------------------------
    def _check_stream(
        self, conn: Connection, kind: str, sid: Any, where: str, device_thing: int | None
    ) -> StreamInfo:
        if not is_id(sid):
            raise BadRequest(f"{where}{kind}/@iot.id: expected an integer id, got {sid!r}")
        info = self.stream(conn, kind, sid)
        if info is None:
            raise NotFound(f"{where}{kind}: {kind}({sid}) does not exist")
        if device_thing is not None and info.thing_id != device_thing:
            raise Forbidden(
                f"{where}{kind}: {kind}({sid}) belongs to Thing({info.thing_id}); "
                f"this device key is for Thing({device_thing})"
            )
        return info

    def _row(
        self, conn: Connection, item: ObservationIn, info: StreamInfo, now_us: int, fois_checked: set[int]
    ) -> list[Any]:
        w = item.where
        if not item.has_result:
            raise BadRequest(f"{w}result: required")
        result = item.result
        number, result_json = _result(result, w)
        if info.kind == MULTI_DATASTREAM:
            if not isinstance(result, list) or len(result) != info.n_results:
                raise BadRequest(
                    f"{w}result: a MultiDatastream with {info.n_results} ObservedProperties needs an array of "
                    f"{info.n_results} values"
                )
            number = None
        if item.phenomenon_time is None:
            start_us, end_us = now_us, None
        else:
            start, end = parse_time_or_interval(item.phenomenon_time, f"{w}phenomenonTime")
            start_us, end_us = to_micros(start), (to_micros(end) if end else None)
        rt = (
            to_micros(parse_instant(item.result_time, f"{w}resultTime"))
            if item.result_time is not None
            else None
        )
        v0 = v1 = None
        if item.valid_time is not None:
            vs, ve = parse_time_or_interval(item.valid_time, f"{w}validTime")
            v0, v1 = to_micros(vs), (to_micros(ve) if ve else None)
        params = None
        if item.parameters is not None:
            if not isinstance(item.parameters, dict):
                raise BadRequest(f"{w}parameters: expected a JSON object")
            params = _json_text(item.parameters, f"{w}parameters")
        quality = (
            _json_text(item.result_quality, f"{w}resultQuality") if item.result_quality is not None else None
        )
        foi = item.foi_id
        if foi is not None:
            if not is_id(foi):
                raise BadRequest(f"{w}FeatureOfInterest/@iot.id: expected an integer id, got {foi!r}")
            if foi not in fois_checked:
                found = conn.execute(
                    select(t.features_of_interest.c.id).where(t.features_of_interest.c.id == foi)
                ).first()
                if found is None:
                    raise NotFound(f"{w}FeatureOfInterest: FeatureOfInterest({foi}) does not exist")
                fois_checked.add(foi)
        elif info.location_id is None:
            raise BadRequest(
                f"{w}FeatureOfInterest: required, because the {info.kind}'s Thing has no Location to derive it from"
            )
        else:
            foi = self._fois.get(info.location_id)
        client_id = item.client_id
        if client_id is not None and (not is_id(client_id)):
            raise BadRequest(f"{w}@iot.id: a client-supplied id must be a positive integer")
        return [
            client_id,
            start_us,
            end_us,
            rt,
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
            now_us,
        ]


def _accepted(rows: Sequence[list[Any]], answers: Sequence[tuple[int, bool]]) -> ObservationsAccepted:
    """The event announcing the new rows of a batch, with their values (so no subscriber reads them back)."""
    new = [row for row, (_, is_new) in zip(rows, answers, strict=True) if is_new]
    # the PostgreSQL adapter turned the times into datetimes in place; SQLite's are still microseconds
    return ObservationsAccepted.model_construct(
        ids=[oid for oid, is_new in answers if is_new],
        datastream_ids=[r[_DS] for r in new],
        multi_datastream_ids=[r[_MDS] for r in new],
        feature_ids=[r[_FOI] for r in new],
        phenomenon_times_us=[_micros(r[_T]) for r in new],
        phenomenon_time_ends_us=[_micros(r[_TE]) for r in new],
        result_times_us=[_micros(r[_RT]) for r in new],
        results=[r[_NUM] if r[_NUM] is not None else orjson.loads(r[_JSON]) for r in new],
        qc_flags=[r[_FLAGS] for r in new],
    )


def _micros(value: Any) -> Any:
    return to_micros(value) if isinstance(value, datetime) else value


def _result(result: Any, w: str) -> tuple[float | None, str | None]:
    """A result as (number, None) or (None, JSON text); non-finite numbers are refused."""
    if isinstance(result, bool) or result is None:
        return None, orjson.dumps(result).decode()
    if isinstance(result, (int, float)):
        if not math.isfinite(result):
            raise BadRequest(f"{w}result: {result} is not a finite number")
        return float(result), None
    if isinstance(result, str) and result.strip().lower() in ("nan", "infinity", "-infinity", "inf", "-inf"):
        raise BadRequest(f"{w}result: '{result}' is not a finite number")
    if isinstance(result, list):
        for k, v in enumerate(result):
            if isinstance(v, float) and not math.isfinite(v):
                raise BadRequest(f"{w}result[{k}]: not a finite number")
    return None, _json_text(result, f"{w}result")


def _json_text(value: Any, where: str) -> str:
    """``value`` as JSON text for the store; a NUL character anywhere in it refuses this row only.

    PostgreSQL cannot keep U+0000 in text or JSON (it failed the whole batch, for every device, with a
    500; issue 13), and SQLite must answer the same.
    """
    text = orjson.dumps(value).decode()
    if "\\u0000" in text:  # orjson's escape for NUL; only then is the value walked
        found = nul_path(value)
        if found is not None:
            spot = f"{where}{found}"
            raise BadRequest(f"{spot}: {NUL_REFUSED}", where=spot)
    return text


def _merge_quality(existing: str | None, flags: list[str]) -> Any:
    """resultQuality keeps what the sensor sent and adds our flags under ``safecity:qc``."""
    if existing is None:
        return flags
    value = orjson.loads(existing)
    if isinstance(value, dict):
        return {**value, "safecity:qc": flags}
    return {"sensor": value, "safecity:qc": flags}
