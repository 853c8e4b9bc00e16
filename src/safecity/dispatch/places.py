# SPDX-License-Identifier: Apache-2.0
"""Where a call is: distances as a dispatcher compares them by eye, and the dong of a point or a code
(an address is placed by the geocoder, :mod:`safecity.geo.gazetteer`)."""

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
