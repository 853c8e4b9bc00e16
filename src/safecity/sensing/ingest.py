# SPDX-License-Identifier: Apache-2.0
"""Observation ingest: the one path every observation takes (HTTP, Data Array, MQTT, bulk files).

Validate each row, compute its quality flags, write the batch in one transaction together with its
``ObservationAccepted`` outbox event, and answer per row. Parsing and quality control run outside the
store's write lock; only the insert runs inside it. A retried observation (same stream and
phenomenonTime, or the same client-supplied id) is stored once and answers its existing id.

This is the platform's hot path (the target is 100,000 observations/s over HTTP on two cores), so rows
are plain lists in :data:`safecity.sensing.observation_writes.OBSERVATION_COLUMNS` order with times as
integer microseconds, and the common Data Array shape (phenomenonTime, result) has a loop of its own
(both in :mod:`safecity.sensing.ingest_rows`); the bulk insert itself is
:class:`~safecity.sensing.observation_writes.ObservationWriter`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

import orjson
from sqlalchemy import insert, select
from sqlalchemy.engine import Connection

from safecity.bus import Bus
from safecity.core.clock import Clock
from safecity.core.errors import BadRequest, Forbidden, NotFound, is_id
from safecity.core.timeutil import to_micros
from safecity.sensing import tables as t
from safecity.sensing.catalogue import Catalogue
from safecity.sensing.events import OBSERVATIONS_KEY, EntityChanged
from safecity.sensing.ingest_rows import (
    _FLAGS,
    _FOI,
    _NUM,
    _QUAL,
    _RT,
    _T,
    _TE,
    DATASTREAM,
    MULTI_DATASTREAM,
    Batch,
    DataArrayGroup,
    IngestResult,
    ObservationIn,
    RowError,
    StreamInfo,
    accepted,
    fast_rows,
    merge_quality,
    observation_row,
)
from safecity.sensing.observation_writes import ObservationWriter
from safecity.sensing.quality import QualityControl, StreamRules, flags_to_quality
from safecity.store import Store

#: What callers import from here (the rows' module holds them; this is the capability's entry point).
__all__ = ["DATASTREAM", "MULTI_DATASTREAM", "DataArrayGroup", "Ingest", "IngestResult", "ObservationIn"]


class Ingest:
    def __init__(
        self, store: Store, bus: Bus, qc: QualityControl, catalogue: Catalogue, clock: Clock
    ) -> None:
        self.store = store
        self.bus = bus
        self.qc = qc
        self.catalogue = catalogue
        self.clock = clock
        self.writer = ObservationWriter(store.engine)
        self._streams: dict[tuple[str, int], StreamInfo] = {}
        self._fois: dict[int, int] = {}  # location id -> generated FeatureOfInterest id
        self._lock = threading.Lock()
        #: Called after each committed batch with (created count, duplicate count, error count).
        self.on_batch: Callable[[int, int, int], None] | None = None
        #: The code of the district at (lon, lat), or None: set by the platform (situation, which reads
        #: the areas of geo; sensing does not import geo). Observation events are keyed by it.
        self.district_at: Callable[[Connection, float, float], str | None] | None = None

    # cached stream facts ------------------------------------------------------------------------
    def invalidate(self) -> None:
        """Forget cached stream facts (after a Datastream, Thing or Location changed)."""
        with self._lock:
            self._streams.clear()
            self._fois.clear()

    def _key_of(self, conn: Connection, location_id: int | None) -> str:
        """The ordering key of a stream's observations: its Thing's (first) Location's district."""
        district_at = self.district_at
        if district_at is None or location_id is None:
            return OBSERVATIONS_KEY
        geom = conn.execute(select(t.locations.c.geom).where(t.locations.c.id == location_id)).scalar()
        if geom is None:
            return OBSERVATIONS_KEY
        import shapely  # not at import time: `safecity --help` loads no geometry library

        shape = geom if hasattr(geom, "geom_type") else shapely.from_wkt(str(geom))
        point = shape if shape.geom_type == "Point" else shape.representative_point()
        lon, lat = point.coords[0][0], point.coords[0][1]
        code = district_at(conn, float(lon), float(lat))
        return f"district:{code}" if code else OBSERVATIONS_KEY

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
        ordering = self._key_of(conn, loc)
        info = StreamInfo(kind, stream_id, thing_id, n, valid_range, zero_ok, rules, loc, ordering)
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
        batch = Batch()
        with self.store.engine.connect() as rconn:
            fois_checked: set[int] = set()
            for index, item in enumerate(items):
                try:
                    info = self._check_stream(
                        rconn, item.stream_kind, item.stream_id, item.where, device_thing
                    )
                    row = observation_row(rconn, item, info, now_us, fois_checked, self._fois)
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
        batch = Batch()
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
                    n_items = fast_rows(
                        info, g, comps.index("phenomenonTime"), batch, slots, n_items, now_us, self._fois
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
                        row = observation_row(rconn, item, info, now_us, fois_checked, self._fois)
                    except (BadRequest, NotFound) as e:
                        batch.errors.append(RowError(n_items, e.message))
                    else:
                        batch.index.append(n_items)
                        batch.rows.append(row)
                        batch.infos.append(info)
                    slots.append(n_items)
                    n_items += 1
        return self._finish(batch, n_items, now_us, None), slots

    # the common second half -------------------------------------------------------------------------
    def _finish(self, batch: Batch, n_items: int, now_us: int, conn: Connection | None) -> IngestResult:
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
                            merge_quality(row[_QUAL], flags_to_quality(f) or [])
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

    def _write(self, conn: Connection, batch: Batch, ids: list[int | None], now_us: int) -> int:
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
        answers = self.writer.insert(conn, rows)
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
                self.writer.touch_streams(
                    conn, "sta_datastreams" if kind == DATASTREAM else "sta_multi_datastreams", touched
                )
        if created:
            keys = {info.key for info in infos}
            if len(keys) == 1:
                self.bus.publish(conn, accepted(rows, answers, keys.pop()))
            else:  # one event per district, each in the batch's order
                parts: dict[str, tuple[list[list[Any]], list[tuple[int, bool]]]] = {}
                for row, info, answer in zip(rows, infos, answers, strict=True):
                    part = parts.get(info.key)
                    if part is None:
                        part = parts[info.key] = ([], [])
                    part[0].append(row)
                    part[1].append(answer)
                for part_key, (part_rows, part_answers) in parts.items():
                    if any(is_new for _, is_new in part_answers):
                        self.bus.publish(conn, accepted(part_rows, part_answers, part_key))
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
