# SPDX-License-Identifier: Apache-2.0
"""Hazard zones (flood-prone areas, landslide slopes, collapse cordons, fires) and road closures.

Geometries are stored in WGS84; buffers are computed in EPSG:5186 metres. A zone or closure is *active*
while its ``active`` flag is set and its ``expires_at`` (if any) is in the future. The routing engineer's
code reads :func:`active_zones` and :func:`active_closures` to avoid them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from shapely.geometry import Point
from shapely.geometry.base import BaseGeometry
from sqlalchemy import and_, insert, or_, select, update
from sqlalchemy.engine import Connection, RowMapping

from safecity.core.errors import BadRequest, NotFound
from safecity.evacuation.geometry import parse_geojson_geometry, to_metric, to_wgs84
from safecity.evacuation.tables import hazard_zones, road_closures


class Hazard(StrEnum):
    """The hazards a shelter can be safe from and a zone can be about."""

    earthquake = "earthquake"
    flood = "flood"
    landslide = "landslide"
    typhoon = "typhoon"
    heat = "heat"
    cold = "cold"
    air_raid = "air_raid"
    chemical = "chemical"
    collapse = "collapse"
    fire = "fire"
    displacement = "displacement"  # people who lost their home after any disaster need a place to stay


#: Zones nobody may enter, whatever the hazard being evacuated from: a shelter inside one is unusable.
EXCLUSION_HAZARDS = frozenset({Hazard.collapse, Hazard.fire, Hazard.chemical})

#: Collapse cordon radius = this × the structure's height. The fire-service rule of thumb for a collapse
#: zone is "at least 1½ times the height of the wall or building": it recurs in the recommendations of
#: NIOSH Fire Fighter Fatality Investigation and Prevention Program reports on wall collapses
#: (https://www.cdc.gov/niosh/fire/). A structure rarely falls further than its height; the extra half
#: covers debris that scatters and bounces. Not verified against a Korean standard: check with the
#: 소방청 (National Fire Agency) before relying on it.
COLLAPSE_HEIGHT_FACTOR = 1.5
#: Floor on the radius, for low structures (a 3 m wall still throws debris): a 10 m cordon.
COLLAPSE_MIN_RADIUS_M = 10.0
#: Heights above this are refused as a likely unit error (the tallest Korean building, Lotte World
#: Tower, is 555 m).
COLLAPSE_MAX_HEIGHT_M = 600.0


class GuidanceText(BaseModel):
    """Evacuation information in one language."""

    model_config = ConfigDict(extra="forbid")
    where_to_go: str = Field(min_length=1, max_length=2000)
    which_way: str = Field(min_length=1, max_length=2000)
    avoid: str = Field(min_length=1, max_length=2000)


class Guidance(BaseModel):
    """Evacuation information for a zone in Korean and English."""

    model_config = ConfigDict(extra="forbid")
    ko: GuidanceText
    en: GuidanceText


class ShelterGuidance(Guidance):
    """Guidance the platform wrote for a zone (``safecity.evacuation.guidance.default_guidance``): the
    nearest suitable open shelters outside it, which way to go, what to avoid; and the shelters it names."""

    shelters: list[int] = Field(default_factory=list)  # ids, nearest first


class HazardZoneIn(BaseModel):
    """An operator's or importer's hazard zone. ``geometry`` is a GeoJSON (Multi)Polygon in WGS84.

    Without ``guidance`` the platform writes it from the nearest suitable shelters outside the zone.
    """

    model_config = ConfigDict(extra="forbid")
    hazard: Hazard
    name_ko: str | None = Field(default=None, max_length=500)
    name_en: str | None = Field(default=None, max_length=500)
    geometry: dict[str, Any]
    guidance: Guidance | None = None
    properties: dict[str, Any] = Field(default_factory=dict)
    source: str | None = Field(default=None, max_length=500)
    expires_at: datetime | None = None


class CollapseCordonIn(BaseModel):
    """A facility at risk of collapse: its location and height in metres."""

    model_config = ConfigDict(extra="forbid")
    lon: float = Field(ge=-180, le=180)
    lat: float = Field(ge=-90, le=90)
    height_m: float = Field(gt=0, le=COLLAPSE_MAX_HEIGHT_M)
    name_ko: str | None = Field(default=None, max_length=500)
    name_en: str | None = Field(default=None, max_length=500)
    facility_id: int | None = Field(default=None, gt=0, description="geo_features id, when it is known")
    guidance: Guidance | None = None
    expires_at: datetime | None = None


class RoadClosureIn(BaseModel):
    """A closed road: a LineString along it, or a Polygon over the closed stretch (WGS84)."""

    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=1000)
    geometry: dict[str, Any]
    expires_at: datetime | None = None


@dataclass(frozen=True)
class HazardZone:
    id: int
    hazard: str
    name_ko: str | None
    name_en: str | None
    active: bool
    geom: BaseGeometry
    guidance: dict[str, Any] | None
    properties: dict[str, Any]
    source: str | None
    created_at: datetime
    expires_at: datetime | None

    def to_feature(self) -> dict[str, Any]:
        return {
            "type": "Feature",
            "id": self.id,
            "geometry": self.geom.__geo_interface__,
            "properties": {
                "hazard": self.hazard,
                "name_ko": self.name_ko,
                "name_en": self.name_en,
                "active": self.active,
                "guidance": self.guidance,
                "source": self.source,
                "created_at": self.created_at.isoformat(),
                "expires_at": self.expires_at.isoformat() if self.expires_at else None,
                **self.properties,
            },
        }


@dataclass(frozen=True)
class RoadClosure:
    id: int
    reason: str
    active: bool
    geom: BaseGeometry
    created_at: datetime
    expires_at: datetime | None

    def to_feature(self) -> dict[str, Any]:
        return {
            "type": "Feature",
            "id": self.id,
            "geometry": self.geom.__geo_interface__,
            "properties": {
                "reason": self.reason,
                "active": self.active,
                "created_at": self.created_at.isoformat(),
                "expires_at": self.expires_at.isoformat() if self.expires_at else None,
            },
        }


def collapse_radius_m(height_m: float) -> float:
    """Cordon radius in metres for a structure ``height_m`` metres tall (see COLLAPSE_HEIGHT_FACTOR)."""
    if not 0 < height_m <= COLLAPSE_MAX_HEIGHT_M:
        raise BadRequest(f"height_m: must be > 0 and ≤ {COLLAPSE_MAX_HEIGHT_M:g} metres", where="height_m")
    return max(COLLAPSE_MIN_RADIUS_M, COLLAPSE_HEIGHT_FACTOR * height_m)


def collapse_cordon(lon: float, lat: float, height_m: float) -> tuple[BaseGeometry, float]:
    """The cordon polygon (WGS84) around a facility at lon/lat, buffered in EPSG:5186, and its radius (m)."""
    radius = collapse_radius_m(height_m)
    centre = to_metric(Point(lon, lat))
    return to_wgs84(centre.buffer(radius, quad_segs=16)), radius


def _zone(row: RowMapping) -> HazardZone:
    return HazardZone(
        id=row["id"],
        hazard=row["hazard"],
        name_ko=row["name_ko"],
        name_en=row["name_en"],
        active=bool(row["active"]),
        geom=row["geom"],
        guidance=row["guidance"],
        properties=row["properties"] or {},
        source=row["source"],
        created_at=row["created_at"],
        expires_at=row["expires_at"],
    )


def _closure(row: RowMapping) -> RoadClosure:
    return RoadClosure(
        id=row["id"],
        reason=row["reason"],
        active=bool(row["active"]),
        geom=row["geom"],
        created_at=row["created_at"],
        expires_at=row["expires_at"],
    )


def insert_zone(
    conn: Connection,
    *,
    hazard: Hazard,
    geom: BaseGeometry,
    now: datetime,
    guidance: Guidance | dict[str, Any] | None,
    name_ko: str | None = None,
    name_en: str | None = None,
    properties: dict[str, Any] | None = None,
    source: str | None = None,
    expires_at: datetime | None = None,
) -> HazardZone:
    """Store one zone inside the caller's transaction and return it."""
    if expires_at is not None and expires_at.tzinfo is None:
        raise BadRequest("expires_at: needs a time zone, e.g. 2026-07-01T09:00:00+09:00", where="expires_at")
    row = (
        conn.execute(
            insert(hazard_zones)
            .values(
                hazard=hazard.value,
                name_ko=name_ko,
                name_en=name_en,
                active=True,
                geom=geom,
                guidance=guidance.model_dump() if isinstance(guidance, Guidance) else guidance,
                properties=properties or {},
                source=source,
                created_at=now,
                expires_at=expires_at,
            )
            .returning(*hazard_zones.c)
        )
        .mappings()
        .one()
    )
    return _zone(row)


def parse_zone_geometry(value: dict[str, Any]) -> BaseGeometry:
    return parse_geojson_geometry(value, "geometry", ("Polygon", "MultiPolygon"))


def _is_active(table: Any, now: datetime) -> Any:
    return and_(table.c.active.is_(True), or_(table.c.expires_at.is_(None), table.c.expires_at > now))


def list_zones(
    conn: Connection, now: datetime, *, hazard: Hazard | None = None, active_only: bool = True
) -> list[HazardZone]:
    q = select(hazard_zones).order_by(hazard_zones.c.id)
    if active_only:
        q = q.where(_is_active(hazard_zones, now))
    if hazard is not None:
        q = q.where(hazard_zones.c.hazard == hazard.value)
    return [_zone(r) for r in conn.execute(q).mappings()]


def active_zones(conn: Connection, now: datetime) -> list[HazardZone]:
    """Every active hazard zone: what routes must avoid and what makes a shelter unsuitable."""
    return list_zones(conn, now)


def _deactivate(conn: Connection, table: Any, row_id: int, now: datetime, what: str) -> Any:
    """Lift a zone or a closure (kept, with when it was lifted, so alerts can still refer to it)."""
    row = (
        conn.execute(
            update(table)
            .where(table.c.id == row_id)
            .values(active=False, deactivated_at=now)
            .returning(*table.c)
        )
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound(f"{what} {row_id} does not exist", where="id")
    return row


def deactivate_zone(conn: Connection, zone_id: int, now: datetime) -> HazardZone:
    return _zone(_deactivate(conn, hazard_zones, zone_id, now, "hazard zone"))


def insert_closure(conn: Connection, data: RoadClosureIn, now: datetime) -> RoadClosure:
    geom = parse_geojson_geometry(
        data.geometry, "geometry", ("LineString", "MultiLineString", "Polygon", "MultiPolygon")
    )
    row = (
        conn.execute(
            insert(road_closures)
            .values(reason=data.reason, active=True, geom=geom, created_at=now, expires_at=data.expires_at)
            .returning(*road_closures.c)
        )
        .mappings()
        .one()
    )
    return _closure(row)


def list_closures(conn: Connection, now: datetime, *, active_only: bool = True) -> list[RoadClosure]:
    q = select(road_closures).order_by(road_closures.c.id)
    if active_only:
        q = q.where(_is_active(road_closures, now))
    return [_closure(r) for r in conn.execute(q).mappings()]


def active_closures(conn: Connection, now: datetime) -> list[RoadClosure]:
    """Every active road closure (for the router to avoid)."""
    return list_closures(conn, now)


def deactivate_closure(conn: Connection, closure_id: int, now: datetime) -> RoadClosure:
    return _closure(_deactivate(conn, road_closures, closure_id, now, "road closure"))


#: Hazard names as Korean datasets write them (침수 / 산사태 ...), mapped to :class:`Hazard`.
_HAZARD_NAMES = {
    "침수": Hazard.flood,
    "홍수": Hazard.flood,
    "침수흔적": Hazard.flood,
    "침수위험": Hazard.flood,
    "산사태": Hazard.landslide,
    "토사재해": Hazard.landslide,
    "급경사지": Hazard.landslide,
    "붕괴위험": Hazard.landslide,
    "태풍": Hazard.typhoon,
    "지진": Hazard.earthquake,
    "붕괴": Hazard.collapse,
    "화재": Hazard.fire,
    "화학": Hazard.chemical,
    "화학사고": Hazard.chemical,
    "inundation": Hazard.flood,
    "flooding": Hazard.flood,
}


def parse_hazard(value: Any, where: str) -> Hazard:
    """A :class:`Hazard` from its name (``flood``) or a common Korean name (``침수``, ``산사태``)."""
    text = str(value).strip() if value is not None else ""
    key = text.lower().replace(" ", "")
    if key in Hazard.__members__:
        return Hazard(key)
    found = _HAZARD_NAMES.get(key)
    if found is None:
        raise BadRequest(
            f"{where}: unknown hazard '{text}'; use one of {', '.join(h.value for h in Hazard)}",
            where=where,
        )
    return found


def import_zones(
    conn: Connection,
    records: list[dict[str, Any]],
    *,
    now: datetime,
    replace_source: bool = True,
) -> tuple[int, int]:
    """Validate and store hazard zones inside the caller's transaction; returns (created, replaced).

    See :func:`store_zones`, which this wraps.
    """
    stored, replaced = store_zones(
        conn, records, now=now, replace_sources=_sources(records) if replace_source else ()
    )
    return len(stored), replaced


def _sources(records: list[dict[str, Any]]) -> set[str]:
    return {str(r["source"]) for r in records if r.get("source")}


def store_zones(
    conn: Connection,
    records: list[dict[str, Any]],
    *,
    now: datetime,
    replace_sources: Iterable[str] = (),
) -> tuple[list[HazardZone], int]:
    """Validate and store hazard zones inside the caller's transaction; returns (zones, replaced).

    Each record has ``hazard`` (a :class:`Hazard` or its name), ``geom`` (a shapely (Multi)Polygon in
    WGS84, already repaired), and optionally ``name_ko``, ``name_en``, ``properties``, ``source``,
    ``guidance`` and ``expires_at``. A zone without guidance gets :func:`default_guidance` (nearest
    suitable shelters, direction, what to avoid; ko and en). Every record is validated before anything
    is written (BadRequest names ``records[i].field``). The active zones whose ``source`` is one of
    ``replace_sources`` are deactivated first (kept for history, no longer routed around), so importing
    a file or deriving zones again replaces the earlier ones.
    """
    from safecity.evacuation.guidance import default_guidance  # guidance imports this module

    checked: list[tuple[Hazard, BaseGeometry, dict[str, Any]]] = []
    for i, r in enumerate(records):
        hazard = parse_hazard(r.get("hazard"), f"records[{i}].hazard")
        geom = r.get("geom")
        if not isinstance(geom, BaseGeometry) or geom.geom_type not in ("Polygon", "MultiPolygon"):
            kind = geom.geom_type if isinstance(geom, BaseGeometry) else type(geom).__name__
            raise BadRequest(
                f"records[{i}].geom: a hazard zone needs a Polygon or MultiPolygon, not a {kind}",
                where=f"records[{i}].geom",
            )
        if geom.is_empty or not geom.is_valid:
            raise BadRequest(f"records[{i}].geom: empty or invalid polygon", where=f"records[{i}].geom")
        minx, miny, maxx, maxy = geom.bounds
        if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
            raise BadRequest(
                f"records[{i}].geom: coordinates must be WGS84 longitude, latitude",
                where=f"records[{i}].geom",
            )
        guidance = r.get("guidance")
        if guidance is not None:
            try:
                guidance = Guidance.model_validate(guidance).model_dump()
            except ValueError as e:
                raise BadRequest(
                    f"records[{i}].guidance: needs ko and en with where_to_go, which_way, avoid ({e})",
                    where=f"records[{i}].guidance",
                ) from None
        expires_at = r.get("expires_at")
        if expires_at is not None and (not isinstance(expires_at, datetime) or expires_at.tzinfo is None):
            raise BadRequest(
                f"records[{i}].expires_at: needs a datetime with a time zone",
                where=f"records[{i}].expires_at",
            )
        checked.append((hazard, geom, {**r, "guidance": guidance}))
    replaced = 0
    if replace_sources:
        for source in sorted(set(replace_sources)):
            replaced += (
                conn.execute(
                    update(hazard_zones)
                    .where(hazard_zones.c.source == source, hazard_zones.c.active.is_(True))
                    .values(active=False, deactivated_at=now)
                ).rowcount
                or 0
            )
    stored: list[HazardZone] = []
    for hazard, geom, r in checked:
        zone = insert_zone(
            conn,
            hazard=hazard,
            geom=geom,
            now=now,
            guidance=r["guidance"] or default_guidance(conn, hazard, geom, now),
            name_ko=r.get("name_ko"),
            name_en=r.get("name_en"),
            properties=r.get("properties"),
            source=r.get("source"),
            expires_at=r.get("expires_at"),
        )
        stored.append(zone)
    return stored, replaced
