# SPDX-License-Identifier: Apache-2.0
"""The layer contract in pyproject.toml ([tool.importlinter]) holds, and it really catches a wrong import:
a copy of the package with one upward import added breaks it (import-linter, run as `make lint` runs it)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT = Path(sys.executable).with_name("lint-imports")


def _lint(src: Path, config: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(src)}
    return subprocess.run(
        [str(LINT), "--config", str(config), "--no-cache"],
        capture_output=True,
        text=True,
        env=env,
        cwd=src,
        timeout=300,
    )


def _copy(tmp_path: Path) -> Path:
    """The package's Python files only (the data folders are large and not imports)."""
    src = tmp_path / "src"
    shutil.copytree(
        ROOT / "src" / "safecity",
        src / "safecity",
        ignore=shutil.ignore_patterns(
            "__pycache__",
            "*.pyc",
            "*.toml",
            "*.json",
            "*.geojson",
            "*.gz",
            "*.csv",
            "*.parquet",
            "*.tif",
            "*.inp",
            "*.png",
            "*.js",
            "*.css",
            "*.html",
            "*.xsd",
            "*.md",
            "*.txt",
            "*.zip",
            "*.xml",
            "*.svg",
            "*.woff2",
        ),
    )
    shutil.copy(ROOT / "pyproject.toml", src / "pyproject.toml")
    return src


def test_the_layers_hold() -> None:
    r = _lint(ROOT / "src", ROOT / "pyproject.toml")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "KEPT" in r.stdout


@pytest.mark.parametrize(
    ("module", "wrong_import", "message"),
    [
        # the core may not know any capability
        (
            "core/clock.py",
            "import safecity.warning.service",
            "safecity.core is not allowed to import safecity.warning",
        ),
        # a lower capability may not reach into a higher one (sensing must not know about alerts)
        (
            "sensing/catalogue.py",
            "import safecity.situation.rules",
            "safecity.sensing is not allowed to import safecity.situation",
        ),
    ],
)
def test_a_wrong_import_breaks_the_contract(
    tmp_path: Path, module: str, wrong_import: str, message: str
) -> None:
    src = _copy(tmp_path)
    target = src / "safecity" / module
    target.write_text(target.read_text() + f"\n{wrong_import}  # deliberately wrong\n")
    r = _lint(src, src / "pyproject.toml")
    assert r.returncode != 0, r.stdout
    assert "BROKEN" in r.stdout and message in r.stdout, r.stdout
