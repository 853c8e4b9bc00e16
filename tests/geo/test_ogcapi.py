# SPDX-License-Identifier: Apache-2.0
"""OGC API – Features at /ogcapi: OWSLib against a real server, and the protocol details by TestClient."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
import shapely
import yaml
from fastapi.testclient import TestClient

from safecity.app import Platform
from safecity.evacuation import tables as ev
from safecity.geo import seoul
from safecity.geo.importer import import_layer, import_population
from tests.conftest import SHARED, Api, LiveServer, weather_station
from tests.geo.data import CITY_HALL, DONGS_2021, MOIS_DISTRICTS, POPULATION, SHELTERS

SCHEMAS = SHARED / "data" / "ogcapi-features" / "core-openapi" / "schemas"
#: A box around Seoul City Hall and 명동 (lon/lat).
CITY_HALL_BOX = (126.975, 37.562, 126.985, 37.568)


def _load(platform: Platform) -> None:
    import_layer(platform, MOIS_DISTRICTS, "districts")
    import_layer(platform, DONGS_2021, "dongs")
    import_population(platform, POPULATION)
    import_layer(platform, SHELTERS, "facilities")
    import_layer(platform, SHELTERS, "shelters")
    with platform.store.write() as conn:
        conn.execute(
            ev.hazard_zones.insert().values(
                hazard="flood",
                name_ko="청계천 침수 구역",
                active=True,
                geom=shapely.box(126.977, 37.568, 126.99, 37.571),
                guidance={"ko": "높은 곳으로", "en": "go uphill"},
                created_at=datetime.now(UTC),
            )
        )


def _required(schema: str) -> list[str]:
    """The required members of one of the standard's schemas (the copy in ../shared, read in place)."""
    doc = yaml.safe_load((SCHEMAS / f"{schema}.yaml").read_text(encoding="utf-8"))
    return list(doc.get("required", []))


@pytest.fixture
def client(api: Api) -> TestClient:
    _load(api.platform)
    api.create("/Things", weather_station("City Hall AWS", *CITY_HALL))
    return api.client


def test_owslib_lists_and_reads_collections(live_server: LiveServer) -> None:
    from owslib.ogcapi.features import Features

    _load(live_server.platform)
    service = Features(f"{live_server.url}/ogcapi")
    assert service.conformance()["conformsTo"]
    ids = service.feature_collections()
    assert set(ids) >= {"districts", "dongs", "facilities", "hazard-zones", "shelters", "sensors"}
    page = service.collection_items("dongs", bbox=list(CITY_HALL_BOX), limit=1)
    assert page["numberReturned"] == 1 and page["numberMatched"] >= 2
    box = shapely.box(*CITY_HALL_BOX)
    assert all(shapely.geometry.shape(f["geometry"]).intersects(box) for f in page["features"])
    everything = service.collection_items("dongs", bbox=list(CITY_HALL_BOX), limit=100)
    assert "명동" in {f["properties"]["name_ko"] for f in everything["features"]}
    one = service.collection_item("districts", str(page["features"][0]["properties"]["district_id"]))
    assert one["properties"]["name_ko"] == "중구"
    shelters = service.collection_items("shelters", limit=5)
    assert shelters["numberMatched"] == 500 and len(shelters["features"]) == 5


def test_landing_conformance_collections(client: TestClient) -> None:
    r = client.get("/ogcapi")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert set(_required("landingPage")) <= body.keys()
    rels = {link["rel"] for link in body["links"]}
    assert {"self", "service-desc", "conformance", "data"} <= rels
    conf = client.get("/ogcapi/conformance").json()
    assert set(_required("confClasses")) <= conf.keys()
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson" in conf["conformsTo"]
    cols = client.get("/ogcapi/collections").json()
    assert set(_required("collections")) <= cols.keys()
    for c in cols["collections"]:
        assert set(_required("collection")) <= c.keys()
        assert any(link["rel"] == "items" and link["type"] == "application/geo+json" for link in c["links"])
    shelters = client.get("/ogcapi/collections/shelters").json()
    assert shelters["itemType"] == "feature"
    # The facilities file covers central/east Seoul: lon 126.948–127.110, lat 37.517–37.612 (PROVENANCE).
    west, south, east, north = shelters["extent"]["spatial"]["bbox"][0]
    assert (
        126.94 < west < 126.95 and 127.10 < east < 127.12 and 37.51 < south < 37.52 and 37.61 < north < 37.62
    )
    seoul = next(c for c in cols["collections"] if c["id"] == "districts")["extent"]["spatial"]["bbox"][0]
    assert seoul == pytest.approx([126.76, 37.41, 127.18, 37.70], abs=0.02)
    q = client.get("/ogcapi/collections/dongs/queryables").json()
    assert q["properties"]["population"]["type"] == "integer"


def _next(body: dict[str, Any], rel: str) -> str | None:
    return next((link["href"] for link in body["links"] if link["rel"] == rel), None)


def test_paging_follows_next_links_through_all_dongs(client: TestClient) -> None:
    r = client.get("/ogcapi/collections/dongs/items", params={"limit": 100})
    assert r.status_code == 200 and r.headers["content-type"] == "application/geo+json"
    body = r.json()
    assert set(_required("featureCollectionGeoJSON")) <= body.keys()
    assert (body["numberMatched"], body["numberReturned"]) == (425, 100)
    assert _next(body, "prev") is None
    seen = [f["id"] for f in body["features"]]
    href = _next(body, "next")
    pages = 1
    while href:
        page = client.get(href).json()
        assert _next(page, "prev") is not None
        seen += [f["id"] for f in page["features"]]
        href = _next(page, "next")
        pages += 1
    assert pages == 5 and len(seen) == len(set(seen)) == 425
    last = parse_qs(urlparse(_next(page, "self") or "").query)
    assert last["offset"] == ["400"] and last["limit"] == ["100"]


def test_property_and_cql2_filters(client: TestClient) -> None:
    body = client.get("/ogcapi/collections/dongs/items", params={"name_ko": "명동"}).json()
    assert body["numberMatched"] == 1
    feature = body["features"][0]
    assert feature["properties"]["code"] == "1114055000" and feature["geometry"]["type"] == "MultiPolygon"
    assert feature["properties"]["population"] == 3_666
    big = client.get(
        "/ogcapi/collections/dongs/items",
        params={"filter": "population >= 35000 AND code LIKE '1135%'", "limit": 1000},
    ).json()
    assert big["numberMatched"] == 3  # 노원구: 공릉1동, 공릉2동, 상계1동 (file: 37,732, 39,825, 38,713)
    assert all(
        f["properties"]["population"] >= 35000 and f["properties"]["code"].startswith("1135")
        for f in big["features"]
    )
    either = client.get(
        "/ogcapi/collections/districts/items",
        params={"filter": "(name_ko = '중구' OR name_ko = '종로구') AND NOT population IS NULL"},
    ).json()
    assert sorted(f["properties"]["name_ko"] for f in either["features"]) == ["종로구", "중구"]
    bad = client.get("/ogcapi/collections/dongs/items", params={"filter": "salary > 3"})
    assert bad.status_code == 400 and bad.json()["where"] == "filter" and "salary" in bad.json()["message"]
    bad = client.get("/ogcapi/collections/dongs/items", params={"filter": "population >"})
    assert bad.status_code == 400
    bad = client.get("/ogcapi/collections/dongs/items", params={"population": "many"})
    assert bad.status_code == 400 and bad.json()["where"] == "population"
    unknown = client.get("/ogcapi/collections/dongs/items", params={"colour": "red"})
    assert unknown.status_code == 400 and unknown.json()["where"] == "colour"


def test_bbox(client: TestClient) -> None:
    bbox = ",".join(str(v) for v in CITY_HALL_BOX)
    body = client.get("/ogcapi/collections/districts/items", params={"bbox": bbox}).json()
    assert {f["properties"]["name_ko"] for f in body["features"]} == {"중구"}
    zones = client.get("/ogcapi/collections/hazard-zones/items", params={"bbox": bbox}).json()
    assert zones["numberMatched"] == 1 and zones["features"][0]["properties"]["hazard"] == "flood"
    for bad in ("1,2,3", "a,b,c,d", "126,37,127,nan", "126,38,127,37"):
        r = client.get("/ogcapi/collections/dongs/items", params={"bbox": bad})
        assert r.status_code == 400, bad
        assert r.json()["where"] == "bbox" and "bbox" in r.json()["message"]
    clamped = client.get("/ogcapi/collections/dongs/items", params={"limit": 5000}).json()
    assert clamped["numberReturned"] == 425 and not any(link["rel"] == "next" for link in clamped["links"])
    r = client.get("/ogcapi/collections/dongs/items", params={"limit": 0})
    assert r.status_code == 400 and "limit" in r.json()["where"]


def test_single_features_and_not_found(client: TestClient) -> None:
    first = client.get("/ogcapi/collections/districts/items", params={"limit": 1}).json()["features"][0]
    r = client.get(f"/ogcapi/collections/districts/items/{first['id']}")
    assert r.status_code == 200 and r.headers["content-type"] == "application/geo+json"
    assert {link["rel"] for link in r.json()["links"]} >= {"self", "collection"}
    assert client.get("/ogcapi/collections/residents").status_code == 404
    assert client.get("/ogcapi/collections/residents/items").status_code == 404
    assert client.get("/ogcapi/collections/districts/items/999999").status_code == 404
    assert client.get("/ogcapi/collections/districts/items/abc").status_code == 404


def test_public_fields_only(client: TestClient) -> None:
    shelter = client.get("/ogcapi/collections/shelters/items", params={"limit": 1}).json()["features"][0]
    assert shelter["geometry"]["type"] == "Point"
    assert "properties" not in shelter["properties"] and shelter["properties"]["kind"] == "civil_defence"
    sensors = client.get("/ogcapi/collections/sensors/items").json()
    assert sensors["numberMatched"] == 1
    assert sensors["features"][0]["geometry"]["coordinates"] == pytest.approx(list(CITY_HALL))
    assert set(sensors["features"][0]["properties"]) == {"name", "description"}
    # Anonymous callers read everything here: no credentials were sent.
    assert client.get("/ogcapi/collections/sensors/items", headers={"Authorization": ""}).status_code == 200


def test_openapi_is_self_contained(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()
    assert "/ogcapi/collections/{collectionId}/items" in doc["paths"]

    def refs(node: Any) -> list[str]:
        if isinstance(node, dict):
            return [v for k, v in node.items() if k == "$ref"] + [r for v in node.values() for r in refs(v)]
        if isinstance(node, list):
            return [r for v in node for r in refs(v)]
        return []

    assert all(r.startswith("#/") for r in refs(doc))


def test_schemas_are_read_in_place() -> None:
    assert Path(SCHEMAS / "landingPage.yaml").is_file()


def test_the_shipped_boundaries_carry_their_attribution(api: Api) -> None:
    # boundaries a city imported from its own files owe nobody on our behalf
    _load(api.platform)
    own = api.client.get("/ogcapi/collections/dongs").json()
    assert "attribution" not in own and not any(link["rel"] == "license" for link in own["links"])
    with (
        seoul.boundary_file(seoul.DISTRICTS_FILE) as districts,
        seoul.boundary_file(seoul.DONGS_FILE) as dongs,
    ):
        import_layer(api.platform, districts, "districts")
        import_layer(api.platform, dongs, "dongs")
    for cid in ("districts", "dongs"):
        body = api.client.get(f"/ogcapi/collections/{cid}").json()
        assert "vuski/admdongkor" in body["attribution"] and "Apache-2.0" in body["attribution"], cid
        licences = {link["href"] for link in body["links"] if link["rel"] == "license"}
        assert licences == {"https://github.com/vuski/admdongkor", "https://github.com/southkorea/seoul-maps"}
    listed = {c["id"]: c for c in api.client.get("/ogcapi/collections").json()["collections"]}
    assert "attribution" in listed["dongs"] and "attribution" not in listed["shelters"]
