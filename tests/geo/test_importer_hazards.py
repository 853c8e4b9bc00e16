# SPDX-License-Identifier: Apache-2.0
"""``import layer FILE --as hazard-zones`` lands in the evacuation capability's zones, with guidance."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from shapely.geometry import box
from sqlalchemy import select

from safecity.core.errors import BadRequest
from safecity.evacuation import tables as ev
from safecity.evacuation.shelters import upsert_shelters
from safecity.geo import tables as t
from safecity.geo.importer import import_layer
from tests.conftest import Api
from tests.geo.test_importer import _cli

#: 청계천 low ground, a slope of 인왕산 and a bow-tie (self-intersecting) ring.
FLOOD = box(126.977, 37.568, 126.99, 37.571)
SLOPE = box(126.955, 37.580, 126.960, 37.585)
BOWTIE = [[[127.0, 37.5], [127.01, 37.51], [127.01, 37.5], [127.0, 37.51], [127.0, 37.5]]]


def _file(path: Path, features: list[dict[str, Any]]) -> Path:
    doc = {"type": "FeatureCollection", "features": features}
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return path


def _feature(geometry: Any, **props: Any) -> dict[str, Any]:
    return {"type": "Feature", "properties": props, "geometry": geometry}


def _zones(api: Api) -> list[Any]:
    with api.platform.store.engine.connect() as conn:
        return list(conn.execute(select(ev.hazard_zones).order_by(ev.hazard_zones.c.id)))


def test_hazard_zones_file_goes_to_the_zone_table(api: Api, tmp_path: Path) -> None:
    with api.platform.store.write() as conn:
        upsert_shelters(
            conn,
            [
                {
                    "code": "th-1",
                    "kind": "temporary_housing",
                    "name_ko": "청운초등학교 체육관",
                    "name_en": "Cheongun Elementary School gym",
                    "capacity": 100,
                    "geom": box(126.9705, 37.5849, 126.9707, 37.5851).centroid,
                }
            ],
        )
    path = _file(
        tmp_path / "zones.geojson",
        [
            _feature(
                FLOOD.__geo_interface__,
                hazard="침수",
                name="청계천 저지대",
                name_eng="Cheonggyecheon lowland",
            ),
            _feature(SLOPE.__geo_interface__, hazard="landslide", name="인왕산 급경사지"),
            _feature({"type": "Polygon", "coordinates": BOWTIE}, hazard="flood", name="나비 모양"),
            _feature(SLOPE.__geo_interface__, hazard="meteor", name="운석"),
            _feature({"type": "Point", "coordinates": [127.0, 37.5]}, hazard="flood", name="점"),
        ],
    )
    report = import_layer(api.platform, path, "hazard-zones")
    assert (report.created, report.updated, report.columns["hazard"]) == (3, 0, "hazard")
    assert [i for i, _ in report.repaired] == [2]
    assert [i for i, _ in report.bad] == [3, 4] and "meteor" in report.bad[0][1]
    rows = _zones(api)
    assert [(r.hazard, r.name_ko) for r in rows] == [
        ("flood", "청계천 저지대"),
        ("landslide", "인왕산 급경사지"),
        ("flood", "나비 모양"),
    ]
    first = rows[0]
    assert first.name_en == "Cheonggyecheon lowland" and first.source == "zones.geojson" and first.active
    assert first.properties["hazard"] == "침수"
    for r in rows:
        assert r.geom.is_valid and r.geom.geom_type in ("Polygon", "MultiPolygon")
        for lang in ("ko", "en"):
            assert {"where_to_go", "which_way", "avoid"} <= set(r.guidance[lang])
    assert (
        "청운초등학교" in first.guidance["ko"]["where_to_go"]
        and "Cheongun" in first.guidance["en"]["where_to_go"]
    )
    with api.platform.store.engine.connect() as conn:
        assert conn.execute(select(t.features).where(t.features.c.layer == "hazard-zones")).first() is None
    # The public layers list them: OGC API and the evacuation capability.
    items = api.client.get("/ogcapi/collections/hazard-zones/items").json()
    assert sorted(f["properties"]["name_ko"] for f in items["features"]) == [
        "나비 모양",
        "인왕산 급경사지",
        "청계천 저지대",
    ]
    flood = api.client.get("/evacuation/hazard-zones", params={"hazard": "flood"}).json()["features"]
    assert len(flood) == 2
    # Importing the file again replaces its zones (the earlier ones are deactivated, not deleted).
    again = import_layer(api.platform, path, "hazard-zones")
    assert (again.created, again.updated) == (0, 3) and again.notes
    assert len(api.client.get("/ogcapi/collections/hazard-zones/items").json()["features"]) == 3
    assert len(_zones(api)) == 6


def test_hazard_given_on_the_command_line(api: Api, tmp_path: Path) -> None:
    path = _file(tmp_path / "slopes.geojson", [_feature(SLOPE.__geo_interface__, NAME="인왕산")])
    with pytest.raises(BadRequest, match="--hazard") as e:
        import_layer(api.platform, path, "hazard-zones")
    assert str(path) in e.value.message
    assert _zones(api) == []
    with pytest.raises(BadRequest, match="unknown hazard 'meteor'"):
        import_layer(api.platform, path, "hazard-zones", hazard="meteor")
    with pytest.raises(BadRequest, match="only for --as hazard-zones"):
        import_layer(api.platform, path, "facilities", hazard="flood")
    report = import_layer(api.platform, path, "hazard-zones", hazard="산사태")
    assert report.created == 1
    assert [r.hazard for r in _zones(api)] == ["landslide"]


def test_cli_import_hazard_zones(tmp_path: Path) -> None:
    path = _file(tmp_path / "flood.geojson", [_feature(FLOOD.__geo_interface__, name="청계천")])
    r = _cli(["import", "layer", str(path), "--as", "hazard-zones"], tmp_path)
    assert r.returncode == 1 and "--hazard" in r.stderr
    r = _cli(["import", "layer", str(path), "--as", "hazard-zones", "--hazard", "flood", "--json"], tmp_path)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["created"] == 1
