# SPDX-License-Identifier: Apache-2.0
"""Sensing's bulk observation writes, on both stores: idempotent, ordered, client ids, partitions on
PostgreSQL, nothing left by a batch that rolls back (moved here from the store port's contract)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, insert, select

from safecity.app import Platform
from safecity.core.timeutil import to_micros
from safecity.sensing import tables as t


def _stream(platform: Platform) -> tuple[int, int]:
    with platform.store.write() as conn:
        thing = conn.execute(
            insert(t.things).values(name="t", description="").returning(t.things.c.id)
        ).scalar_one()
        sensor = conn.execute(
            insert(t.sensors)
            .values(name="s", description="", encoding_type="x", metadata="")
            .returning(t.sensors.c.id)
        ).scalar_one()
        op = conn.execute(
            insert(t.observed_properties)
            .values(name="o", definition="urn:o", description="")
            .returning(t.observed_properties.c.id)
        ).scalar_one()
        ds = conn.execute(
            insert(t.datastreams)
            .values(
                name="d",
                description="",
                observation_type="x",
                unit_of_measurement={"symbol": "m"},
                thing_id=thing,
                sensor_id=sensor,
                observed_property_id=op,
            )
            .returning(t.datastreams.c.id)
        ).scalar_one()
        foi = conn.execute(
            insert(t.features_of_interest)
            .values(
                name="f",
                description="",
                encoding_type="application/geo+json",
                feature={"type": "Point", "coordinates": [127, 37.5]},
            )
            .returning(t.features_of_interest.c.id)
        ).scalar_one()
    return ds, foi


def _row(ds: int, foi: int, when: datetime, value: float, client_id: int | None = None) -> list[object]:
    """An observation row as the writer takes it: OBSERVATION_COLUMNS order, times in microseconds."""
    now = to_micros(datetime.now(UTC))
    return [
        client_id,
        to_micros(when),
        None,
        None,
        None,
        None,
        value,
        None,
        None,
        0,
        None,
        ds,
        None,
        foi,
        now,
    ]


def test_insert_observations_is_idempotent_and_ordered(platform: Platform) -> None:
    ds, foi = _stream(platform)
    t0 = datetime(2022, 8, 8, 11, 0, tzinfo=UTC)
    rows = [_row(ds, foi, t0 + timedelta(minutes=i), float(i)) for i in range(100)]
    with platform.store.write() as conn:
        first = platform.sensing.ingest.writer.insert(conn, rows)
    assert all(created for _, created in first)
    assert len({i for i, _ in first}) == 100
    # Half repeated, half new, in one batch spanning a month boundary (a new PostgreSQL partition).
    later = datetime(2022, 9, 1, 0, 0, tzinfo=UTC)
    rows = [_row(ds, foi, t0 + timedelta(minutes=i), float(i)) for i in range(100)]
    mixed = rows[50:] + [_row(ds, foi, later + timedelta(minutes=i), 1.0) for i in range(50)]
    with platform.store.write() as conn:
        second = platform.sensing.ingest.writer.insert(conn, mixed)
    assert [i for i, _ in second[:50]] == [i for i, _ in first[50:]]
    assert [c for _, c in second] == [False] * 50 + [True] * 50
    with platform.store.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(t.observations)).scalar_one() == 150


def test_every_value_is_stored_whichever_columns_a_batch_leaves_empty(platform: Platform) -> None:
    """SQLite leaves out of the INSERT the columns that are NULL in every row of a batch: a batch where
    one row has a value in such a column, and one where no row has, both read back exactly."""
    ds, foi = _stream(platform)
    t0 = datetime(2022, 8, 8, 11, 0, tzinfo=UTC)
    full = _row(ds, foi, t0, 1.0)
    end, rt, v0, v1 = (to_micros(t0 + timedelta(seconds=s)) for s in (60, 61, 0, 3600))
    full[2:6] = [end, rt, v0, v1]
    full[7], full[8], full[9], full[10] = '{"a": 1}', '["late"]', 16, '{"p": 2}'
    sparse = [_row(ds, foi, t0 + timedelta(minutes=m), float(m)) for m in (1, 2)]
    alone = [_row(ds, foi, t0 + timedelta(minutes=m), float(m)) for m in (3, 4)]
    with platform.store.write() as conn:
        platform.sensing.ingest.writer.insert(conn, [sparse[0], full, sparse[1]])
        platform.sensing.ingest.writer.insert(conn, alone)
    o = t.observations
    columns = [o.c.phenomenon_time_end, o.c.result_time, o.c.valid_time_start, o.c.valid_time_end]
    columns += [o.c.result_number, o.c.result_json, o.c.result_quality, o.c.qc_flags, o.c.parameters]
    with platform.store.engine.connect() as conn:
        stored = conn.execute(select(*columns).order_by(o.c.phenomenon_time)).all()
    times = (t0 + timedelta(seconds=60), t0 + timedelta(seconds=61), t0, t0 + timedelta(hours=1))
    assert [tuple(r) for r in stored] == [
        (*times, 1.0, {"a": 1}, ["late"], 16, {"p": 2}),
        *[(None, None, None, None, float(m), None, None, 0, None) for m in (1, 2, 3, 4)],
    ]


def test_client_supplied_ids(platform: Platform) -> None:
    ds, foi = _stream(platform)
    t0 = datetime(2022, 8, 8, tzinfo=UTC)
    with platform.store.write() as conn:
        a = platform.sensing.ingest.writer.insert(
            conn, [_row(ds, foi, t0, 1.0, client_id=777), _row(ds, foi, t0 + timedelta(seconds=1), 2.0)]
        )
    assert a[0] == (777, True) and a[1][0] > 777
    with platform.store.write() as conn:
        b = platform.sensing.ingest.writer.insert(conn, [_row(ds, foi, t0, 1.0, client_id=777)])
    assert b == [(777, False)]


def test_rolled_back_batch_leaves_nothing(platform: Platform) -> None:
    ds, foi = _stream(platform)
    t0 = datetime(2022, 8, 8, tzinfo=UTC)

    class Boom(Exception):
        pass

    try:
        with platform.store.write() as conn:
            platform.sensing.ingest.writer.insert(conn, [_row(ds, foi, t0, 1.0)])
            raise Boom
    except Boom:
        pass
    with platform.store.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(t.observations)).scalar_one() == 0


def test_only_stream_tables_are_touched(platform: Platform) -> None:
    with pytest.raises(ValueError, match="sta_things"), platform.store.write() as conn:
        platform.sensing.ingest.writer.touch_streams(conn, "sta_things", [])
