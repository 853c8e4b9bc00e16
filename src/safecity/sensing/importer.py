# SPDX-License-Identifier: Apache-2.0
"""Bulk import of observation history from CSV or Parquet exports.

Columns (names are matched case-insensitively): ``datastream`` (an id, or a Datastream name),
``time`` / ``phenomenonTime`` (ISO 8601 with offset), ``value`` / ``result``; optional ``resultTime``.
Rows go through the normal ingest path in batches, so quality control, idempotency and events are
the same as live data; a re-run of the same file stores nothing twice.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select

from safecity.core.errors import BadRequest
from safecity.sensing import tables as t
from safecity.sensing.ingest import DATASTREAM, Ingest, ObservationIn

ALIASES = {
    "datastream": ("datastream", "datastream_id", "datastream_name", "stream"),
    "time": ("time", "phenomenontime", "phenomenon_time", "timestamp"),
    "value": ("value", "result"),
    "result_time": ("resulttime", "result_time"),
}


@dataclass
class ImportReport:
    rows: int = 0
    created: int = 0
    duplicates: int = 0
    bad: list[tuple[int, str]] = field(default_factory=list)  # (line or row number, reason)


def _columns(header: list[str], source: str) -> dict[str, int]:
    lower = [h.strip().lower() for h in header]
    found: dict[str, int] = {}
    for key, names in ALIASES.items():
        for n in names:
            if n in lower:
                found[key] = lower.index(n)
                break
    missing = [k for k in ("datastream", "time", "value") if k not in found]
    if missing:
        raise BadRequest(
            f"{source}: missing column(s) {', '.join(missing)}; found {', '.join(header)}. "
            "Expected datastream, time (or phenomenonTime), value (or result)",
            where=source,
        )
    return found


def _rows(path: Path) -> tuple[list[str], Iterator[tuple[int, list[Any]]], int | None]:
    """Header, (line number, values) rows, and the row count when cheaply known.

    Raises BadRequest naming the file for a file that cannot be read at all, and naming the line (CSV)
    or row (Parquet) for a part that cannot be read. A CSV that is not UTF-8 is still read: its
    undecodable bytes come through as lone surrogates (``surrogateescape``) so that the caller can
    report each such row by its line (:func:`undecodable`) instead of failing the whole file.
    """
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            pf = pq.ParquetFile(path)
        except (pa.ArrowException, OSError) as e:
            raise BadRequest(
                f"{path}: not a readable Parquet file ({e})",
                where=str(path),
                message_ko=f"{path}: Parquet 파일을 읽을 수 없습니다",
            ) from None

        def gen_parquet() -> Iterator[tuple[int, list[Any]]]:
            n = 0
            try:
                for batch in pf.iter_batches(batch_size=10_000):
                    cols = [c.to_pylist() for c in batch.columns]
                    for values in zip(*cols, strict=True):
                        n += 1
                        yield n, list(values)
            except (pa.ArrowException, OSError) as e:
                raise BadRequest(f"{path}: row {n + 1}: cannot be read ({e})", where=f"row {n + 1}") from None

        return pf.schema_arrow.names, gen_parquet(), pf.metadata.num_rows
    if suffix not in (".csv", ".txt"):
        raise BadRequest(f"{path}: unknown file type '{suffix}'; use .csv or .parquet", where=str(path))

    def open_csv() -> Any:
        return path.open(newline="", encoding="utf-8-sig", errors="surrogateescape")

    with open_csv() as handle:
        header = _next_row(csv.reader(handle), path)
    if header is None:
        raise BadRequest(f"{path}: the file is empty", where=str(path))

    def gen_csv() -> Iterator[tuple[int, list[Any]]]:
        # The file is opened here, not above, so a caller that refuses the header and never iterates
        # leaves no open handle behind.
        with open_csv() as handle:
            reader = csv.reader(handle)
            _next_row(reader, path)
            while (values := _next_row(reader, path)) is not None:
                yield reader.line_num, values

    return header, gen_csv(), None


def _next_row(reader: Any, path: Path) -> list[str] | None:
    try:
        row: list[str] = next(reader)
    except StopIteration:
        return None
    except csv.Error as e:  # e.g. a field over the csv module's 128 KiB limit, or a stray quote
        line = reader.line_num
        raise BadRequest(
            f"{path}:{line}: not valid CSV ({e})",
            where=f"line {line}",
            message_ko=f"{path}:{line}: CSV 형식이 올바르지 않습니다",
        ) from None
    return row


def undecodable(values: list[Any]) -> str | None:
    """The reason a CSV row cannot be used because it was not UTF-8 (see :func:`_rows`), or None."""
    for v in values:
        if isinstance(v, str):
            try:
                v.encode("utf-8")
            except UnicodeEncodeError as e:
                byte = ord(v[e.start]) - 0xDC00
                return f"not UTF-8 text (byte 0x{byte:02x}); save the file as UTF-8 CSV"
    return None


def _datastream_id(raw: Any) -> int | None:
    """An id cell as an int; None when it is not a whole number (then it may be a name)."""
    if isinstance(raw, int) and not isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.strip().isdigit():
        try:
            return int(raw)
        except ValueError:  # '²' is a digit to str.isdigit() but not to int()
            return None
    return None


def _value(raw: Any) -> Any:
    if isinstance(raw, str):
        s = raw.strip()
        try:
            return float(s) if any(c in s for c in ".eE") or s.lower() in ("nan", "inf", "-inf") else int(s)
        except ValueError:
            return s
    return raw


def import_observations(
    ingest: Ingest,
    path: Path,
    batch_size: int = 5_000,
    progress: Callable[[int, int | None], None] | None = None,
) -> ImportReport:
    header, rows, total = _rows(path)
    cols = _columns(header, str(path))
    report = ImportReport()
    names: dict[str, int] = {}
    with ingest.store.engine.connect() as conn:
        for sid, name in conn.execute(select(t.datastreams.c.id, t.datastreams.c.name)):
            names.setdefault(name, sid)
    batch: list[ObservationIn] = []
    lines: list[int] = []

    def flush() -> None:
        if not batch:
            return
        result = ingest.ingest(batch)
        report.created += result.created
        report.duplicates += result.duplicates
        for err in result.errors:
            report.bad.append((lines[err.index], err.message))
        batch.clear()
        lines.clear()
        if progress:
            progress(report.rows, total)

    for line, values in rows:
        report.rows += 1
        if len(values) < len(header):
            report.bad.append((line, f"expected {len(header)} columns, got {len(values)}"))
            continue
        problem = undecodable(values)
        if problem is not None:
            report.bad.append((line, problem))
            continue
        ds_raw = values[cols["datastream"]]
        ds = _datastream_id(ds_raw)
        if ds is None and isinstance(ds_raw, str):
            ds = names.get(ds_raw.strip())
        if ds is None:
            report.bad.append((line, f"datastream: no Datastream with id or name '{ds_raw}'"))
            continue
        when = values[cols["time"]]
        if hasattr(when, "isoformat"):
            when = when.isoformat()
        rt = values[cols["result_time"]] if "result_time" in cols else None
        if rt == "":
            rt = None
        batch.append(ObservationIn(DATASTREAM, ds, when, _value(values[cols["value"]]), True, rt, where=""))
        lines.append(line)
        if len(batch) >= batch_size:
            flush()
    flush()
    return report


def read_rows(path: Path) -> tuple[list[str], Iterator[tuple[int, list[Any]]], int | None]:
    """A CSV or Parquet file as its header and (line number, values) rows (for other capabilities'
    file tools, e.g. replaying observations through rules)."""
    return _rows(path)


def parse_value(raw: Any) -> Any:
    """A cell as a number where it is one."""
    return _value(raw)
