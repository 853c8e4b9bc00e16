# SPDX-License-Identifier: Apache-2.0
"""The geocoder on the real OSM extract of Gongdeok-Cheongpa and the shipped Seoul dongs: road-name
addresses exactly where the extract puts them, a number between two known ones between them, named
places, streets and dongs; text naming nothing is a 400 naming the field."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from functools import cache
from pathlib import Path

import pytest
import shapely

from safecity.core.errors import BadRequest
from safecity.geo.gazetteer import Gazetteer, geocode, load_gazetteer, read_gazetteer
from safecity.geo.seoul import dongs
from tests.conftest import SHARED

OSM = SHARED / "data" / "roads" / "osm_seoul_gongdeok_cheongpa.osm"


@cache
def gaz() -> Gazetteer:
    return read_gazetteer(OSM)


@cache
def node_at(osm_id: str) -> tuple[float, float]:
    """A node's location read from the XML itself (not through osmium)."""
    for n in ET.parse(OSM).getroot().iter("node"):
        if n.get("id") == osm_id:
            return float(n.get("lon") or "nan"), float(n.get("lat") or "nan")
    raise KeyError(osm_id)


def test_a_road_name_address_is_where_the_extract_puts_it() -> None:
    for text, osm_id in (
        ("서울특별시 마포구 마포대로 109", "5585977121"),  # node 5585977121: addr:street 마포대로, 109
        ("마포대로 186-6", "5677283823"),
        ("마포대로7길 18번지", "368899938"),  # 아현동 주민센터
    ):
        p = geocode(text, gaz())
        assert p.precision == "address"
        assert (p.lon, p.lat) == pytest.approx(node_at(osm_id), abs=1e-7)
    # a dong code comes with it, from the shipped boundaries
    p = geocode("마포대로 109", gaz())
    assert p.dong is not None and p.dong.startswith("11440")


def test_a_number_between_two_known_ones_lies_between_them() -> None:
    # 마포대로: 109 and 155 are known on the odd side (155 is a building way: its nodes' mean)
    known = gaz().addresses["마포대로"]
    p = geocode("마포대로 141", gaz())
    assert p.precision == "interpolated"
    (x0, y0), (x1, y1) = known["109"], known["155"]
    f = (141 - 109) / (155 - 109)
    assert (p.lon, p.lat) == pytest.approx((x0 + f * (x1 - x0), y0 + f * (y1 - y0)), abs=1e-9)


def test_places_streets_and_dongs() -> None:
    police = geocode("마포경찰서", gaz())
    assert police.precision == "place" and police.matched == "마포경찰서"
    street = geocode("효창원로 근처", gaz())
    assert street.precision == "street" and street.matched == "효창원로"
    gongdeok = next(d for d in dongs() if d.name_ko == "공덕동" and d.district_code.startswith("11440"))
    dong = geocode("서울 마포구 공덕동", gaz())
    assert dong.precision == "dong" and dong.dong == gongdeok.code
    assert shapely.contains_xy(gongdeok.polygon, dong.lon, dong.lat)
    # without a gazetteer (no roads imported) a dong still places
    assert geocode("마포구 공덕동", None).dong == gongdeok.code


def test_nothing_matching_is_a_400_naming_the_field() -> None:
    with pytest.raises(BadRequest) as e:
        geocode("하늘나라 99", gaz())
    assert e.value.where == "address" and "마포대로 109" in e.value.message and e.value.message_ko
    with pytest.raises(BadRequest) as e:
        geocode("마포대로 109", None, where="q")  # a street address with no gazetteer imported
    assert e.value.where == "q"


def test_saved_and_loaded_the_same(tmp_path: Path) -> None:
    from safecity.geo.gazetteer import gazetteer_path

    gaz().save(gazetteer_path(tmp_path))
    again = load_gazetteer(tmp_path)
    assert again is not None and again.counts() == gaz().counts()
    assert geocode("마포대로 109", again) == geocode("마포대로 109", gaz())
    assert load_gazetteer(tmp_path / "none") is None
