# SPDX-License-Identifier: Apache-2.0
"""Where a call is: distances as a dispatcher compares them by eye, and the dong of a point, a code or an
address (no geocoder: a street address alone cannot be placed, and the caller is told what to add)."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
import shapely

from safecity.core.errors import BadRequest
from safecity.geo.seoul import Boundary, dongs

EARTH_M = 6_371_008.8


def metres(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Great-circle distance (haversine): what "nearer" means when a dispatcher compares units by eye."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_M * math.asin(math.sqrt(a))


def haversine_m(
    lon: npt.NDArray[np.float64], lat: npt.NDArray[np.float64], lon0: float, lat0: float
) -> npt.NDArray[np.float64]:
    """:func:`metres` from each (lon, lat) to (lon0, lat0), vectorised."""
    p1, p2 = np.radians(lat), math.radians(lat0)
    dp, dl = p2 - p1, np.radians(lon0 - lon)
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * math.cos(p2) * np.sin(dl / 2) ** 2
    return np.asarray(2 * EARTH_M * np.arcsin(np.sqrt(a)), dtype=np.float64)


def dong_at(lon: float, lat: float) -> Boundary | None:
    for d in dongs():
        if shapely.contains_xy(d.polygon, lon, lat):
            return d
    return None


def dong_by_code(code: str) -> Boundary:
    for d in dongs():
        if d.code == code:
            return d
    raise BadRequest(
        f"dong: '{code}' is not a Seoul administrative dong code (adm_cd2, 10 digits)",
        where="dong",
        message_ko=f"dong: '{code}'은(는) 서울의 행정동 코드가 아닙니다",
    )


def dong_in_address(address: str) -> Boundary:
    """The dong an address names ("서울 마포구 공덕동 12-3"): its district and dong names must both appear.
    A street address without a dong name cannot be placed without a geocoder: the caller is told so."""
    words = address.replace(",", " ").split()
    found = [
        d
        for d in dongs()
        if d.name_ko in words or d.name_ko.removesuffix("동") in words or d.name_en.lower() in address.lower()
    ]
    if len(found) > 1:
        from safecity.geo.seoul import districts

        named = {b.code for b in districts() if b.name_ko in words}
        found = [d for d in found if d.district_code in named] or found
    if len(found) != 1:
        raise BadRequest(
            "address: cannot place it: name its district and dong (e.g. '마포구 공덕동'), or give lon/lat"
            if not found
            else f"address: names {len(found)} dongs; add the district name or give lon/lat",
            where="address",
            message_ko="address: 위치를 찾을 수 없습니다. 구와 동 이름(예: '마포구 공덕동')이나 좌표를 주십시오"
            if not found
            else f"address: 동 {len(found)}곳과 일치합니다. 구 이름을 더하거나 좌표를 주십시오",
        )
    return found[0]
