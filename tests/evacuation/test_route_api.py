# SPDX-License-Identifier: Apache-2.0
"""``GET /evacuation/route`` on the real Gongdeok–Cheongpa network, with shelters inserted by SQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import networkx as nx  # type: ignore[import-untyped]
import pytest
import shapely
from fastapi.testclient import TestClient
from shapely.geometry import LineString, Point, shape
from sqlalchemy import update

from safecity.app import Platform, create_app
from safecity.evacuation.routing import EvacuationRouting
from safecity.evacuation.tables import hazard_zones, road_closures, shelters
from safecity.geo.roads.graph import Mode, graph_path
from safecity.geo.roads.routing import Router
from safecity.settings import Settings
from tests.geo.roads.osm_data import gongdeok

NOW = datetime(2026, 7, 15, 3, 0, tzinfo=UTC)
ORIGIN = (126.9575, 37.5475)


@pytest.fixture
def client(settings: Settings, platform: Platform) -> Iterator[TestClient]:
    gongdeok().save(graph_path(settings.data_dir))
    with TestClient(create_app(settings, platform, start_services=False)) as c:
        yield c


def _nodes_by_walk_time() -> list[tuple[float, int]]:
    """Nodes of the walk network by travel time from ORIGIN's node (the route API's own graph)."""
    r = Router(gongdeok())
    start, _ = r.snap(*ORIGIN, Mode.walk)
    e = r.edges(Mode.walk)
    g = nx.DiGraph()
    g.add_weighted_edges_from(zip(e.src.tolist(), e.dst.tolist(), e.seconds.tolist(), strict=True))
    times = nx.single_source_dijkstra_path_length(g, start)
    return sorted((t, n) for n, t in times.items())


def _near(seconds: float) -> Point:
    """A point ~2 m from a street node about ``seconds`` of walking from ORIGIN."""
    _t, node = next((t, n) for t, n in _nodes_by_walk_time() if t >= seconds)
    g = gongdeok()
    return Point(float(g.node_lon[node]) + 0.00002, float(g.node_lat[node]))


def _shelter(platform: Platform, name: str, at: Point, **kw: Any) -> int:
    row = {
        "kind": "earthquake_outdoor",
        "name_ko": name,
        "name_en": name.upper(),
        "capacity": 100,
        "occupancy": 0,
        "is_open": True,
        "safe_from": ["earthquake"],
        "geom": at,
        "updated_at": NOW,
        **kw,
    }
    with platform.store.engine.begin() as conn:
        key = conn.execute(shelters.insert().values(**row)).inserted_primary_key
        assert key is not None
        return int(key[0])


@pytest.fixture
def sites(platform: Platform) -> dict[str, int]:
    """A closed and a full shelter near the origin, two open ones farther away."""
    return {
        "closed": _shelter(platform, "닫힘", _near(120), is_open=False),
        "full": _shelter(platform, "가득", _near(200), occupancy=100),
        "open": _shelter(platform, "열림", _near(350)),
        "flood": _shelter(
            platform, "수해", _near(600), kind="temporary_housing", safe_from=["flood", "earthquake"]
        ),
    }


def _route(client: TestClient, **params: str) -> Any:
    return client.get("/evacuation/route", params={"from": f"{ORIGIN[0]},{ORIGIN[1]}", **params})


def test_nearest_open_shelter_with_space(client: TestClient, sites: dict[str, int]) -> None:
    r = _route(client)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/geo+json")
    f = r.json()
    assert f["type"] == "Feature" and f["geometry"]["type"] == "LineString"
    p = f["properties"]
    assert p["shelter"]["id"] == sites["open"]  # never the nearer closed or full one
    assert p["shelter"]["name_ko"] == "열림" and p["shelter"]["name_en"] == "열림".upper()
    assert p["shelter"]["kind"] == "earthquake_outdoor"
    assert p["mode"] == "walk" and 300 <= p["duration_s"] <= 420
    assert p["distance_m"] == pytest.approx(p["duration_s"] * 4.5 / 3.6, rel=0.01)
    line = shape(f["geometry"])
    assert line.distance(Point(ORIGIN)) < 0.001
    assert p["edge_ids"] and p["osm_way_ids"]

    drive = _route(client, mode="drive")
    assert drive.status_code == 200, drive.text
    assert drive.json()["properties"]["shelter"]["id"] in (sites["open"], sites["flood"])
    assert drive.json()["properties"]["mode"] == "drive"


def test_hazard_filter(client: TestClient, sites: dict[str, int]) -> None:
    r = _route(client, hazard="flood")
    assert r.status_code == 200, r.text
    assert r.json()["properties"]["shelter"]["id"] == sites["flood"]
    assert r.json()["properties"]["hazard"] == "flood"
    r = _route(client, hazard="heat")
    assert r.status_code == 404 and r.json()["code"] == "no_shelter"


def test_full_or_closed_shelters_are_skipped(
    client: TestClient, platform: Platform, sites: dict[str, int]
) -> None:
    with platform.store.engine.begin() as conn:
        conn.execute(update(shelters).where(shelters.c.id == sites["open"]).values(occupancy=100))
    assert _route(client).json()["properties"]["shelter"]["id"] == sites["flood"]
    with platform.store.engine.begin() as conn:
        conn.execute(update(shelters).where(shelters.c.id == sites["flood"]).values(is_open=False))
    r = _route(client)
    assert r.status_code == 404 and r.json()["code"] == "no_shelter"


def test_flood_zone_rules_out_a_shelter_for_floods_only(
    client: TestClient, platform: Platform, sites: dict[str, int]
) -> None:
    """The routing uses the shelter registry's rule: a shelter inside an active flood zone is no flood
    shelter, but it still takes people fleeing an earthquake (and the route may cross the flood zone)."""
    with platform.store.engine.begin() as conn:
        conn.execute(update(shelters).where(shelters.c.id == sites["open"]).values(occupancy=100))
        at = conn.execute(shelters.select().where(shelters.c.id == sites["flood"])).mappings().one()["geom"]
    zone = at.buffer(0.0004)  # ~40 m around the riverside shelter
    assert not zone.covers(Point(ORIGIN))
    assert _route(client, hazard="flood").json()["properties"]["shelter"]["id"] == sites["flood"]
    with platform.store.engine.begin() as conn:
        conn.execute(hazard_zones.insert().values(hazard="flood", geom=zone, created_at=NOW))

    quake = _route(client, hazard="earthquake")
    assert quake.status_code == 200, quake.text
    assert quake.json()["properties"]["shelter"]["id"] == sites["flood"]
    assert quake.json()["properties"]["avoided"]["hazard_zones"] == 0

    flood = _route(client, hazard="flood")
    assert flood.status_code == 404 and flood.json()["code"] == "no_shelter"
    unnamed = _route(client)  # hazard unknown: a shelter inside any active zone is left out
    assert unnamed.status_code == 404 and unnamed.json()["code"] == "no_shelter"

    # A collapse cordon rules the shelter out whatever the hazard.
    with platform.store.engine.begin() as conn:
        conn.execute(update(hazard_zones).values(hazard="collapse"))
    r = _route(client, hazard="earthquake")
    assert r.status_code == 404 and r.json()["code"] == "no_shelter"


def test_unknown_hazard_names_the_parameter(client: TestClient, sites: dict[str, int]) -> None:
    r = _route(client, hazard="meteor")
    assert r.status_code == 400 and r.json()["where"] == "hazard"


def test_closed_road_and_hazard_zone_are_avoided(
    client: TestClient, platform: Platform, sites: dict[str, int]
) -> None:
    before = shape(_route(client).json()["geometry"])
    # Close the street across the middle of the route.
    mid = before.interpolate(0.5, normalized=True)
    coords = list(before.coords)
    i = min(range(len(coords) - 1), key=lambda k: LineString(coords[k : k + 2]).distance(mid))
    (x0, y0), (x1, y1) = coords[i], coords[i + 1]
    n = ((y0 - y1) * 0.0006, (x1 - x0) * 0.0006)
    scale = 1 / max((n[0] ** 2 + n[1] ** 2) ** 0.5, 1e-12) * 0.00006  # ~6 m either side
    closure = LineString(
        [(mid.x - n[0] * scale, mid.y - n[1] * scale), (mid.x + n[0] * scale, mid.y + n[1] * scale)]
    )
    assert before.intersects(closure)
    with platform.store.engine.begin() as conn:
        conn.execute(road_closures.insert().values(reason="collapse", geom=closure, created_at=NOW))
    r = _route(client)
    assert r.status_code == 200, r.text
    after = shape(r.json()["geometry"])
    assert not after.intersects(closure)
    assert r.json()["properties"]["avoided"]["road_closures"] == 1
    assert after.length != before.length

    zone = after.interpolate(0.5, normalized=True).buffer(0.0003)
    assert not zone.covers(Point(ORIGIN))
    with platform.store.engine.begin() as conn:
        conn.execute(hazard_zones.insert().values(hazard="fire", geom=zone, created_at=NOW))
    r = _route(client)
    assert r.status_code == 200, r.text
    assert not shape(r.json()["geometry"]).intersects(zone)
    assert not shape(r.json()["geometry"]).intersects(closure)

    # An inactive closure no longer counts.
    with platform.store.engine.begin() as conn:
        conn.execute(update(road_closures).values(active=False))
    assert _route(client).json()["properties"]["avoided"]["road_closures"] == 0


def test_no_route_when_cut_off(client: TestClient, platform: Platform, sites: dict[str, int]) -> None:
    here = Point(ORIGIN)
    ring = shapely.difference(here.buffer(0.0025), here.buffer(0.0018))
    with platform.store.engine.begin() as conn:
        conn.execute(road_closures.insert().values(reason="cordon", geom=ring, created_at=NOW))
    r = _route(client)
    assert r.status_code == 404, r.text
    assert r.json()["code"] == "no_route" and "no route" in r.json()["message"]


@pytest.mark.parametrize("bad", ["abc", "126.95", "126.95,37.5,1", "126.95,nan", "200,37.5", ""])
def test_bad_from_names_the_parameter(client: TestClient, bad: str) -> None:
    r = client.get("/evacuation/route", params={"from": bad})
    assert r.status_code == 400, r.text
    assert r.json()["where"] == "from" and "from" in r.json()["message"]


def test_bad_mode_and_missing_from(client: TestClient) -> None:
    r = _route(client, mode="fly")
    assert r.status_code == 400 and "mode" in r.json()["where"]
    r = client.get("/evacuation/route")
    assert r.status_code == 400 and "from" in r.json()["where"]


def test_outside_the_network(client: TestClient, sites: dict[str, int]) -> None:
    r = client.get("/evacuation/route", params={"from": "127.0473,37.5172"})  # Gangnam, 8 km away
    assert r.status_code == 422
    assert r.json()["code"] == "outside_network" and "outside the road network" in r.json()["message"]


def test_no_network_imported(settings: Settings, platform: Platform) -> None:
    with TestClient(create_app(settings, platform, start_services=False)) as c:
        r = c.get("/evacuation/route", params={"from": "126.9575,37.5475"})
    assert r.status_code == 503
    assert r.json()["code"] == "road_network_missing" and "safecity import roads" in r.json()["message"]


def test_network_is_loaded_at_start(client: TestClient) -> None:
    service = client.app.state.services.get(EvacuationRouting)  # type: ignore[attr-defined]
    assert service._router is not None  # loaded by the router's lifespan, before any request


def test_broken_network_file_does_not_stop_the_server(settings: Settings, platform: Platform) -> None:
    path = graph_path(settings.data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"not a zip")
    with TestClient(create_app(settings, platform, start_services=False)) as c:
        assert c.get("/health").status_code == 200
        r = c.get("/evacuation/route", params={"from": "126.9575,37.5475"})
    assert r.status_code == 500 and str(path) in r.json()["message"]
