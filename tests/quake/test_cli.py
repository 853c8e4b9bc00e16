# SPDX-License-Identifier: Apache-2.0
"""``safecity quake verify``: the table, ``--json``, exit 1 on a failure, 2 on misuse."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from typer.testing import CliRunner

from safecity.cli import app
from safecity.quake import verify

SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"


def test_table_lists_each_check_and_the_cases_not_run() -> None:
    result = CliRunner().invoke(
        app, ["quake", "verify", "--data", str(SHARED_DATA), "--case", "baker2021", "--case", "oq-case_18"]
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["case", "measure", "ours", "reference", "tolerance", "pass"]
    assert any(ln.startswith("baker2021") and "loss_ratio" in ln and ln.endswith("yes") for ln in lines)
    assert any(ln.startswith("oq-case_18") and "total fatalities" in ln for ln in lines)
    assert "0 failed" in result.output


def test_json_and_exit_1_on_failure(tmp_path: Path) -> None:
    dst = tmp_path / verify.OQ_DIR / "case_18"
    shutil.copytree(SHARED_DATA / verify.OQ_DIR / "case_18", dst)
    agg = dst / "expected" / "aggrisk.csv"
    agg.chmod(0o644)
    agg.write_text(agg.read_text().replace("1.00000E+02,3.33333E-01\n", "9.00000E+01,3.33333E-01\n"))
    result = CliRunner().invoke(
        app, ["quake", "verify", "--data", str(tmp_path), "--case", "oq-case_18", "--json"]
    )
    assert result.exit_code == 1, result.output
    out = json.loads(result.output)
    assert out["passed"] is False
    bad = [r for r in out["rows"] if not r["passed"]]
    assert [r["measure"] for r in bad] == ["total fatalities"]
    assert bad[0]["ours"] == 100.0 and bad[0]["reference"] == 90.0


def test_unknown_case_is_misuse() -> None:
    result = CliRunner().invoke(app, ["quake", "verify", "--case", "nope"])
    assert result.exit_code == 2
