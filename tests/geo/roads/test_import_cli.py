# SPDX-License-Identifier: Apache-2.0
"""``safecity import roads`` as a script uses it: counts on stdout, the graph under data_dir/roads."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from safecity.geo.gazetteer import load_gazetteer
from safecity.geo.roads.graph import graph_path, load_graph
from tests.geo.roads.osm_data import GONGDEOK, HELSINKI_PBF


def run(args: list[str], data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SAFECITY_DATA_DIR": str(data_dir)}
    env.pop("SAFECITY_STORE_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "safecity", *args], capture_output=True, text=True, env=env, timeout=120
    )


def test_import_roads(tmp_path: Path) -> None:
    r = run(["import", "roads", str(GONGDEOK), "--json"], tmp_path)
    assert r.returncode == 0, r.stderr
    counts = json.loads(r.stdout)
    assert counts["nodes"] == 2016 and counts["walk_edges"] == 4556 and counts["oneway_segments"] > 0
    assert load_graph(graph_path(tmp_path)).segment_count == counts["segments"]
    # the geocoder's gazetteer from the same extract, beside the graph
    gaz = load_gazetteer(tmp_path)
    assert gaz is not None and gaz.counts()["addresses"] == counts["addresses"] > 10
    assert "마포대로" in gaz.addresses and counts["places"] > 0 and counts["streets"] > 0

    r = run(["import", "roads", str(HELSINKI_PBF)], tmp_path)
    assert r.returncode == 0, r.stderr
    assert "bridge" in r.stderr and "tunnel" in r.stderr and "were cut (way " in r.stderr
    r = run(["import", "roads", str(HELSINKI_PBF), "--strict"], tmp_path)
    assert r.returncode == 1 and r.stderr.startswith("error: ") and "way " in r.stderr


def test_import_bad_files(tmp_path: Path) -> None:
    assert run(["import", "roads", str(tmp_path / "nope.osm")], tmp_path).returncode == 2
    bad = tmp_path / "x.tif"
    bad.write_text("nope")
    r = run(["import", "dem", str(bad)], tmp_path)
    assert r.returncode == 1 and str(bad) in r.stderr
