# SPDX-License-Identifier: Apache-2.0
"""School zones (어린이보호구역) and crash hotspots as public map layers, and the guardian safety note.

Both come from files a city imports (``safecity import layer FILE --as school-zones|crash-hotspots``):
polygons, or points (a school gate, a hotspot's centre) drawn as circles: 300 m for a school zone (the
distance from the main gate 도로교통법 §12 and its 시행규칙 allow a zone to reach; the exact rule
article UNCONFIRMED) and ``HOTSPOT_RADIUS_M`` for a hotspot. Each import replaces the zones of its
kind. A feature whose ``generated`` field is true (or a file whose name says *generated*) is kept
labelled generated, and the layers show it: no licensed 어린이보호구역 or TAAS hotspot file was
available to this project (docs/care.md).

The safety note: the child's usual route is their positions of the last ``USUAL_DAYS`` days (a read,
recorded like any other); the hotspots that route passes through are named to the guardian, ko/en.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import shapely
from shapely.geometry import LineString, Point
from shapely.geometry.base import BaseGeometry
from sqlalchemy import Connection, select
from sqlalchemy.sql import Select
from sqlalchemy.sql.elements import ColumnElement

from safecity.care.fences import circle
from safecity.care.tables import positions, safety_zones
from safecity.core.clock import Clock
from safecity.geo.layerfile import ImportOptions, ImportReport, LayerData, replace_kind
from safecity.store import Store

SCHOOL_ZONE_RADIUS_M = 300.0
#: A hotspot given as a point: TAAS draws its hotspots as areas of about this radius (UNCONFIRMED).
HOTSPOT_RADIUS_M = 100.0
USUAL_DAYS = 14
NAME_FIELDS = ("name", "name_ko", "명칭", "시설명", "대상시설명", "지점명", "title")


def _import(
    kind: str, radius: float, conn: Connection, data: LayerData, options: ImportOptions, report: ImportReport
) -> None:
    def zone(i: int, geom: BaseGeometry) -> tuple[BaseGeometry, dict[str, Any]] | str:
        if geom.geom_type == "Point":
            assert isinstance(geom, Point)
            geom = circle(geom.x, geom.y, radius)
        elif geom.geom_type not in ("Polygon", "MultiPolygon"):
            return f"a {geom.geom_type}: a zone is a polygon or a point"
        if not geom.is_valid:
            geom = shapely.make_valid(geom)
            report.repaired.append((i, "invalid polygon made valid"))
        return geom, {}

    replace_kind(
        conn,
        safety_zones,
        kind,
        data,
        options,
        report,
        zone,
        name_fields=NAME_FIELDS,
        default_name=kind,
        what="polygon or point",
    )


def import_school_zones(
    conn: Connection, data: LayerData, options: ImportOptions, report: ImportReport
) -> None:
    """Replace the school zones with the file's (polygons, or gates drawn as 300 m circles)."""
    _import("school_zone", SCHOOL_ZONE_RADIUS_M, conn, data, options, report)


def import_crash_hotspots(
    conn: Connection, data: LayerData, options: ImportOptions, report: ImportReport
) -> None:
    """Replace the crash hotspots with the file's (polygons, or points drawn as circles)."""
    _import("crash_hotspot", HOTSPOT_RADIUS_M, conn, data, options, report)


def _layer(kind: str) -> tuple[Select[Any], ColumnElement[Any], ColumnElement[Any], dict[str, Any]]:
    z = safety_zones.c
    cols = {"name": z.name, "source": z.source, "generated": z.generated}
    return select(z.id, z.geom, *cols.values()).where(z.kind == kind), z.id, z.geom, cols


def school_zones_layer() -> tuple[Select[Any], ColumnElement[Any], ColumnElement[Any], dict[str, Any]]:
    return _layer("school_zone")


def points_layer(kind: str) -> tuple[Select[Any], ColumnElement[Any], ColumnElement[Any], dict[str, Any]]:
    """CCTV or police stations (safecity.care.safety_points): points, with their name and source."""
    return _layer(kind)


def crash_hotspots_layer() -> tuple[Select[Any], ColumnElement[Any], ColumnElement[Any], dict[str, Any]]:
    return _layer("crash_hotspot")


def hotspots_on_route(store: Store, clock: Clock, person_id: int) -> tuple[list[dict[str, Any]], int]:
    """The hotspots the person's positions of the last USUAL_DAYS days pass through, and how many
    positions were used."""
    since = clock.now() - timedelta(days=USUAL_DAYS)
    with store.engine.connect() as conn:
        pts = conn.execute(
            select(positions.c.lon, positions.c.lat)
            .where(positions.c.person_id == person_id, positions.c.at >= since)
            .order_by(positions.c.at)
        ).all()
        zones = conn.execute(
            select(safety_zones.c.name, safety_zones.c.generated, safety_zones.c.geom).where(
                safety_zones.c.kind == "crash_hotspot"
            )
        ).all()
    if len(pts) < 2 or not zones:
        return [], len(pts)
    track = LineString([(float(x), float(y)) for x, y in pts])
    crossed = [
        {"name": name, "generated": bool(gen)}
        for name, gen, geom in zones
        if geom is not None and track.intersects(geom)
    ]
    return crossed, len(pts)


def note_text(crossed: list[dict[str, Any]]) -> dict[str, str]:
    if not crossed:
        return {
            "ko": "최근 2주 동안의 이동 경로에 교통사고 다발 지점이 없습니다.",
            "en": "The routes of the last two weeks cross no crash hotspot.",
        }
    names = ", ".join(c["name"] for c in crossed)
    note = {
        "ko": f"평소 다니는 길이 교통사고 다발 지점({names})을 지납니다. 횡단보도와 신호를 지키고, 이 구간은 함께 걸어 보며 안전한 길을 알려 주세요.",
        "en": f"The child's usual route passes crash hotspots ({names}). Walk this part together and show them the crossings and signals to use.",
    }
    if any(c["generated"] for c in crossed):  # generated data is labelled wherever it is shown
        note["ko"] += " (주의: 이 다발 지점 자료는 실제 통계가 아니라 생성된 예시입니다.)"
        note["en"] += " (Note: these hotspots are GENERATED example data, not observed crash statistics.)"
    return note
