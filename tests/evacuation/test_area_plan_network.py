# SPDX-License-Identifier: Apache-2.0
"""``POST /evacuation/plan`` with walking times on the real Gongdeok–Cheongpa road network (both stores).

The two dongs are test boxes inside the extract (not real dong boundaries); the shelters are inserted by
SQL a few metres from street nodes. Expected times come from networkx on the router's own walk graph.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import networkx as nx  # type: ignore[import-untyped]
import pytest
from shapely.geometry import Point, box
from sqlalchemy import insert

from safecity.evacuation.plan import WALK_SPEED_MS
from safecity.evacuation.tables import road_closures, shelters
from safecity.geo.roads.graph import Mode, graph_path
from safecity.geo.roads.routing import Router
from safecity.geo.tables import areas
from tests.conftest import Api
from tests.geo.roads.osm_data import gongdeok

NOW = datetime(2026, 7, 15, 3, 0, tzinfo=UTC)
DONGS = {
    "1144052000": box(126.950, 37.542, 126.957, 37.548),
    "1144053000": box(126.958, 37.549, 126.965, 37.555),
}
SHELTERS = {"north": (126.953, 37.553), "south": (126.963, 37.544)}


def _node_point(router: Router, lon: float, lat: float) -> Point:
    node, _ = router.snap(lon, lat, Mode.walk)
    g = router.graph
    return Point(float(g.node_lon[node]) + 0.00002, float(g.node_lat[node]))


def _seed(api: Api, router: Router) -> dict[str, int]:
    with api.platform.store.write() as conn:
        did = conn.execute(
            insert(areas)
            .values(
                kind="district",
                code="11440",
                code_system="mois",
                name_ko="마포구",
                geom=box(126.948, 37.540, 126.968, 37.557),
                imported_at=NOW,
            )
            .returning(areas.c.id)
        ).scalar_one()
        for code, geom in DONGS.items():
            conn.execute(
                insert(areas).values(
                    kind="dong",
                    code=code,
                    code_system="mois",
                    name_ko=f"시험{code[-4:-2]}동",
                    parent_id=did,
                    population=300,
                    geom=geom,
                    imported_at=NOW,
                )
            )
        ids = {}
        for name, (lon, lat) in SHELTERS.items():
            ids[name] = conn.execute(
                insert(shelters)
                .values(
                    kind="earthquake_outdoor",
                    name_ko=name,
                    capacity=1000,
                    occupancy=0,
                    is_open=True,
                    safe_from=["earthquake"],
                    geom=_node_point(router, lon, lat),
                    updated_at=NOW,
                )
                .returning(shelters.c.id)
            ).scalar_one()
    return ids


def _expected_s(router: Router, a: Point, b: Point) -> float:
    """networkx's walking time from a to b at the plan's walking speed, snap legs included."""
    (na, da), (nb, db) = router.snap(a.x, a.y, Mode.walk), router.snap(b.x, b.y, Mode.walk)
    e = router.edges(Mode.walk)
    g = nx.DiGraph()
    g.add_weighted_edges_from(zip(e.src.tolist(), e.dst.tolist(), e.seconds.tolist(), strict=True))
    speed = router.typical_speed(Mode.walk)
    seconds = nx.dijkstra_path_length(g, na, nb) + (da + db) / speed
    return float(seconds * speed / WALK_SPEED_MS)


def _plan(api: Api, **kw: Any) -> Any:
    body = {"area_code": "11440", "hazard": "earthquake", **kw}
    return api.client.post("/evacuation/plan", json=body, headers=api.headers)


def test_plan_walks_the_road_network(api: Api) -> None:
    graph = gongdeok()
    graph.save(graph_path(api.platform.settings.data_dir))
    router = Router(graph)
    ids = _seed(api, router)
    names = {v: k for k, v in ids.items()}
    where = {name: _node_point(router, *xy) for name, xy in SHELTERS.items()}

    r = _plan(api)  # default: the network, since one is imported
    assert r.status_code == 200, r.text
    plan = r.json()
    assert plan["travel"]["mode"] == "network" and plan["travel"]["unreachable_pairs"] == 0
    assert plan["assigned"] == 600 and plan["unassigned"] == 0
    straight = _plan(api, travel="straight").json()
    assert straight["travel"]["mode"] == "straight"
    by_zone = {z["zone"]: z for z in plan["zones"]}
    straight_by_zone = {z["zone"]: z for z in straight["zones"]}
    for code, dong in DONGS.items():
        centre = dong.representative_point()
        expected = {n: _expected_s(router, centre, p) for n, p in where.items()}
        nearest = min(expected, key=expected.__getitem__)
        (leg,) = by_zone[code]["assigned"]
        assert names[leg["shelter_id"]] == nearest
        assert leg["time_s"] == pytest.approx(expected[nearest], abs=0.2)
        # streets are never shorter than the straight line
        assert leg["time_s"] >= straight_by_zone[code]["time_max_s"] - 0.2

    # A walk longer than max_walk_s counts as unreachable: nobody can be placed within 60 s.
    short = _plan(api, max_walk_s=60).json()
    assert short["travel"]["unreachable_pairs"] == 4 and short["unassigned"] == 600
    assert plan["travel"]["max_walk_s"] == 3 * 3600

    # Cut the north shelter off with a closed ring of roads: nobody can reach it, all go south.
    ring = where["north"].buffer(0.0012).difference(where["north"].buffer(0.0008))
    assert not any(ring.covers(d.representative_point()) for d in DONGS.values())
    with api.platform.store.write() as conn:
        conn.execute(insert(road_closures).values(reason="cordon", geom=ring, created_at=NOW))
    cut = _plan(api, travel="network").json()
    assert cut["travel"]["unreachable_pairs"] == 2
    assert {row["shelter_id"] for row in cut["loads"]} == {ids["south"]}
    assert cut["assigned"] == 600
    # Straight lines ignore the closure.
    assert {row["shelter_id"] for row in _plan(api, travel="straight").json()["loads"]} != {ids["south"]}


def test_network_travel_needs_a_network(api: Api) -> None:
    _seed(api, Router(gongdeok()))
    r = _plan(api, travel="network")
    assert r.status_code == 409 and r.json()["where"] == "travel"
    r = _plan(api)
    assert r.status_code == 200 and r.json()["travel"]["mode"] == "straight"
    r = _plan(api, travel="bicycle")
    assert r.status_code == 400
