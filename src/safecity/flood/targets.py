# SPDX-License-Identifier: Apache-2.0
"""A forecast's warning aimed at what it puts at risk: the underpasses predicted to reach closure depth
(15 cm) and the semi-basement homes whose street is predicted to reach their sill (``high`` risk, 10 cm)
within the horizon, as one targeted alert of the warning capability (:mod:`safecity.warning.targeted`):
one ``<area>`` per district naming what is at risk there, a circle around each spot.

The words follow Korean practice for 호우 guidance: the stage names the hazard (호우) and says it is a
forecast, the place counts what is at risk (지하차도 N곳·반지하 주택 N세대), the first instruction is the one
that saves lives in a semi-basement (get out before the water comes in), then "do not drive into
underpasses", then the heavy-rain action guide. The same numbers in Korean and English (the warning
capability checks they agree). It goes out as the crisis level the forecast pack gives predicted flooding,
주의: 안전안내문자 by the warning policy, CAP certainty Likely (a forecast, not an observation).
"""

from __future__ import annotations

from collections import defaultdict
from zoneinfo import ZoneInfo

from shapely.geometry import Point
from sqlalchemy.engine import Connection

from safecity.flood.forecast import ForecastResult, PlaceForecast
from safecity.geo import areas as geo_areas
from safecity.situation.model import Crisis
from safecity.warning.targeted import TargetArea, TargetedWarning, TargetSpot

#: The thread of the forecast's targeted warnings (one at a time per platform).
THREAD = "flood-forecast"
#: The circle around an underpass: the sag, its ramps and the streets leading to them, where drivers and
#: walkers decide to go in (judgement: about the length of a Seoul underpass with its approaches).
UNDERPASS_RADIUS_KM = 0.3
#: The circle around a building with semi-basement homes when its place gives no ``radius_m``: the
#: building and its street block (judgement). The demo's generated places are 500 m population cells and
#: give their half-diagonal.
BUILDING_RADIUS_KM = 0.1
#: Most underpasses named in one area's description before "외 N곳" / "and N more".
NAMED = 3
LOCAL = ZoneInfo("Asia/Seoul")


def _centre(p: PlaceForecast) -> Point:
    g = p.place.geometry
    return g if isinstance(g, Point) else g.centroid


def _homes(p: PlaceForecast) -> int:
    return int(p.place.properties.get("homes", 1))


def targeted_warning(
    conn: Connection, r: ForecastResult, run_id: int | None = None
) -> TargetedWarning | None:
    """The targeted warning of forecast ``r``; None when nothing is at risk."""
    underpasses = [p for p in r.closing() if p.place.kind == "underpass"]
    homes_at_risk = [p for p in r.semi_basements_at_risk() if p.risk == "high"]
    if not underpasses and not homes_at_risk:
        return None
    by_district: dict[str, list[PlaceForecast]] = defaultdict(list)
    for p in [*underpasses, *homes_at_risk]:
        by_district[p.place.district or ""].append(p)
    areas = []
    for code in sorted(by_district):
        places = by_district[code]
        ref = geo_areas.area_by_code(conn, code, kind="district") if code else None
        name_ko = ref.name_ko if ref is not None else (code or "서울")
        name_en = (ref.name_en or ref.name_ko) if ref is not None else (code or "Seoul")
        ups = [p for p in places if p.place.kind == "underpass"]
        homes = sum(_homes(p) for p in places if p.place.kind == "building")
        ko, en = _named(ups, "ko"), _named(ups, "en")
        if homes:
            ko.append(f"반지하 주택 {homes:,}세대")
            en.append(f"{homes:,} semi-basement home{'s' if homes != 1 else ''}")
        spots = []
        for p in places:
            c = _centre(p)
            if p.place.kind == "underpass":
                radius = UNDERPASS_RADIUS_KM
            else:
                radius = float(p.place.properties.get("radius_m", BUILDING_RADIUS_KM * 1000)) / 1000
            spots.append(TargetSpot(round(c.x, 6), round(c.y, 6), radius))
        areas.append(
            TargetArea(
                {"ko": f"{name_ko}: {', '.join(ko)}", "en": f"{name_en}: {', '.join(en)}"},
                tuple(spots),
                code or None,
            )
        )
    n = len(underpasses)
    homes = sum(_homes(p) for p in homes_at_risk)
    minutes = round(r.horizon.total_seconds() / 60)
    place_ko, place_en, detail_ko, detail_en, do_ko, do_en = [], [], [], [], [], []
    if homes:
        place_ko.append(f"반지하 주택 {homes:,}세대")
        place_en.append(f"{homes:,} semi-basement home{'s' if homes != 1 else ''}")
        detail_ko.append(f"반지하 주택 {homes:,}세대 앞 도로 수심 10 cm 이상")
        detail_en.append(
            f"street water of 10 cm or more at {homes:,} semi-basement home{'s' if homes != 1 else ''}"
        )
        do_ko.append(
            "반지하 주택에 계신 분은 물이 들어오기 전에 지상이나 높은 곳으로 대피할 준비를 하십시오."
        )
        do_en.append(
            "If you live in a semi-basement home, be ready to move upstairs or to higher ground before water comes in."
        )
    if n:
        first = min(p.crosses_at for p in underpasses if p.crosses_at is not None).astimezone(LOCAL)
        place_ko.insert(0, f"지하차도 {n}곳")
        place_en.insert(0, f"{n} underpass{'es' if n != 1 else ''}")
        detail_ko.insert(0, f"지하차도 {n}곳 수심 15 cm 이상({first:%H:%M}경부터)")
        detail_en.insert(
            0, f"{n} underpass{'es' if n != 1 else ''} 15 cm deep or more (from about {first:%H:%M})"
        )
        do_ko.append("지하차도에 진입하지 마십시오.")
        do_en.append("Do not drive or walk into underpasses.")
    return TargetedWarning(
        hazard="heavy_rain",
        level=Crisis.caution,
        areas=tuple(areas),
        stage={"ko": "호우 침수 예측", "en": "Heavy rain flooding forecast"},
        place={"ko": "·".join(place_ko), "en": ", ".join(place_en)},
        detail={
            "ko": f"홍수 모델 예측({minutes}분 이내): {', '.join(detail_ko)} 침수 예상.",
            "en": f"Flood model forecast (within {minutes} minutes): {', '.join(detail_en)} expected.",
        },
        instruction={"ko": tuple(do_ko), "en": tuple(do_en)},
        certainty="Likely",
        extra={"SAFECITY_FLOOD_RUN": str(run_id)} if run_id is not None else {},
    )


def _named(ups: list[PlaceForecast], lang: str) -> list[str]:
    names = [p.place.name_ko if lang == "ko" else p.place.name_en for p in ups[:NAMED]]
    more = len(ups) - NAMED
    if more > 0:
        names.append(f"외 {more}곳" if lang == "ko" else f"and {more} more")
    return names
