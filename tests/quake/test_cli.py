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


REGISTER = "\n".join(
    [
        "관리건축물대장PK,시군구코드,구조코드명,주용도코드명,지상층수,연면적,사용승인일,내진설계적용여부,경도,위도",
        "a,11110,벽돌구조,단독주택,1,200,19700101,0,126.98,37.57",
        "b,11110,철근콘크리트구조,공동주택,5,3000,20100101,1,126.99,37.57",
        "c,11140,철근콘크리트구조,업무시설,10,12000,19900101,0,126.97,37.56",
    ]
)


def test_assess_a_register_for_a_scenario_and_for_a_message(tmp_path: Path) -> None:
    reg = tmp_path / "register.csv"
    reg.write_text(REGISTER, encoding="utf-8")
    r = CliRunner().invoke(
        app,
        [
            "quake",
            "assess",
            "--register",
            str(reg),
            "--magnitude",
            "6.0",
            "--epicentre",
            "126.98,37.55",
            "--json",
        ],
    )
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert [a["code"] for a in out["areas"]] == ["11110", "11140"] and out["total"]["buildings"] == 3
    assert len(out["inspect_first"]) == 3
    cap = tmp_path / "quake.xml"
    usgs = (SHARED_DATA / "cap" / "invalid_or_edge" / "google__earthquake_cap11.cap").read_bytes()
    cap.write_bytes(usgs.replace(b"emergency:cap:1.1", b"emergency:cap:1.2"))
    r = CliRunner().invoke(app, ["quake", "assess", "--register", str(reg), "--cap", str(cap)])
    assert r.exit_code == 0, r.output
    assert r.output.startswith("M6.3 at (-173.274, -16.053)") and "total" in r.output  # far away: no damage


def test_assess_refuses_bad_input(tmp_path: Path) -> None:
    reg = tmp_path / "register.csv"
    reg.write_text(REGISTER + "\nd,11110,벽돌구조,단독주택,x,200,19700101,0,126.98,37.57\n", encoding="utf-8")
    r = CliRunner().invoke(
        app, ["quake", "assess", "--register", str(reg), "--magnitude", "6", "--epicentre", "127,37.5"]
    )
    assert r.exit_code == 1 and "line 5 지상층수" in r.output
    r = CliRunner().invoke(app, ["quake", "assess", "--register", str(reg)])
    assert r.exit_code == 2
