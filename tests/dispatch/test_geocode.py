# SPDX-License-Identifier: Apache-2.0
"""Call intake by address over HTTP: with the roads and their gazetteer imported from the real OSM
extract, a road-name address places the call where the extract puts the building; a place name and a
dong place it too; an address nothing matches is a 400 naming 'address', and no call is kept."""

from __future__ import annotations

import pytest

from safecity.geo.gazetteer import gazetteer_path, read_gazetteer
from tests.conftest import SHARED
from tests.dispatch.conftest import Desk

OSM = SHARED / "data" / "roads" / "osm_seoul_gongdeok_cheongpa.osm"


def test_calls_by_address_place_and_dong(desk: Desk) -> None:
    gaz = read_gazetteer(OSM)
    gaz.save(gazetteer_path(desk.platform.settings.data_dir))
    exact = gaz.addresses["마포대로"]["109"]

    call = desk.post("/dispatch/calls", {"type": "ems_other", "address": "서울 마포구 마포대로 109"})
    assert call.status_code == 201, call.text
    body = call.json()
    assert (body["lon"], body["lat"]) == pytest.approx(exact, abs=1e-7)
    assert body["district"] == "11440" and body["address"] == "서울 마포구 마포대로 109"

    found = desk.get("/dispatch/geocode", params={"q": "마포경찰서"}).json()
    assert found["precision"] == "place" and found["matched"] == "마포경찰서"
    dong = desk.get("/dispatch/geocode", params={"q": "마포구 아현동"}).json()
    assert dong["precision"] == "dong" and dong["dong"].startswith("11440")

    before = len(desk.get("/dispatch/calls").json())
    bad = desk.post("/dispatch/calls", {"type": "ems_other", "address": "하늘나라 99"})
    assert bad.status_code == 400 and bad.json()["where"] == "address" and bad.json()["message_ko"]
    assert len(desk.get("/dispatch/calls").json()) == before  # nothing kept
    q = desk.get("/dispatch/geocode", params={"q": "하늘나라 99"})
    assert q.status_code == 400 and q.json()["where"] == "q"
    assert desk.client.get("/dispatch/geocode", params={"q": "마포경찰서"}).status_code == 401
