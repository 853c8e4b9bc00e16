# SPDX-License-Identifier: Apache-2.0
"""The rows of observation ingest: what arrives (:class:`ObservationIn`, :class:`DataArrayGroup`), what
is known of a stream (:class:`StreamInfo`), validating one observation into a row, the Data Array fast
path, and the event announcing a batch. :mod:`safecity.sensing.ingest` drives them.

Rows are plain lists in :data:`~safecity.sensing.observation_writes.OBSERVATION_COLUMNS` order with times
as integer microseconds (the hot path: a dataclass per row cost more than the quality checks).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.engine import Connection

from safecity.core.errors import BadRequest, NotFound, is_id
from safecity.core.text import NUL_REFUSED, nul_path
from safecity.core.timeutil import parse_instant, parse_time_or_interval, to_micros
from safecity.sensing import tables as t
from safecity.sensing.events import OBSERVATIONS_KEY, ObservationsAccepted
from safecity.sensing.quality import StreamRules

DATASTREAM, MULTI_DATASTREAM = "Datastream", "MultiDatastream"
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
    #: The ordering key of its observation events: ``district:<code>`` of the Thing's Location where
    #: the platform says (``Ingest.district_at``), else one key for all (``OBSERVATIONS_KEY``).
    key: str = OBSERVATIONS_KEY

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
class Batch:
    """Validated rows waiting to be flagged and written."""

    index: list[int] = field(default_factory=list)  # position in the request's answer
    rows: list[list[Any]] = field(default_factory=list)
    infos: list[StreamInfo] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)


def fast_rows(
    info: StreamInfo,
    g: DataArrayGroup,
    ti: int,
    batch: Batch,
    slots: list[int | str],
    n: int,
    now_us: int,
    fois: dict[int, int],
) -> int:
    """The common Data Array shape, [phenomenonTime, result] rows of one Datastream, appended to
    ``batch``; ``fois`` maps a Location to its generated FeatureOfInterest (when known yet).
    Returns the next item index."""
    ri = 1 - ti
    loc = info.location_id
    foi = fois.get(loc) if loc is not None else None
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
                number, rjson = result_value(result, f"{g.where}/dataArray[{r}]/")
            except BadRequest as e:
                errors.append(RowError(n - 1, e.message))
                continue
        rows.append([None, t_us, end_us, None, None, None, number, rjson, None, 0, None, info.id, None, foi, now_us])  # fmt: skip
        index.append(n - 1)
        infos.append(info)
    return n


def observation_row(
    conn: Connection,
    item: ObservationIn,
    info: StreamInfo,
    now_us: int,
    fois_checked: set[int],
    fois: dict[int, int],
) -> list[Any]:
    """One observation validated into a row (:data:`OBSERVATION_COLUMNS` order, times in microseconds);
    raises BadRequest or NotFound naming the field. ``fois_checked``: features known to exist in this
    request; ``fois``: a Location's generated FeatureOfInterest, when known yet."""
    w = item.where
    if not item.has_result:
        raise BadRequest(f"{w}result: required")
    result = item.result
    number, result_json = result_value(result, w)
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
        to_micros(parse_instant(item.result_time, f"{w}resultTime")) if item.result_time is not None else None
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
        foi = fois.get(info.location_id)
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


def accepted(
    rows: Sequence[list[Any]], answers: Sequence[tuple[int, bool]], key: str = OBSERVATIONS_KEY
) -> ObservationsAccepted:
    """The event announcing the new rows of a batch, with their values (so no subscriber reads them back),
    ordered under ``key``."""
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
    ).keyed(key)


def _micros(value: Any) -> Any:
    return to_micros(value) if isinstance(value, datetime) else value


def result_value(result: Any, w: str) -> tuple[float | None, str | None]:
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


def merge_quality(existing: str | None, flags: list[str]) -> Any:
    """resultQuality keeps what the sensor sent and adds our flags under ``safecity:qc``."""
    if existing is None:
        return flags
    value = orjson.loads(existing)
    if isinstance(value, dict):
        return {**value, "safecity:qc": flags}
    return {"sensor": value, "safecity:qc": flags}
