# SPDX-License-Identifier: Apache-2.0
"""Property tests of the CSV/Parquet observation import: any file gives a report (bad rows listed with
their line) or a BadRequest naming the file, never another exception and never a half-imported row.
"""

from __future__ import annotations

import io
import tempfile
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from safecity.core.errors import BadRequest
from safecity.sensing.importer import ImportReport, import_observations
from tests.fuzz.conftest import Stack

DB = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)

cells = st.sampled_from(
    [
        *("1", "2", " 1 ", "²", "١", "99999999999999999999999", "-1", "0", "Station 0 rainfall 10 min", ""),
        *(
            "2026-11-25T00:00:00Z",
            "2026-11-25",
            "not a time",
            "9999-12-31T23:59:59+14:00",
            "0001-01-01T00:00:00Z",
        ),
        *("1.5", "nan", "inf", "-inf", "1e999", "wet", '"quoted, comma"'),
    ]
) | st.text(max_size=12)
headers = st.sampled_from(
    [
        ["datastream", "time", "value"],
        ["Datastream_ID", "phenomenonTime", "result", "resultTime"],
        ["stream", "timestamp", "value", "extra"],
        ["time", "value"],
    ]
)


@st.composite
def csv_files(draw: st.DrawFn) -> bytes:
    header = draw(headers)
    rows = draw(st.lists(st.lists(cells, min_size=0, max_size=len(header) + 1), max_size=6))
    out = io.StringIO()
    out.write(",".join(header) + "\n")
    for row in rows:
        out.write(",".join(row) + "\n")
    data = out.getvalue().encode("utf-8", "surrogatepass")
    if draw(st.booleans()):
        # a cut, a stray byte (Latin-1 exports, NULs) or a BOM, as real exports have
        at = draw(st.integers(0, len(data)))
        data = (
            data[:at]
            + draw(st.sampled_from([b"\xff", b"\x00", b"\xef\xbb\xbf", b'"', b"\r", b""]))
            + data[at:]
        )
    return data


def _import(stack: Stack, path: Path) -> ImportReport | None:
    try:
        report = import_observations(stack.platform.sensing.ingest, path, batch_size=3)
    except BadRequest as e:
        assert e.where, e
        return None
    for line, reason in report.bad:
        assert isinstance(line, int) and reason, report.bad
    assert report.created + report.duplicates + len(report.bad) == report.rows, report
    return report


@DB
@given(data=csv_files() | st.binary(max_size=200))
@example(data=b"datastream,time,value\n1,2026-11-25T00:00:00Z,\xff\n")
@example(data=b"datastream,time,value\n\xb2,2026-11-25T00:00:00Z,1\n")
@example(data=b"datastream,time,value\n99999999999999999999999,2026-11-25T00:00:00Z,1\n")
@example(data=b"datastream,time,value\n1,2026-11-25T00:00:00Z," + b"x" * 200_000 + b"\n")
@example(data="datastream,time,value\n²,2026-11-25T00:00:00Z,1\n".encode())
def test_any_csv_is_imported_or_refused(stacks: dict[str, Stack], data: bytes) -> None:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "obs.csv"
        path.write_bytes(data)
        for stack in stacks.values():
            _import(stack, path)


parquet_values: Any = st.lists(
    st.one_of(st.integers(-(2**63), 2**63 - 1), st.text(max_size=8), st.floats(), st.none()),
    min_size=1,
    max_size=4,
)


@DB
@given(
    columns=st.dictionaries(
        st.sampled_from(["datastream", "time", "value", "result", "resultTime", "phenomenonTime", "other"]),
        st.sampled_from(["int", "str", "float", "time"]),
        min_size=1,
    ),
    n=st.integers(1, 4),
    garbage=st.none() | st.binary(max_size=64),
)
def test_any_parquet_is_imported_or_refused(
    stacks: dict[str, Stack], columns: dict[str, str], n: int, garbage: bytes | None
) -> None:
    from datetime import UTC, datetime

    makers: dict[str, Any] = {
        "int": lambda i: pa.array([i % 3 for i in range(n)], pa.int64()),
        "str": lambda i: pa.array(["1", "x", "2026-11-25T00:00:00Z", ""][:n] + ["1"] * max(0, n - 4)),
        "float": lambda i: pa.array([float("nan"), 1.5, float("inf"), -0.0][:n] + [1.0] * max(0, n - 4)),
        "time": lambda i: pa.array([datetime(2026, 11, 25, i, tzinfo=UTC) for i in range(n)]),
    }
    table = pa.table({name: makers[kind](0) for name, kind in columns.items()})
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "obs.parquet"
        if garbage is None:
            pq.write_table(table, path)
        else:
            path.write_bytes(b"PAR1" + garbage)
        for stack in stacks.values():
            _import(stack, path)


# --- regressions found by the tests above -------------------------------------------------------------


def test_a_latin1_byte_is_a_bad_row_and_the_other_rows_are_imported(stacks: dict[str, Stack]) -> None:
    """Was UnicodeDecodeError out of the row generator (and an open file handle left behind)."""
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "obs.csv"
        path.write_bytes(
            b"datastream,time,value\n1,2021-01-01T00:00:00Z,1\n1,2021-01-01T00:10:00Z,caf\xe9\n"
            b"1,2021-01-01T00:20:00Z,3\n"
        )
        for stack in stacks.values():
            report = _import(stack, path)
            assert report is not None and report.created == 2
            assert report.bad == [(3, "not UTF-8 text (byte 0xe9); save the file as UTF-8 CSV")]


def test_a_superscript_digit_datastream_is_a_bad_row(stacks: dict[str, Stack]) -> None:
    """Was ValueError: '²'.isdigit() is True but int('²') fails."""
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "obs.csv"
        path.write_text("datastream,time,value\n²,2021-01-01T00:00:00Z,1\n", encoding="utf-8")
        report = _import(stacks["sqlite"], path)
        assert report is not None and report.bad[0][0] == 2 and "²" in report.bad[0][1]


def test_an_oversized_csv_field_names_its_line(stacks: dict[str, Stack]) -> None:
    """Was _csv.Error out of the row generator."""
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "obs.csv"
        path.write_bytes(b"datastream,time,value\n1,2021-01-01T00:00:00Z," + b"x" * 200_000 + b"\n")
        try:
            import_observations(stacks["sqlite"].platform.sensing.ingest, path)
        except BadRequest as e:
            assert e.where == "line 2" and "field larger than field limit" in e.message
        else:
            raise AssertionError("an oversized field was accepted")


def test_a_file_that_is_not_parquet_is_a_bad_request(stacks: dict[str, Stack]) -> None:
    """Was pyarrow.ArrowInvalid."""
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "obs.parquet"
        path.write_bytes(b"PAR1")
        try:
            import_observations(stacks["sqlite"].platform.sensing.ingest, path)
        except BadRequest as e:
            assert e.where == str(path) and "Parquet" in e.message
        else:
            raise AssertionError("a broken Parquet file was accepted")
