# SPDX-License-Identifier: Apache-2.0
"""The real shelter points of ../shared/data/facilities (read in place) as importer records.

That file (see its PROVENANCE.md) looks like the national civil-defence shelter list (민방위대피시설) and has
NO capacity field; its ``app_type_unverified`` label is a demo app's own split, not the official type. So
these tests treat every record as ``civil_defence`` with a made-up, documented capacity: TEST_CAPACITY
plus a spread by id, so that capacities differ. Those numbers are test data, not facts about the sites.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from shapely.geometry import Point

from tests.conftest import SHARED

SHELTERS_FILE = SHARED / "data" / "facilities" / "shelters_central_seoul_500.geojson"
TEST_CAPACITY = 100  # not in the source data: a test default
TEST_KIND = "civil_defence"  # what the names (…지하1층) suggest; the file's app_type label is not official


def load_records(path: Path = SHELTERS_FILE, limit: int | None = None) -> list[dict[str, Any]]:
    doc = orjson.loads(path.read_bytes())
    out = []
    for f in doc["features"][:limit]:
        p = f["properties"]
        lon, lat = f["geometry"]["coordinates"]
        out.append(
            {
                "code": f"cd-{p['id']}",
                "kind": TEST_KIND,
                "name_ko": p["name"],
                "name_en": None,
                "address": p.get("address"),
                "capacity": TEST_CAPACITY + (int(p["id"]) % 7) * 25,
                "geom": Point(lon, lat),
                "properties": {"gu": p.get("gu"), "source_id": p["id"]},
                "safe_from": None,
            }
        )
    return out
