# SPDX-License-Identifier: Apache-2.0
"""``safecity flood verify``: the table on stdout, JSON for machines, exit 1 on a failed row, 2 on misuse."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from safecity.cli import app
from tests.conftest import SHARED

DATA = SHARED / "data"


def test_verify_prints_the_table_and_json() -> None:
    runner = CliRunner()
    res = runner.invoke(app, ["flood", "verify", "--data", str(DATA), "--case", "lake_at_rest"])
    assert res.exit_code == 0, res.output
    assert res.stdout.splitlines()[1].split()[:2] == ["lake_at_rest", "max_velocity"]
    assert res.stdout.splitlines()[1].split()[-1] == "pass"
    res = runner.invoke(
        app,
        ["flood", "verify", "--data", str(DATA), "--case", "lake_at_rest", "--case", "ea_test8a", "--json"],
    )
    assert res.exit_code == 0, res.output
    body = json.loads(res.stdout)
    assert body["failed"] == 0 and body["passed"] == 3 and body["skipped"] == 9
    row = body["rows"][0]
    assert set(row) >= {"case", "measure", "value", "reference", "tolerance", "passed", "source"}
    assert row["tolerance_name"] == "LAKE_VELOCITY_M_S"


def test_verify_exits_1_when_a_row_fails(tmp_path: Path) -> None:
    # The MacDonald reference with its water surface shifted 10 cm: the model is right, the table must say FAIL.
    src = DATA / "flood" / "analytic_macdonald" / "mcdo_norain.csv"
    lines = src.read_text().splitlines()
    shifted = [lines[0]] + [
        ",".join([*ln.split(",")[:2], str(float(ln.split(",")[2]) + 0.1)]) for ln in lines[1:]
    ]
    (tmp_path / "flood" / "analytic_macdonald").mkdir(parents=True)
    (tmp_path / "flood" / "analytic_macdonald" / "mcdo_norain.csv").write_text("\n".join(shifted) + "\n")
    res = CliRunner().invoke(app, ["flood", "verify", "--data", str(tmp_path), "--case", "macdonald_norain"])
    assert res.exit_code == 1
    assert "FAIL" in res.stdout


def test_verify_misuse_exits_2(tmp_path: Path) -> None:
    runner = CliRunner()
    res = runner.invoke(app, ["flood", "verify", "--data", str(tmp_path)])
    assert res.exit_code == 2 and "no verification data" in res.stderr
    res = runner.invoke(app, ["flood", "verify", "--data", str(DATA), "--case", "nope"])
    assert res.exit_code == 2 and "unknown case 'nope'" in res.stderr
