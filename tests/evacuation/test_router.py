# SPDX-License-Identifier: Apache-2.0
"""``/shelters`` and ``/evacuation/...`` over HTTP on both stores: auth, validation, all-or-nothing writes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pyproj import Geod
from shapely.geometry import Point, Polygon, box, shape
from sqlalchemy import insert

from safecity.evacuation.shelters import upsert_shelters
from safecity.geo.tables import areas
from tests.conftest import Api
from tests.evacuation.shelter_data import load_records

CITY_HALL = (126.9780, 37.5665)


def shelter_body(**kw: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "code": "th-1",
        "kind": "temporary_housing",
        "name_ko": "청운초등학교 체육관",
        "name_en": "Cheongun Elementary School gym",
        "capacity": 120,
        "geometry": {"type": "Point", "coordinates": [126.9706, 37.5850]},
    }
    body.update(kw)
    return body


def test_reads_are_public_writes_need_an_operator(api: Api) -> None:
    c = api.client
    assert c.get("/shelters").status_code == 200
    assert c.get("/evacuation/hazard-zones").status_code == 200
    assert c.get("/evacuation/road-closures").status_code == 200
    anonymous_writes = [
        ("post", "/shelters", shelter_body()),
        ("patch", "/shelters/1", {"is_open": False}),
        ("put", "/shelters/1/occupancy", {"occupancy": 1}),
        ("post", "/evacuation/hazard-zones/collapse-cordon", {"lon": 127.0, "lat": 37.5, "height_m": 10}),
        ("post", "/evacuation/road-closures", {"reason": "x", "geometry": {}}),
        ("post", "/evacuation/plan", {"area_code": "11110", "hazard": "flood"}),
    ]
    for method, path, body in anonymous_writes:
        r = c.request(method.upper(), path, json=body)
        assert r.status_code == 401, (path, r.text)
    r = c.post("/shelters", json=shelter_body(), headers=api.headers)
    assert r.status_code == 201, r.text
    feature = r.json()
    assert feature["type"] == "Feature"
    p = feature["properties"]
    assert p["name_ko"] == "청운초등학교 체육관" and p["name_en"].startswith("Cheongun")
    assert p["kind_ko"] == "이재민 임시주거시설" and p["safe_from"] == [
        "displacement",
        "flood",
        "landslide",
        "typhoon",
    ]
    got = c.get(f"/shelters/{feature['id']}")
    assert got.status_code == 200 and got.json()["properties"]["capacity"] == 120


def test_occupancy_above_capacity_is_409_and_writes_nothing(api: Api) -> None:
    sid = api.client.post("/shelters", json=shelter_body(), headers=api.headers).json()["id"]
    r = api.client.put(f"/shelters/{sid}/occupancy", json={"occupancy": 100}, headers=api.headers)
    assert r.status_code == 200 and r.json()["properties"]["available"] == 20
    r = api.client.put(f"/shelters/{sid}/occupancy", json={"occupancy": 121}, headers=api.headers)
    assert r.status_code == 409
    body = r.json()
    assert body["where"] == "occupancy" and "capacity of 120" in body["message"]
    assert body["details"]["capacity"] == 120
    assert api.client.get(f"/shelters/{sid}").json()["properties"]["occupancy"] == 100
    r = api.client.put(f"/shelters/{sid}/occupancy", json={"occupancy": -1}, headers=api.headers)
    assert r.status_code == 400 and "occupancy" in r.json()["where"]
    r = api.client.patch(f"/shelters/{sid}", json={"capacity": 50}, headers=api.headers)
    assert r.status_code == 409 and r.json()["where"] == "capacity"
    assert (
        api.client.put("/shelters/999/occupancy", json={"occupancy": 1}, headers=api.headers).status_code
        == 404
    )


def test_bad_shelter_input_names_the_field(api: Api) -> None:
    for body, where in [
        (shelter_body(capacity=-5), "capacity"),
        (shelter_body(kind="bunker"), "kind"),
        (shelter_body(geometry={"type": "Point", "coordinates": [300, 37]}), "geometry"),
        (shelter_body(occupancy=500), "body"),
    ]:
        r = api.client.post("/shelters", json=body, headers=api.headers)
        assert r.status_code == 400, r.text
        assert where in r.json()["where"]
    assert api.client.get("/shelters").json()["features"] == []
    api.client.post("/shelters", json=shelter_body(), headers=api.headers)
    assert api.client.post("/shelters", json=shelter_body(), headers=api.headers).status_code == 409


def test_filters_over_http(api: Api) -> None:
    with api.platform.store.write() as conn:
        upsert_shelters(conn, load_records(limit=80), now=datetime(2026, 7, 1, tzinfo=UTC))
    c = api.client
    fc = c.get("/shelters", params={"near": f"{CITY_HALL[0]},{CITY_HALL[1]}", "limit": 5}).json()
    assert fc["type"] == "FeatureCollection" and len(fc["features"]) == 5
    d = [f["properties"]["distance_m"] for f in fc["features"]]
    assert d == sorted(d)
    first = fc["features"][0]["id"]
    assert c.patch(f"/shelters/{first}", json={"is_open": False}, headers=api.headers).status_code == 200
    open_ids = {
        f["id"] for f in c.get("/shelters", params={"open": "true", "limit": 1000}).json()["features"]
    }
    assert first not in open_ids and len(open_ids) == 79
    bbox = "126.96,37.57,126.99,37.59"
    inside = c.get("/shelters", params={"bbox": bbox}).json()["features"]
    assert inside and all(box(126.96, 37.57, 126.99, 37.59).intersects(shape(f["geometry"])) for f in inside)
    assert c.get("/shelters", params={"safe_from": "flood"}).json()["features"] == []
    r = c.get("/shelters", params={"bbox": "1,2,3"})
    assert r.status_code == 400 and r.json()["where"] == "bbox"
    assert c.get("/shelters", params={"safe_from": "meteor"}).status_code == 400


def test_hazard_zone_with_written_guidance(api: Api) -> None:
    api.client.post("/shelters", json=shelter_body(), headers=api.headers)
    zone = {
        "hazard": "flood",
        "name_ko": "청계천 저지대",
        "geometry": box(126.975, 37.567, 126.985, 37.571).__geo_interface__,
    }
    r = api.client.post("/evacuation/hazard-zones", json=zone, headers=api.headers)
    assert r.status_code == 201, r.text
    g = r.json()["properties"]["guidance"]
    for lang in ("ko", "en"):
        assert {"where_to_go", "which_way", "avoid"} <= set(g[lang])
    assert "청운초등학교" in g["ko"]["where_to_go"] and "north" in g["en"]["which_way"]
    listed = api.client.get("/evacuation/hazard-zones", params={"hazard": "flood"}).json()["features"]
    assert [f["id"] for f in listed] == [r.json()["id"]]
    bowtie = {
        "type": "Polygon",
        "coordinates": [[[127, 37.5], [127.01, 37.51], [127.01, 37.5], [127, 37.51], [127, 37.5]]],
    }
    r = api.client.post("/evacuation/hazard-zones", json={**zone, "geometry": bowtie}, headers=api.headers)
    assert r.status_code == 400 and r.json()["where"] == "geometry"
    assert len(api.client.get("/evacuation/hazard-zones").json()["features"]) == 1
    zid = listed[0]["id"]
    assert (
        api.client.post(f"/evacuation/hazard-zones/{zid}/deactivate", headers=api.headers).status_code == 200
    )
    assert api.client.get("/evacuation/hazard-zones").json()["features"] == []


@pytest.mark.parametrize("height", [8.0, 40.0, 120.0])
def test_collapse_cordon(api: Api, height: float) -> None:
    lon, lat = 126.9910, 37.5700
    r = api.client.post(
        "/evacuation/hazard-zones/collapse-cordon",
        json={"lon": lon, "lat": lat, "height_m": height, "name_ko": "노후 건물"},
        headers=api.headers,
    )
    assert r.status_code == 201, r.text
    f = r.json()
    radius = max(10.0, 1.5 * height)
    assert f["properties"]["radius_m"] == pytest.approx(radius) and f["properties"]["hazard"] == "collapse"
    polygon = shape(f["geometry"])
    assert isinstance(polygon, Polygon)
    assert polygon.contains(Point(lon, lat))
    # the stored WGS84 ring lies at the radius on the ground (geodesic check, independent of EPSG:5186)
    geod = Geod(ellps="WGS84")
    for x, y in list(polygon.exterior.coords)[::8]:
        assert geod.inv(lon, lat, x, y)[2] == pytest.approx(radius, rel=0.005)
    r = api.client.post(
        "/evacuation/hazard-zones/collapse-cordon",
        json={"lon": lon, "lat": lat, "height_m": 0},
        headers=api.headers,
    )
    assert r.status_code == 400 and "height_m" in r.json()["where"]


def test_road_closures(api: Api) -> None:
    line = {"type": "LineString", "coordinates": [[126.97, 37.56], [126.98, 37.56]]}
    r = api.client.post(
        "/evacuation/road-closures", json={"reason": "침수", "geometry": line}, headers=api.headers
    )
    assert r.status_code == 201, r.text
    cid = r.json()["id"]
    assert [f["id"] for f in api.client.get("/evacuation/road-closures").json()["features"]] == [cid]
    r = api.client.post(
        "/evacuation/road-closures",
        json={"reason": "x", "geometry": {"type": "Point", "coordinates": [1, 2]}},
        headers=api.headers,
    )
    assert r.status_code == 400 and r.json()["where"] == "geometry"
    assert (
        api.client.post(f"/evacuation/road-closures/{cid}/deactivate", headers=api.headers).status_code == 200
    )
    assert api.client.get("/evacuation/road-closures").json()["features"] == []
    all_ = api.client.get("/evacuation/road-closures", params={"include_inactive": "true"}).json()["features"]
    assert [f["properties"]["active"] for f in all_] == [False]
    assert api.client.post("/evacuation/road-closures/77/deactivate", headers=api.headers).status_code == 404


def _seed_areas(api: Api, population: int | None) -> None:
    """A district cut into four dongs over the real shelters of Jongno (a test layout, not real dongs)."""
    now = datetime(2026, 7, 1, tzinfo=UTC)
    with api.platform.store.write() as conn:
        did = conn.execute(
            insert(areas)
            .values(
                kind="district",
                code="11110",
                code_system="mois",
                name_ko="종로구",
                name_en="Jongno-gu",
                geom=box(126.95, 37.56, 127.01, 37.60),
                imported_at=now,
            )
            .returning(areas.c.id)
        ).scalar_one()
        for i, (x0, y0) in enumerate([(126.95, 37.56), (126.98, 37.56), (126.95, 37.58), (126.98, 37.58)]):
            conn.execute(
                insert(areas).values(
                    kind="dong",
                    code=f"11110{510 + i}00",
                    code_system="mois",
                    name_ko=f"시험{i}동",
                    parent_id=did,
                    population=population,
                    geom=box(x0, y0, x0 + 0.03, y0 + 0.02),
                    imported_at=now,
                )
            )
        upsert_shelters(conn, load_records(limit=200), now=now)


def test_plan_over_http_uses_only_open_shelters_within_capacity(api: Api) -> None:
    _seed_areas(api, population=3000)
    c = api.client
    near = c.get("/shelters", params={"near": "126.975,37.575", "limit": 3}).json()["features"]
    closed = near[0]["id"]
    c.patch(f"/shelters/{closed}", json={"is_open": False}, headers=api.headers)
    full = near[1]["id"]
    cap = near[1]["properties"]["capacity"]
    c.put(f"/shelters/{full}/occupancy", json={"occupancy": cap}, headers=api.headers)
    r = c.post("/evacuation/plan", json={"area_code": "11110", "hazard": "air_raid"}, headers=api.headers)
    assert r.status_code == 200, r.text
    plan = r.json()
    assert plan["total_people"] == 12_000 and plan["assigned"] + plan["unassigned"] == 12_000
    loads = {row["shelter_id"]: row["people"] for row in plan["loads"]}
    assert closed not in loads and full not in loads
    shelters = {
        f["id"]: f["properties"] for f in c.get("/shelters", params={"limit": 1000}).json()["features"]
    }
    for sid, people in loads.items():
        assert people <= shelters[sid]["available"]
    assert {z["name_ko"] for z in plan["zones"]} == {f"시험{i}동" for i in range(4)}
    # no shelter is safe from floods here (civil-defence basements): a clear 409
    r = c.post("/evacuation/plan", json={"area_code": "11110", "hazard": "flood"}, headers=api.headers)
    assert r.status_code == 409 and r.json()["where"] == "hazard"
    r = c.post("/evacuation/plan", json={"area_code": "99999", "hazard": "air_raid"}, headers=api.headers)
    assert r.status_code == 404
    poly = box(126.95, 37.56, 126.981, 37.581).__geo_interface__
    r = c.post("/evacuation/plan", json={"area": poly, "hazard": "air_raid"}, headers=api.headers)
    assert r.status_code == 200 and r.json()["total_people"] == 3000


def test_a_shelter_of_unknown_capacity_is_shown_as_unknown_and_left_out_of_plans(api: Api) -> None:
    """Imported without a capacity (issue 12): 'capacity unknown', never '0 places'; routing may still
    send people there, an area plan cannot count its places and names it for the operator to fix."""
    _seed_areas(api, population=3000)
    c = api.client
    r = c.post(
        "/shelters", json=shelter_body(code="unk-1", kind="civil_defence", capacity=None), headers=api.headers
    )
    assert r.status_code == 201, r.text
    unknown = r.json()
    assert unknown["properties"]["capacity"] is None and unknown["properties"]["available"] is None
    with_space = {
        f["id"] for f in c.get("/shelters", params={"has_space": "true", "limit": 1000}).json()["features"]
    }
    assert unknown["id"] in with_space  # not known to be full
    # occupancy has no upper bound to check against, and is kept
    r = c.put(f"/shelters/{unknown['id']}/occupancy", json={"occupancy": 5000}, headers=api.headers)
    assert r.status_code == 200 and r.json()["properties"]["occupancy"] == 5000
    r = c.post("/evacuation/plan", json={"area_code": "11110", "hazard": "air_raid"}, headers=api.headers)
    assert r.status_code == 200, r.text
    plan = r.json()
    assert unknown["id"] not in {row["shelter_id"] for row in plan["loads"]}
    assert [s["code"] for s in plan["shelters_capacity_unknown"]] == ["unk-1"]
    # once the operator sets it, the shelter counts (and occupancy above it is refused as before)
    r = c.patch(f"/shelters/{unknown['id']}", json={"capacity": 6000}, headers=api.headers)
    assert r.status_code == 200 and r.json()["properties"]["available"] == 1000
    r = c.post("/evacuation/plan", json={"area_code": "11110", "hazard": "air_raid"}, headers=api.headers)
    assert r.json()["shelters_capacity_unknown"] == []


def test_plan_needs_population(api: Api) -> None:
    _seed_areas(api, population=None)
    r = api.client.post(
        "/evacuation/plan", json={"area_code": "11110", "hazard": "air_raid"}, headers=api.headers
    )
    assert r.status_code == 409
    assert "population data must be imported first" in r.json()["message"]
