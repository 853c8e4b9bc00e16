# SPDX-License-Identifier: Apache-2.0
"""The shelter registry: kinds, capacity and occupancy, open/closed, and which hazards each is safe from.

Occupancy never exceeds capacity: every update is one conditional UPDATE (``... WHERE capacity >= :n``),
so two concurrent updates cannot together overfill a shelter, and a refused update writes nothing.

Which hazards a kind is safe from by default (:data:`DEFAULT_SAFE_FROM`), with the reasons. Each shelter can
override it (``safe_from``), e.g. a riverside school that is a temporary-housing site but floods.

* ``earthquake_outdoor`` — 지진옥외대피장소: open ground (school yards, parks) designated under the
  지진·화산재해대책법 (Earthquake and Volcanic Disaster Countermeasures Act) for people to leave buildings
  during and after shaking. Safe from earthquakes only: it is outdoors, so no heat, cold or air-raid cover,
  and a low-lying park can flood. (Tsunami evacuation sites are a different designation.)
* ``temporary_housing`` — 이재민 임시주거시설: schools, community centres, gyms where the displaced stay
  under the 재해구호법 (Disaster Relief Act). ``displacement`` after any disaster; in Korea these are also
  where flood, landslide and typhoon evacuees are sent (e.g. the August 2022 Seoul floods), so those are
  included — the flood-zone rule below removes the ones that lie in a flood zone. Not earthquakes by
  default: only seismically designed buildings qualify and the registry does not know which those are.
* ``heat`` — 무더위쉼터 (heat shelters, mostly 경로당 and community centres, air-conditioned): heat only.
* ``cold`` — 한파쉼터 (cold shelters, heated rooms): cold only.
* ``civil_defence`` — 민방위대피시설 under the 민방위기본법 (Framework Act on Civil Defence): mostly
  basements, underground car parks and subway stations, for air raids. NOT floods (basements are the most
  dangerous place in a flood: the 2022 Seoul 반지하 deaths and the Pohang underground car park in typhoon
  Hinnamnor), and NOT chemical releases: many toxic industrial gases (chlorine, for one) are heavier than
  air and pool in basements; chemical-accident guidance sends people upwind and to upper floors instead.

A shelter that lies inside an active hazard zone is not suitable for that zone's hazard (a riverside
temporary-housing site inside an active flood zone is no flood shelter), and one inside an active
collapse, fire or chemical zone is not suitable for anything (:func:`suitable_shelters`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal

import numpy as np
import shapely
from pydantic import BaseModel, ConfigDict, Field, model_validator
from shapely.geometry import Point, box
from sqlalchemy import insert, or_, select, update
from sqlalchemy.engine import Connection, RowMapping

from safecity.core.errors import BadRequest, Conflict, NotFound
from safecity.evacuation.geometry import lonlat_to_metric
from safecity.evacuation.tables import shelters
from safecity.evacuation.zones import EXCLUSION_HAZARDS, Hazard, active_zones
from safecity.geo.areas import area_at


class ShelterKind(StrEnum):
    earthquake_outdoor = "earthquake_outdoor"  # 지진옥외대피장소
    temporary_housing = "temporary_housing"  # 이재민 임시주거시설
    heat = "heat"  # 무더위쉼터
    cold = "cold"  # 한파쉼터
    civil_defence = "civil_defence"  # 민방위대피시설


#: Display names of each kind (ko, en).
KIND_LABELS: dict[ShelterKind, tuple[str, str]] = {
    ShelterKind.earthquake_outdoor: ("지진옥외대피장소", "Outdoor earthquake evacuation site"),
    ShelterKind.temporary_housing: ("이재민 임시주거시설", "Temporary housing for displaced people"),
    ShelterKind.heat: ("무더위쉼터", "Heat shelter"),
    ShelterKind.cold: ("한파쉼터", "Cold shelter"),
    ShelterKind.civil_defence: ("민방위대피시설", "Civil defence shelter"),
}

#: Hazards each kind is safe from unless the shelter says otherwise; the reasons are in the module docstring.
DEFAULT_SAFE_FROM: dict[ShelterKind, frozenset[Hazard]] = {
    ShelterKind.earthquake_outdoor: frozenset({Hazard.earthquake}),
    ShelterKind.temporary_housing: frozenset(
        {Hazard.displacement, Hazard.flood, Hazard.landslide, Hazard.typhoon}
    ),
    ShelterKind.heat: frozenset({Hazard.heat}),
    ShelterKind.cold: frozenset({Hazard.cold}),
    ShelterKind.civil_defence: frozenset({Hazard.air_raid}),
}

MAX_CAPACITY = 1_000_000  # a stadium holds ~70,000; larger numbers are unit or typing errors


@dataclass(frozen=True)
class Shelter:
    id: int
    code: str | None
    kind: ShelterKind
    name_ko: str
    name_en: str | None
    address: str | None
    capacity: int | None  # None: unknown (imported without it)
    occupancy: int
    is_open: bool
    wheelchair: bool
    elevator: bool
    safe_from: tuple[str, ...]
    geom: Point
    properties: dict[str, Any]
    updated_at: datetime
    area_id: int | None = None  # the administrative dong containing it, when boundaries are imported

    @property
    def available(self) -> int | None:
        """Places still free (never negative); None when the capacity is unknown."""
        return None if self.capacity is None else max(0, self.capacity - self.occupancy)

    def to_feature(self, distance_m: float | None = None, *, personal: bool = True) -> dict[str, Any]:
        """A GeoJSON Feature (WGS84) with Korean and English names, in the shape of :class:`ShelterFeature`.

        ``personal=False`` (anyone but operators) leaves out the free-form ``properties``: they hold the
        shelter's contact people and phone numbers (issue 13), as the OGC API layer leaves them out."""
        ko, en = KIND_LABELS[self.kind]
        props = ShelterProperties(
            code=self.code,
            kind=self.kind,
            kind_ko=ko,
            kind_en=en,
            name_ko=self.name_ko,
            name_en=self.name_en,
            address=self.address,
            capacity=self.capacity,
            occupancy=self.occupancy,
            available=self.available,
            is_open=self.is_open,
            wheelchair=self.wheelchair,
            elevator=self.elevator,
            safe_from=list(self.safe_from),
            updated_at=self.updated_at,
            distance_m=None if distance_m is None else round(distance_m, 1),
            properties=self.properties if personal else {},
        )
        return ShelterFeature(
            id=self.id,
            geometry=PointIn(type="Point", coordinates=(self.geom.x, self.geom.y)),
            properties=props,
        ).model_dump(mode="json")


class PointIn(BaseModel):
    """A GeoJSON Point in WGS84: ``{"type": "Point", "coordinates": [lon, lat]}``."""

    model_config = ConfigDict(extra="forbid")
    type: str = Field(pattern="^Point$")
    coordinates: tuple[float, float]

    @model_validator(mode="after")
    def _in_range(self) -> PointIn:
        lon, lat = self.coordinates
        if not (-180 <= lon <= 180 and -90 <= lat <= 90):
            raise ValueError("coordinates must be [longitude, latitude] in WGS84")
        return self


class ShelterIn(BaseModel):
    """A new shelter. ``safe_from`` defaults to the kind's :data:`DEFAULT_SAFE_FROM`."""

    model_config = ConfigDict(extra="forbid")
    code: str | None = Field(default=None, min_length=1, max_length=200)
    kind: ShelterKind
    name_ko: str = Field(min_length=1, max_length=500)
    name_en: str | None = Field(default=None, max_length=500)
    address: str | None = Field(default=None, max_length=1000)
    capacity: int | None = Field(
        default=None, ge=0, le=MAX_CAPACITY, description="places; leave out or null when unknown"
    )
    occupancy: int = Field(default=0, ge=0)
    is_open: bool = True
    wheelchair: bool = False
    elevator: bool = False
    safe_from: list[Hazard] | None = None
    geometry: PointIn
    properties: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _fits(self) -> ShelterIn:
        if self.capacity is not None and self.occupancy > self.capacity:
            raise ValueError(f"occupancy {self.occupancy} is above capacity {self.capacity}")
        return self


class ShelterPatch(BaseModel):
    """Fields an operator changes: open/close, capacity, names, accessibility, hazards."""

    model_config = ConfigDict(extra="forbid")
    name_ko: str | None = Field(default=None, min_length=1, max_length=500)
    name_en: str | None = Field(default=None, max_length=500)
    address: str | None = Field(default=None, max_length=1000)
    capacity: int | None = Field(default=None, ge=0, le=MAX_CAPACITY)
    is_open: bool | None = None
    wheelchair: bool | None = None
    elevator: bool | None = None
    safe_from: list[Hazard] | None = None


class OccupancyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    occupancy: int = Field(ge=0, le=MAX_CAPACITY)


class ShelterProperties(BaseModel):
    """The public properties of a shelter. ``distance_m`` is set when the listing was asked ``near``."""

    code: str | None
    kind: ShelterKind
    kind_ko: str
    kind_en: str
    name_ko: str
    name_en: str | None
    address: str | None
    capacity: int | None = Field(description="places; null when the source did not give it (unknown)")
    occupancy: int
    available: int | None = Field(description="places still free; null when the capacity is unknown")
    is_open: bool
    wheelchair: bool
    elevator: bool
    safe_from: list[str]
    updated_at: datetime
    distance_m: float | None = None
    properties: dict[str, Any]


class ShelterFeature(BaseModel):
    """A shelter as a GeoJSON Feature (WGS84)."""

    type: Literal["Feature"] = "Feature"
    id: int
    geometry: PointIn
    properties: ShelterProperties


class ShelterCollection(BaseModel):
    type: Literal["FeatureCollection"] = "FeatureCollection"
    numberReturned: int  # the OGC API - Features name
    features: list[ShelterFeature]


@dataclass(frozen=True)
class ShelterQuery:
    """Filters for :func:`list_shelters`. ``near`` is (lon, lat); ``bbox`` is (minlon, minlat, maxlon, maxlat)."""

    kind: ShelterKind | None = None
    is_open: bool | None = None
    has_space: bool | None = None
    safe_from: Hazard | None = None
    near: tuple[float, float] | None = None
    within_m: float | None = None
    bbox: tuple[float, float, float, float] | None = None
    limit: int | None = None


def _shelter(row: RowMapping) -> Shelter:
    return Shelter(
        id=row["id"],
        code=row["code"],
        kind=ShelterKind(row["kind"]),
        name_ko=row["name_ko"],
        name_en=row["name_en"],
        address=row["address"],
        capacity=row["capacity"],
        occupancy=row["occupancy"],
        is_open=bool(row["is_open"]),
        wheelchair=bool(row["wheelchair"]),
        elevator=bool(row["elevator"]),
        safe_from=tuple(row["safe_from"] or ()),
        geom=row["geom"],
        properties=row["properties"] or {},
        updated_at=row["updated_at"],
        area_id=row["area_id"],
    )


def dong_id(conn: Connection, geom: Point) -> int | None:
    """Id of the administrative dong containing ``geom`` (None before dong boundaries are imported, or
    outside every dong)."""
    ref = area_at(conn, geom.x, geom.y, kind="dong")
    return None if ref is None else ref.id


def default_safe_from(kind: ShelterKind) -> list[str]:
    return sorted(h.value for h in DEFAULT_SAFE_FROM[kind])


# ---------------------------------------------------------------------------------------------- import


def _record_values(i: int, rec: Mapping[str, Any]) -> dict[str, Any]:
    """Validate one importer record; raises BadRequest naming ``records[i].field``."""

    def bad(field: str, why: str) -> BadRequest:
        return BadRequest(f"records[{i}].{field}: {why}", where=f"records[{i}].{field}")

    code = rec.get("code")
    if not isinstance(code, str) or not code.strip():
        raise bad("code", "needs the source dataset's id as a non-empty string")
    try:
        kind = ShelterKind(str(rec.get("kind")))
    except ValueError:
        raise bad("kind", f"must be one of {', '.join(k.value for k in ShelterKind)}") from None
    name_ko = rec.get("name_ko")
    if not isinstance(name_ko, str) or not name_ko.strip():
        raise bad("name_ko", "needs the Korean name")
    for field in ("name_en", "address"):
        if rec.get(field) is not None and not isinstance(rec.get(field), str):
            raise bad(field, "must be text or null")
    capacity = rec.get("capacity")
    if capacity is not None and (
        not isinstance(capacity, int) or isinstance(capacity, bool) or not 0 <= capacity <= MAX_CAPACITY
    ):
        raise bad("capacity", f"must be a whole number from 0 to {MAX_CAPACITY}, or null when unknown")
    geom = rec.get("geom")
    if not isinstance(geom, Point) or geom.is_empty:
        raise bad("geom", "must be a shapely Point")
    if not (-180 <= geom.x <= 180 and -90 <= geom.y <= 90):
        raise bad("geom", "must be WGS84 longitude, latitude (reproject before import)")
    props = rec.get("properties") or {}
    if not isinstance(props, dict):
        raise bad("properties", "must be an object")
    safe = rec.get("safe_from")
    if safe is None:
        safe_from = default_safe_from(kind)
    else:
        if not isinstance(safe, list | tuple):
            raise bad("safe_from", "must be a list of hazard names")
        try:
            safe_from = sorted({Hazard(h).value for h in safe})
        except ValueError:
            raise bad("safe_from", f"hazards are {', '.join(h.value for h in Hazard)}") from None
    return {
        "code": code.strip(),
        "kind": kind.value,
        "name_ko": name_ko.strip(),
        "name_en": rec.get("name_en"),
        "address": rec.get("address"),
        "capacity": capacity,
        "geom": Point(geom.x, geom.y),
        "properties": props,
        "safe_from": safe_from,
    }


def upsert_shelters(
    conn: Connection, records: Iterable[Mapping[str, Any]], *, now: datetime | None = None
) -> tuple[int, int]:
    """Insert or update shelters by ``code`` inside the caller's transaction; returns (created, updated).

    Every record is validated before anything is written, so a bad record leaves the store unchanged
    (BadRequest names ``records[i].field``). ``area_id`` is set to the dong containing each shelter
    (:func:`dong_id`). An update keeps the shelter's occupancy and open state
    (operational data the dataset does not have) but caps occupancy at the new capacity.
    """
    now = now or datetime.now(UTC)
    values = [_record_values(i, r) for i, r in enumerate(records)]
    seen: dict[str, int] = {}
    for i, v in enumerate(values):
        if v["code"] in seen:
            raise BadRequest(
                f"records[{i}].code: {v['code']!r} repeats records[{seen[v['code']]}].code",
                where=f"records[{i}].code",
            )
        seen[v["code"]] = i
    for v in values:
        v["area_id"] = dong_id(conn, v["geom"])
    existing: dict[str, tuple[int, int]] = {}
    codes = list(seen)
    for start in range(0, len(codes), 500):
        chunk = codes[start : start + 500]
        for row in conn.execute(
            select(shelters.c.code, shelters.c.id, shelters.c.occupancy).where(shelters.c.code.in_(chunk))
        ):
            existing[row.code] = (row.id, row.occupancy)
    new = [{**v, "created_at": now, "updated_at": now} for v in values if v["code"] not in existing]
    if new:
        conn.execute(insert(shelters), new)
    updated = 0
    for v in values:
        found = existing.get(v["code"])
        if found is None:
            continue
        sid, occupancy = found
        conn.execute(
            update(shelters)
            .where(shelters.c.id == sid)
            .values(
                **v,
                occupancy=occupancy if v["capacity"] is None else min(occupancy, v["capacity"]),
                updated_at=now,
            )
        )
        updated += 1
    return len(new), updated


# ---------------------------------------------------------------------------------------------- reads


def get_shelter(conn: Connection, shelter_id: int) -> Shelter:
    row = conn.execute(select(shelters).where(shelters.c.id == shelter_id)).mappings().first()
    if row is None:
        raise NotFound(f"shelter {shelter_id} does not exist", where="id", message_ko="대피소가 없습니다")
    return _shelter(row)


def distances_m(items: Sequence[Shelter], lon: float, lat: float) -> np.ndarray[Any, np.dtype[np.float64]]:
    """Straight-line distances in metres (EPSG:5186) from (lon, lat) to each shelter."""
    if not items:
        return np.zeros(0)
    pts = lonlat_to_metric(np.array([s.geom.x for s in items]), np.array([s.geom.y for s in items]))
    origin = lonlat_to_metric(np.array([lon]), np.array([lat]))[0]
    return np.asarray(np.hypot(pts[:, 0] - origin[0], pts[:, 1] - origin[1]), dtype=np.float64)


def list_shelters(
    conn: Connection, query: ShelterQuery, *, now: datetime | None = None
) -> list[tuple[Shelter, float | None]]:
    """Shelters matching ``query``, with their distance in metres when ``near`` is given (then nearest first).

    ``safe_from`` applies both the shelter's own list and the hazard-zone rule of
    :func:`unsuitable_ids`. Spatial filters run in Python on the candidate rows: the registry holds
    thousands of points, not millions.
    """
    q = select(shelters).order_by(shelters.c.id)
    if query.kind is not None:
        q = q.where(shelters.c.kind == query.kind.value)
    if query.is_open is not None:
        q = q.where(shelters.c.is_open.is_(query.is_open))
    # A shelter of unknown capacity is not known to be full: it stays a place to send people (a designated
    # shelter is better than none); area plans, which count places, leave it out and say so.
    if query.has_space is True:
        q = q.where(or_(shelters.c.capacity.is_(None), shelters.c.occupancy < shelters.c.capacity))
    elif query.has_space is False:
        q = q.where(shelters.c.occupancy >= shelters.c.capacity)
    found = [_shelter(r) for r in conn.execute(q).mappings()]
    if query.bbox is not None:
        area = box(*query.bbox)
        found = [s for s in found if area.intersects(s.geom)]
    if query.safe_from is not None:
        hazard = query.safe_from
        found = [s for s in found if hazard.value in s.safe_from]
        excluded = unsuitable_ids(conn, found, hazard, now or datetime.now(UTC))
        found = [s for s in found if s.id not in excluded]
    if query.near is None:
        out: list[tuple[Shelter, float | None]] = [(s, None) for s in found]
    else:
        d = distances_m(found, *query.near)
        order = np.argsort(d, kind="stable")
        out = [(found[i], float(d[i])) for i in order if query.within_m is None or d[i] <= query.within_m]
    return out[: query.limit] if query.limit is not None else out


def unsuitable_ids(
    conn: Connection, items: Sequence[Shelter], hazard: Hazard | None, now: datetime
) -> set[int]:
    """Ids of shelters that lie inside an active zone of ``hazard`` or of an exclusion hazard
    (collapse, fire, chemical): nobody should be sent there for that hazard. With no hazard named
    (``None``) any active zone could be the one people are fleeing, so every active zone counts."""
    zones = [
        z
        for z in active_zones(conn, now)
        if hazard is None or z.hazard == hazard.value or z.hazard in EXCLUSION_HAZARDS
    ]
    if not zones or not items:
        return set()
    union = shapely.union_all([z.geom for z in zones])
    shapely.prepare(union)
    pts = np.array([s.geom for s in items], dtype=object)
    inside = shapely.intersects(union, pts)
    return {s.id for s, hit in zip(items, inside, strict=True) if hit}


def suitable_shelters(
    conn: Connection,
    hazard: Hazard | None,
    now: datetime,
    *,
    near: tuple[float, float] | None = None,
    within_m: float | None = None,
) -> list[Shelter]:
    """Open shelters with space that are safe from ``hazard`` and outside the zones that rule them out.

    This is the one rule every caller (listing, guidance, area plans, evacuation routes) uses. With
    ``hazard=None`` (a route asked for without naming the hazard) any shelter kind will do, but one inside
    any active hazard zone is left out (see :func:`unsuitable_ids`).
    """
    q = ShelterQuery(is_open=True, has_space=True, safe_from=hazard, near=near, within_m=within_m)
    found = [s for s, _ in list_shelters(conn, q, now=now)]
    if hazard is None:
        excluded = unsuitable_ids(conn, found, None, now)
        found = [s for s in found if s.id not in excluded]
    return found


# ---------------------------------------------------------------------------------------------- writes


def create_shelter(conn: Connection, data: ShelterIn, now: datetime) -> Shelter:
    """Insert a shelter in the caller's transaction. A repeated ``code`` is a 409."""
    if (
        data.code is not None
        and conn.execute(select(shelters.c.id).where(shelters.c.code == data.code)).first()
    ):
        raise Conflict(f"code: a shelter with code {data.code!r} exists; PATCH it instead", where="code")
    safe = (
        sorted({h.value for h in data.safe_from})
        if data.safe_from is not None
        else default_safe_from(data.kind)
    )
    geom = Point(*data.geometry.coordinates)
    row = (
        conn.execute(
            insert(shelters)
            .values(
                code=data.code,
                kind=data.kind.value,
                name_ko=data.name_ko,
                name_en=data.name_en,
                address=data.address,
                capacity=data.capacity,
                occupancy=data.occupancy,
                is_open=data.is_open,
                wheelchair=data.wheelchair,
                elevator=data.elevator,
                safe_from=safe,
                geom=geom,
                area_id=dong_id(conn, geom),
                properties=data.properties,
                created_at=now,
                updated_at=now,
            )
            .returning(*shelters.c)
        )
        .mappings()
        .one()
    )
    return _shelter(row)


def update_shelter(conn: Connection, shelter_id: int, patch: ShelterPatch, now: datetime) -> Shelter:
    """Apply ``patch``. Lowering capacity below the current occupancy is refused (409) and writes nothing."""
    values: dict[str, Any] = patch.model_dump(exclude_unset=True)
    if "safe_from" in values:
        if patch.safe_from is None:
            raise BadRequest("safe_from: give a list of hazards (may be empty), not null", where="safe_from")
        values["safe_from"] = sorted({h.value for h in patch.safe_from})
    for field in ("name_ko", "capacity", "is_open", "wheelchair", "elevator"):
        if field in values and values[field] is None:
            raise BadRequest(f"{field}: may not be null", where=field)
    current = get_shelter(conn, shelter_id)
    if not values:
        return current
    stmt = update(shelters).where(shelters.c.id == shelter_id)
    if "capacity" in values:
        stmt = stmt.where(shelters.c.occupancy <= values["capacity"])
    row = conn.execute(stmt.values(**values, updated_at=now).returning(*shelters.c)).mappings().first()
    if row is None:
        occupied = get_shelter(conn, shelter_id).occupancy
        raise Conflict(
            f"capacity: {values['capacity']} is below the current occupancy {occupied}; "
            "move people out or update occupancy first",
            where="capacity",
            message_ko=f"수용인원 {values['capacity']}명이 현재 인원 {occupied}명보다 적습니다",
            details={"capacity": values["capacity"], "occupancy": occupied},
        )
    return _shelter(row)


def set_open(conn: Connection, shelter_id: int, is_open: bool, now: datetime) -> Shelter:
    return update_shelter(conn, shelter_id, ShelterPatch(is_open=is_open), now)


def set_occupancy(conn: Connection, shelter_id: int, occupancy: int, now: datetime) -> Shelter:
    """Set the number of people in the shelter. Above capacity is refused with a 409 naming the capacity,
    and nothing is written (the check is part of the UPDATE, so it holds under concurrent updates)."""
    if occupancy < 0:
        raise BadRequest("occupancy: must be 0 or more", where="occupancy")
    row = (
        conn.execute(
            update(shelters)
            .where(
                shelters.c.id == shelter_id,
                or_(shelters.c.capacity.is_(None), shelters.c.capacity >= occupancy),
            )
            .values(occupancy=occupancy, updated_at=now)
            .returning(*shelters.c)
        )
        .mappings()
        .first()
    )
    if row is None:
        current = get_shelter(conn, shelter_id)  # raises NotFound when it does not exist
        raise Conflict(
            f"occupancy: {occupancy} is above the shelter's capacity of {current.capacity}; "
            f"send at most {current.capacity}, or raise the capacity first",
            where="occupancy",
            message_ko=f"현재 인원 {occupancy}명이 수용인원 {current.capacity}명을 넘습니다",
            details={"capacity": current.capacity, "occupancy": current.occupancy},
        )
    return _shelter(row)
