# SPDX-License-Identifier: Apache-2.0
"""Who an alert reaches, on the real Seoul district boundaries (MOIS 2015)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import numpy as np
import pytest
import shapely
from shapely.geometry import Point, Polygon, shape
from shapely.geometry.base import BaseGeometry

from safecity.app import Platform
from safecity.geo.importer import import_layer
from safecity.warning.subscriptions import SubscriptionIn, circle, create_subscription, subscriptions_by_ids
from safecity.warning.targeting import Target, TargetIndex
from tests.geo.data import DONGS_2021, MOIS_DISTRICTS

DONGJAK, GANGNAM, GWANAK, SEOCHO = "11590", "11680", "11620", "11650"
NORYANGJIN = (126.9424, 37.5113)  # 노량진역, 동작구
GANGNAM_OFFICE = (127.0473, 37.5172)  # 강남구청
NOW = datetime(2026, 8, 8, 12, tzinfo=UTC)


@pytest.fixture(scope="module")
def districts() -> dict[str, BaseGeometry]:
    doc = json.loads(MOIS_DISTRICTS.read_text(encoding="utf-8"))
    return {f["properties"]["SIG_CD"]: shape(f["geometry"]) for f in doc["features"]}


def test_point_in_dongjak_is_targeted_and_gangnam_is_not(districts: dict[str, BaseGeometry]) -> None:
    index = TargetIndex([NORYANGJIN[0], GANGNAM_OFFICE[0]], [NORYANGJIN[1], GANGNAM_OFFICE[1]], [1, 2])
    assert index.recipients(districts[DONGJAK]).tolist() == [1]
    assert index.recipients(districts[GANGNAM]).tolist() == [2]
    # By code only, once the index knows the boundaries.
    coded = TargetIndex([NORYANGJIN[0]], [NORYANGJIN[1]], [1], area_geometries=districts)
    assert coded.recipients(None, [DONGJAK]).tolist() == [1]
    assert coded.recipients(None, [GANGNAM]).tolist() == []


def test_code_subscribers(districts: dict[str, BaseGeometry]) -> None:
    index = TargetIndex(
        targets=[
            Target(10, shape=districts[DONGJAK], codes=(DONGJAK,)),
            Target(11, shape=districts[GWANAK], codes=(GWANAK,)),
            Target(12, codes=("1159051000",)),  # a dong of 동작구 (노량진1동), without geometry
        ]
    )
    assert index.recipients(None, [DONGJAK]).tolist() == [10, 12]
    assert index.recipients(None, ["1159051000"]).tolist() == [10, 12]  # the dong's district too
    assert index.recipients(None, ["1159052000"]).tolist() == [10]
    assert index.recipients(None, [GANGNAM]).tolist() == []
    # 동작구 and 관악구 share a border and the boundary file overlaps them by slivers: a 동작구 alert
    # must not reach the 관악구 subscriber.
    assert index.recipients(districts[DONGJAK]).tolist() == [10]
    # A circle across the border reaches both.
    border = shapely.shortest_line(districts[DONGJAK].boundary, districts[GWANAK].representative_point())
    across = circle(border.coords[0][0], border.coords[0][1], 400)
    assert index.recipients(across).tolist() == [10, 11]


def test_polygon_and_circle_subscribers_overlapping_the_alert(districts: dict[str, BaseGeometry]) -> None:
    x, y = NORYANGJIN
    square = shapely.box(x - 0.01, y - 0.01, x + 0.01, y + 0.01)
    far = shapely.box(127.04, 37.51, 127.05, 37.52)  # 강남구
    index = TargetIndex(
        targets=[
            Target(1, shape=square),
            Target(2, shape=far),
            Target(3, shape=circle(x, y, 300)),
            Target(4, points=((x, y), (GANGNAM_OFFICE[0], GANGNAM_OFFICE[1]))),  # home and work
        ]
    )
    assert index.recipients(districts[DONGJAK]).tolist() == [1, 3, 4]
    assert index.recipients(circle(x + 0.005, y, 200)).tolist() == [1, 3]
    assert index.recipients(districts[GANGNAM]).tolist() == [2, 4]


def test_incremental_changes(districts: dict[str, BaseGeometry]) -> None:
    rng = np.random.default_rng(3)
    lon, lat = rng.uniform(126.9, 127.1, 1000), rng.uniform(37.45, 37.6, 1000)
    index = TargetIndex(lon, lat, np.arange(1, 1001))
    before = set(index.recipients(districts[DONGJAK]).tolist())
    index.add(Target(5000, points=(NORYANGJIN,)))
    index.remove(int(next(iter(before))))
    after = set(index.recipients(districts[DONGJAK]).tolist())
    assert after == (before - {next(iter(before))}) | {5000}
    index.remove(5000)
    index.add(Target(5000, points=(GANGNAM_OFFICE,)))
    assert 5000 not in index.recipients(districts[DONGJAK]) and 5000 in index.recipients(districts[GANGNAM])
    index._merge()  # what add does once the buffer is large: the answers stay the same
    assert 5000 in index.recipients(districts[GANGNAM]) and len(index) == 1000


@pytest.mark.parametrize("code", [DONGJAK, GANGNAM, SEOCHO, "11140"])
def test_same_answer_as_a_brute_force_loop(districts: dict[str, BaseGeometry], code: str) -> None:
    rng = np.random.default_rng(int(code))
    minx, miny, maxx, maxy = shapely.union_all(list(districts.values())).bounds
    n = 10_000
    lon, lat = rng.uniform(minx, maxx, n), rng.uniform(miny, maxy, n)
    ids = np.arange(1, n + 1)
    # Points exactly on the border and on grid-cell edges are the traps: add some.
    area = districts[code]
    ring = np.asarray(area.exterior.coords if isinstance(area, Polygon) else [])
    if len(ring):
        lon = np.concatenate([lon, ring[:200, 0]])
        lat = np.concatenate([lat, ring[:200, 1]])
        ids = np.arange(1, len(lon) + 1)
    area = districts[code]
    expected = sorted(int(i) for i, x, y in zip(ids, lon, lat, strict=True) if area.contains(Point(x, y)))
    assert expected  # the district has points
    index = TargetIndex(lon, lat, ids)
    assert index.recipients(area).tolist() == expected
    # The same through the unsorted buffer (before a merge).
    half = len(ids) // 2
    buffered = TargetIndex(lon[:half], lat[:half], ids[:half])
    for i in range(half, len(ids)):
        buffered.add(Target(int(ids[i]), points=((float(lon[i]), float(lat[i])),)))
    assert buffered.recipients(area).tolist() == expected


def test_index_from_the_store(platform: Platform, districts: dict[str, BaseGeometry]) -> None:
    import_layer(platform, MOIS_DISTRICTS, "districts")
    import_layer(platform, DONGS_2021, "dongs")
    bodies = [
        {
            "kind": "anonymous",
            "channels": [{"channel": "sse"}],
            "areas": [{"kind": "point", "lon": NORYANGJIN[0], "lat": NORYANGJIN[1]}],
        },
        {
            "kind": "anonymous",
            "channels": [{"channel": "sse"}],
            "areas": [{"kind": "point", "lon": GANGNAM_OFFICE[0], "lat": GANGNAM_OFFICE[1], "radius_m": 300}],
        },
        {
            "kind": "person",
            "channels": [{"channel": "sms", "address": "01012345678"}],
            "areas": [{"kind": "dong", "code": "1159051000"}],
        },
        {
            "kind": "system",
            "channels": [{"channel": "webhook", "address": "https://x.example/h"}],
            "areas": [{"kind": "district", "code": GWANAK}],
        },
        {
            "kind": "anonymous",
            "channels": [{"channel": "sse"}],
            "active": False,
            "areas": [{"kind": "point", "lon": NORYANGJIN[0], "lat": NORYANGJIN[1]}],
        },
    ]
    with platform.store.write() as conn:
        ids = [create_subscription(conn, SubscriptionIn.model_validate(b), NOW)[0].id for b in bodies]
    with platform.store.engine.connect() as conn:
        index = TargetIndex.from_store(conn)
    assert index.recipients(None, [DONGJAK]).tolist() == [ids[0], ids[2]]
    assert index.recipients(districts[DONGJAK]).tolist() == [ids[0], ids[2]]
    assert index.recipients(None, [GANGNAM]).tolist() == [ids[1]]
    assert index.recipients(None, [GWANAK]).tolist() == [ids[3]]
    assert index.recipients(None, ["1159052000"]).tolist() == []  # another dong of 동작구: no point there
    with platform.store.engine.connect() as conn:
        found = subscriptions_by_ids(conn, [*index.recipients(districts[DONGJAK]).tolist(), ids[4]], chunk=1)
    assert [(s.id, s.kind.value) for s in found] == [(ids[0], "anonymous"), (ids[2], "person")]
