# SPDX-License-Identifier: Apache-2.0
"""The sensing capability's events on the bus.

* ``sensing.ObservationAccepted`` (:class:`ObservationsAccepted`, version 2): one per ingest batch and
  district (its ordering key, ``district:<code>``), written in the same transaction as the observations
  it announces, carrying their values, so a subscriber (the rules, MQTT, another process behind a
  broker) never reads sensing's tables back.
  Version 1 named the observations by id ranges instead; :func:`decode_v1` reads such rows, left in an
  outbox by an older release, back into version 2.
* ``sensing.EntityChanged`` (:class:`EntityChanged`): a SensorThings entity other than an Observation
  was created, updated or deleted.

Subscribers of observations mostly want one value per observation: :func:`observations` flattens the
batches of a delivery into :class:`ObservationAccepted` values (a plain dataclass: the rules evaluate
millions of them).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Container, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, NamedTuple, Self

from pydantic import Field, PrivateAttr, model_validator
from sqlalchemy import and_, or_, select
from sqlalchemy.engine import Connection

from safecity.core.events import Envelope, Event
from safecity.core.timeutil import to_micros
from safecity.sensing import tables as t

OBSERVATIONS_ACCEPTED = "sensing.ObservationAccepted"
#: The ordering key of observations whose district is not known (no Location, outside every district,
#: no areas loaded, or nobody told sensing how to find districts): the one key all used before.
OBSERVATIONS_KEY = "observations"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ENTITY_CHANGED = "sensing.EntityChanged"


class ObservationAccepted(NamedTuple):
    """An observation was stored (after quality control). ``result`` is the number, or the JSON value.

    A named tuple, immutable like the frozen dataclass it was and about five times faster to build: the
    rules, dispatch and MQTT build one per observation (py-spy: 14 % of the server's time at 50,000
    obs/s went into building frozen dataclasses)."""

    observation_id: int
    datastream_id: int | None
    multi_datastream_id: int | None
    feature_of_interest_id: int
    phenomenon_time: datetime
    phenomenon_time_end: datetime | None
    result_time: datetime | None
    result: Any
    qc_flags: int


#: ``ObservationAccepted`` from a tuple of its fields, in C (NamedTuple's own ``__new__`` is Python code).
_new_item: Callable[[tuple[Any, ...]], ObservationAccepted] = functools.partial(
    tuple.__new__, ObservationAccepted
)


class ObservationsAccepted(Event):
    """The observations one ingest batch stored, column by column (index i of every list is one
    observation; columns keep the payload small and fast to read). Times are integer microseconds since
    1970-01-01 UTC, the embedded store's own representation."""

    type = OBSERVATIONS_ACCEPTED
    version = 2

    ids: list[int]
    datastream_ids: list[int | None] = Field(alias="datastreamIds")
    multi_datastream_ids: list[int | None] = Field(alias="multiDatastreamIds")
    feature_ids: list[int] = Field(alias="featureIds")
    phenomenon_times_us: list[int] = Field(alias="phenomenonTimesUs")
    phenomenon_time_ends_us: list[int | None] = Field(alias="phenomenonTimeEndsUs")
    result_times_us: list[int | None] = Field(alias="resultTimesUs")
    results: list[Any]
    qc_flags: list[int] = Field(alias="qcFlags")
    _items: list[ObservationAccepted] | None = PrivateAttr(None)
    _key: str = PrivateAttr(OBSERVATIONS_KEY)

    @model_validator(mode="after")
    def _same_lengths(self) -> Self:
        n = len(self.ids)
        for name in type(self).model_fields:
            if len(getattr(self, name)) != n:
                raise ValueError(f"{name}: {len(getattr(self, name))} values for {n} observations")
        return self

    def ordering_key(self) -> str:
        # The rules' windows rely on a stream's values in commit order: a stream's observations always
        # go under one key, its Thing's district (``district:<code>``) where the platform can tell, so
        # the rule engine can be split by district (NatsBus.subscribe(keys=...)); else one key for all.
        return self._key

    def keyed(self, key: str) -> Self:
        """This event, ordered under ``key`` (the batches of one ingest call are split by key)."""
        self._key = key
        return self

    @classmethod
    def of(cls, items: Sequence[ObservationAccepted]) -> ObservationsAccepted:
        return cls.model_construct(
            ids=[o.observation_id for o in items],
            datastream_ids=[o.datastream_id for o in items],
            multi_datastream_ids=[o.multi_datastream_id for o in items],
            feature_ids=[o.feature_of_interest_id for o in items],
            phenomenon_times_us=[to_micros(o.phenomenon_time) for o in items],
            phenomenon_time_ends_us=[_us(o.phenomenon_time_end) for o in items],
            result_times_us=[_us(o.result_time) for o in items],
            results=[o.result for o in items],
            qc_flags=[o.qc_flags for o in items],
        )

    def __eq__(self, other: object) -> bool:
        # the same observations, whether or not either has built its items yet
        if not isinstance(other, ObservationsAccepted):
            return NotImplemented
        return all(getattr(self, f) == getattr(other, f) for f in type(self).model_fields)

    __hash__ = Event.__hash__

    def items(self) -> list[ObservationAccepted]:
        # Built once per event and copied per caller: every subscriber of observations (rules, dispatch,
        # MQTT) in a round receives the same event object.
        built = self._items
        if built is None:
            built = self._items = self._build()
        return list(built)

    def items_of(self, streams: Container[int]) -> list[ObservationAccepted]:
        """The observations of these Datastreams only, picked from the columns: a subscriber that wants a
        few streams (dispatch's trackers and rain gauges) does not build one value per observation."""
        built = self._items
        if built is not None:
            return [o for o in built if o.datastream_id in streams]
        picked = [k for k, ds in enumerate(self.datastream_ids) if ds in streams]
        if len(picked) == len(self.ids):
            return self.items()
        return self._build(picked)

    def _build(self, picked: Sequence[int] | None = None) -> list[ObservationAccepted]:
        ids, ds, mds, foi, t0, t1, rt, results, flags = self._columns(picked)
        # epoch + timedelta: the same instant as from_micros, in about half the time; a batch repeats
        # its times (many streams, the same minutes), so each distinct time is built once. The tuples
        # are made by C code alone (zip, map, tuple.__new__): no Python call per observation.
        times = {us: _EPOCH + timedelta(microseconds=us) for us in {*t0, *t1, *rt} if us is not None}
        maybe = times.get  # None (no end, no result time) stays None
        return list(
            map(
                _new_item,
                zip(
                    ids,
                    ds,
                    mds,
                    foi,
                    map(times.__getitem__, t0),
                    map(maybe, t1),
                    map(maybe, rt),
                    results,
                    flags,
                    strict=True,
                ),
            )
        )

    def _columns(self, picked: Sequence[int] | None) -> list[list[Any]]:
        columns: list[list[Any]] = [
            self.ids,
            self.datastream_ids,
            self.multi_datastream_ids,
            self.feature_ids,
            self.phenomenon_times_us,
            self.phenomenon_time_ends_us,
            self.result_times_us,
            self.results,
            self.qc_flags,
        ]
        if picked is None:
            return columns
        return [[c[k] for k in picked] for c in columns]


class EntityChanged(Event):
    """A SensorThings entity other than an Observation was created, updated or deleted."""

    type = ENTITY_CHANGED

    entity: str  # entity type name, e.g. "Thing"
    entity_id: int = Field(alias="id")
    action: Literal["created", "updated", "deleted"]

    def ordering_key(self) -> str:
        return f"{self.entity}:{self.entity_id}"


def observations(
    envelopes: Sequence[Envelope], streams: Container[int] | None = None
) -> list[ObservationAccepted]:
    """The observations of a delivery, in order (other events are ignored); with ``streams``, only
    those of these Datastreams (see :func:`datastreams`)."""
    out: list[ObservationAccepted] = []
    for e in envelopes:
        if isinstance(e.data, ObservationsAccepted):
            out.extend(e.data.items() if streams is None else e.data.items_of(streams))
    return out


def datastreams(envelopes: Sequence[Envelope]) -> set[int]:
    """The Datastreams that have observations in a delivery, read from the events' columns (a
    subscriber interested in a few streams asks this first and builds only their observations)."""
    found: set[int | None] = set()
    for e in envelopes:
        if isinstance(e.data, ObservationsAccepted):
            found.update(e.data.datastream_ids)
    return {ds for ds in found if ds is not None}  # a MultiDatastream's observations have none


def entity_changes(envelopes: Sequence[Envelope]) -> list[EntityChanged]:
    return [e.data for e in envelopes if isinstance(e.data, EntityChanged)]


def _us(value: datetime | None) -> int | None:
    return None if value is None else to_micros(value)


def _dt(value: int | None) -> datetime | None:
    return None if value is None else _EPOCH + timedelta(microseconds=value)


def id_ranges(ids: Sequence[int]) -> list[list[int]]:
    """Sorted runs of consecutive ids as [first, last] pairs (version 1 payloads)."""
    runs: list[list[int]] = []
    for i in sorted(ids):
        if runs and i == runs[-1][1] + 1:
            runs[-1][1] = i
        else:
            runs.append([i, i])
    return runs


def decode_v1(conn: Connection, payload: dict[str, Any]) -> ObservationsAccepted:
    """A version 1 payload (``{"ranges": [[first, last], ...], "count": n}``) read back from the
    observations table into version 2."""
    o = t.observations
    ranges = payload.get("ranges") or []
    if not ranges:
        return ObservationsAccepted.of([])
    rows = conn.execute(
        select(
            o.c.id,
            o.c.datastream_id,
            o.c.multi_datastream_id,
            o.c.feature_of_interest_id,
            o.c.phenomenon_time,
            o.c.phenomenon_time_end,
            o.c.result_time,
            o.c.result_number,
            o.c.result_json,
            o.c.qc_flags,
        )
        .where(or_(*(and_(o.c.id >= a, o.c.id <= b) for a, b in ranges)))
        .order_by(o.c.id)
    ).all()
    return ObservationsAccepted.of(
        [
            ObservationAccepted(
                r.id,
                r.datastream_id,
                r.multi_datastream_id,
                r.feature_of_interest_id,
                r.phenomenon_time,
                r.phenomenon_time_end,
                r.result_time,
                r.result_number if r.result_number is not None else r.result_json,
                r.qc_flags,
            )
            for r in rows
        ]
    )
