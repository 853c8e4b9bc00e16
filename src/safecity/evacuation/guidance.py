# SPDX-License-Identifier: Apache-2.0
"""Evacuation information for a hazard zone, in Korean and English: where to go, which way, what to avoid.

Written when an operator or importer gives none: the nearest suitable open shelters outside the zone,
the compass direction to the first from the middle of the zone, and the hazard's standing advice. The
advice follows the public behaviour guides of 행정안전부 / 국민재난안전포털 (safekorea.go.kr) in outline;
operators should replace it with the local plan's wording when they have it.
"""

from __future__ import annotations

import math
from datetime import datetime

from shapely.geometry.base import BaseGeometry
from sqlalchemy.engine import Connection

from safecity.evacuation.geometry import to_metric
from safecity.evacuation.shelters import suitable_shelters
from safecity.evacuation.zones import GuidanceText, Hazard, ShelterGuidance

#: Which shelters to send people to, per zone hazard: a cordon or a fire only needs somewhere to stay.
SHELTER_HAZARD = {
    Hazard.collapse: Hazard.displacement,
    Hazard.fire: Hazard.displacement,
}

_AVOID: dict[Hazard, tuple[str, str]] = {
    Hazard.flood: (
        "지하공간·반지하·지하차도, 하천변과 다리, 물이 흐르는 도로를 피하십시오.",
        "Keep out of basements, underpasses, riverbanks, bridges and roads with running water.",
    ),
    Hazard.landslide: (
        "경사면과 계곡, 옹벽 아래를 피하고 산에서 멀어지는 방향으로 이동하십시오.",
        "Keep away from slopes, valleys and retaining walls; move away from the hillside.",
    ),
    Hazard.collapse: (
        "통제선 안으로 들어가지 말고 건물 잔해와 유리창 아래를 피하십시오.",
        "Do not cross the cordon; keep away from debris and from under windows.",
    ),
    Hazard.fire: (
        "연기가 오는 방향과 화재 현장 쪽 도로를 피하십시오.",
        "Keep away from the smoke's path and the roads towards the fire.",
    ),
    Hazard.chemical: (
        "바람이 불어오는 쪽(풍상)으로 이동하고 지하로 대피하지 마십시오.",
        "Move upwind and never shelter underground: many toxic gases are heavier than air.",
    ),
}
_DEFAULT_AVOID = ("위험구역 안으로 들어가지 마십시오.", "Do not enter the hazard zone.")

_DIRECTIONS = (
    ("북쪽", "north"),
    ("북동쪽", "north-east"),
    ("동쪽", "east"),
    ("남동쪽", "south-east"),
    ("남쪽", "south"),
    ("남서쪽", "south-west"),
    ("서쪽", "west"),
    ("북서쪽", "north-west"),
)


def compass(dx: float, dy: float) -> tuple[str, str]:
    """The 8-point compass direction (ko, en) of a vector in EPSG:5186 (y is grid north)."""
    bearing = math.degrees(math.atan2(dx, dy)) % 360
    return _DIRECTIONS[round(bearing / 45) % 8]


def default_guidance(conn: Connection, hazard: Hazard, zone: BaseGeometry, now: datetime) -> ShelterGuidance:
    """Guidance for a zone in Korean and English, and the shelters it names (stored as the zone's
    ``guidance`` document: ``{"ko": {...}, "en": {...}, "shelters": [...]}``)."""
    wanted = SHELTER_HAZARD.get(hazard, hazard)
    centre = zone.representative_point()
    candidates = [
        s
        for s in suitable_shelters(conn, wanted, now, near=(centre.x, centre.y))
        if not zone.intersects(s.geom)
    ][:3]
    avoid_ko, avoid_en = _AVOID.get(hazard, _DEFAULT_AVOID)
    if not candidates:
        return ShelterGuidance(
            ko=GuidanceText(
                where_to_go="위험구역 밖 안전한 곳으로 이동하고 안내 방송을 따르십시오.",
                which_way="위험구역에서 멀어지는 가장 가까운 방향으로 이동하십시오.",
                avoid=avoid_ko,
            ),
            en=GuidanceText(
                where_to_go="Leave the zone for a safe place and follow official announcements.",
                which_way="Take the shortest way out of the zone.",
                avoid=avoid_en,
            ),
            shelters=[],
        )
    first = candidates[0]
    c, f = to_metric(centre), to_metric(first.geom)
    dir_ko, dir_en = compass(f.centroid.x - c.centroid.x, f.centroid.y - c.centroid.y)
    names_ko = ", ".join(s.name_ko for s in candidates)
    names_en = ", ".join(s.name_en or s.name_ko for s in candidates)
    return ShelterGuidance(
        ko=GuidanceText(
            where_to_go=f"가까운 대피소: {names_ko}",
            which_way=f"위험구역 중심에서 {dir_ko}으로, {first.name_ko} 방향으로 이동하십시오.",
            avoid=avoid_ko,
        ),
        en=GuidanceText(
            where_to_go=f"Nearest shelters: {names_en}",
            which_way=f"Head {dir_en} from the middle of the zone, towards {first.name_en or first.name_ko}.",
            avoid=avoid_en,
        ),
        shelters=[s.id for s in candidates],
    )
