# SPDX-License-Identifier: Apache-2.0
"""Bulk import of observation history from CSV and Parquet."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import func, select

from safecity.app import Platform
from safecity.sensing import tables as t
from safecity.sensing.importer import import_observations
from safecity.sensing.sta.model import ENTITIES
from tests.conftest import weather_station


def _station(platform: Platform) -> tuple[int, str]:
    tid = platform.sensing.write(lambda conn, w: w.create(conn, ENTITIES["Thing"], weather_station()))
    with platform.store.engine.connect() as conn:
        ds, name = conn.execute(
            select(t.datastreams.c.id, t.datastreams.c.name).where(t.datastreams.c.thing_id == tid)
        ).one()
    return ds, name


def _count(platform: Platform) -> int:
    with platform.store.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(t.observations)).scalar_one())


def test_csv_import_reports_bad_lines_and_is_rerunnable(platform: Platform, tmp_path: Path) -> None:
    ds, name = _station(platform)
    csv_file = tmp_path / "history.csv"
    lines = ["datastream,time,value"]
    for i in range(120):
        lines.append(f"{ds},2022-08-08T{i // 6:02d}:{(i % 6) * 10:02d}:00+09:00,{i * 0.5}")
    lines.insert(5, f"{name},2022-08-07T00:00:00+09:00,1.5")  # by name (line 6)
    lines.insert(10, f"{ds},not-a-time,1")  # line 11
    lines.insert(20, "9999,2022-08-08T00:00:00Z,1")  # line 21: unknown datastream id
    lines.insert(30, "nonexistent stream,2022-08-08T00:00:00Z,1")  # line 31
    lines.insert(40, f"{ds},2022-08-09T00:00:00Z,inf")  # line 41
    csv_file.write_text("\n".join(lines) + "\n")
    report = import_observations(platform.sensing.ingest, csv_file, batch_size=50)
    assert report.rows == 125
    assert report.created == 121
    bad = dict(report.bad)
    assert sorted(bad) == [11, 21, 31, 41]
    assert "phenomenonTime" in bad[11]
    assert "Datastream(9999) does not exist" in bad[21]
    assert "nonexistent stream" in bad[31]
    assert "finite" in bad[41]
    again = import_observations(platform.sensing.ingest, csv_file, batch_size=50)
    assert again.created == 0 and again.duplicates == 121
    assert _count(platform) == 121


def test_parquet_import(platform: Platform, tmp_path: Path) -> None:
    ds, _ = _station(platform)
    from datetime import UTC, datetime, timedelta

    t0 = datetime(2022, 8, 8, tzinfo=UTC)
    table = pa.table(
        {
            "datastream": [ds] * 1000,
            "phenomenonTime": [t0 + timedelta(minutes=i) for i in range(1000)],
            "result": [float(i % 50) for i in range(1000)],
        }
    )
    path = tmp_path / "history.parquet"
    pq.write_table(table, path)
    report = import_observations(platform.sensing.ingest, path, batch_size=300)
    assert report.created == 1000 and not report.bad
    assert _count(platform) == 1000
