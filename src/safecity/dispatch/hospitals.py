# SPDX-License-Identifier: Apache-2.0
"""Hospitals an ambulance takes patients to, with the patients each emergency department can take now.

A unit that starts ``transporting`` goes to the hospital the dispatcher (or the crew) names, or else to the
first of :func:`rank`: the hospitals with a free place (capacity less the units already transporting to
it or at it) by live road time from where the unit is (the dispatch road times: hour, rain, closures),
as the crow flies only where no road network is imported. A named hospital that is full is refused
(409), so a full emergency department is never filled by hand without a look; no free place anywhere is
a 409 saying to name one. Where no hospital is listed at all, a transport names none (the crew knows
where it goes). Capacities are said by dispatchers and operators (:func:`set_capacity`), each change an
audited event with who said it and when.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import Connection, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from safecity.bus.port import Bus
from safecity.core.clock import Clock
from safecity.core.errors import BadRequest, Conflict, NotFound
from safecity.dispatch.events import HospitalCapacityChanged
from safecity.dispatch.model import CapacityIn, HospitalIn, Unit, UnitStatus
from safecity.dispatch.places import haversine_m
from safecity.dispatch.tables import hospitals, units
from safecity.store import Store

#: Road seconds from (lon, lat) to each of the points (lons, lats); inf where no open road leads there.
#: None: no road network, rank as the crow flies.
RoadTimesTo = Callable[
    [float, float, npt.NDArray[np.float64], npt.NDArray[np.float64]], npt.NDArray[np.float64]
]

#: The statuses during which a unit holds a place at its hospital.
HOLDING = (UnitStatus.transporting.value, UnitStatus.at_hospital.value)


def add_hospital(store: Store, data: HospitalIn) -> dict[str, Any]:
    try:
        with store.write() as conn:
            conn.execute(insert(hospitals).values(**data.model_dump()))
    except IntegrityError:
        raise Conflict(f"code: a hospital '{data.code}' exists", where="code") from None
    with store.engine.connect() as conn:
        return next(h for h in list_hospitals(conn) if h["code"] == data.code)


def list_hospitals(conn: Connection) -> list[dict[str, Any]]:
    """Every hospital with its capacity, the units holding a place there, and the places free."""
    held: dict[int, int] = {
        int(h): int(n)
        for h, n in conn.execute(
            select(units.c.hospital_id, func.count())
            .where(units.c.status.in_(HOLDING), units.c.hospital_id.is_not(None))
            .group_by(units.c.hospital_id)
        ).all()
    }
    out = []
    for r in conn.execute(select(hospitals).order_by(hospitals.c.code)).mappings():
        used = int(held.get(r["id"], 0))
        out.append({**dict(r), "inUse": used, "free": max(0, int(r["capacity"]) - used)})
    return out


@dataclass(frozen=True)
class HospitalOption:
    """One hospital for a transport from a place: its places, its road time, and why it ranks there."""

    hospital: dict[str, Any]  # a row of list_hospitals
    seconds: float | None  # road time (None: no road network; inf: no open road)
    straight_m: float
    recommended: bool

    def public(self) -> dict[str, Any]:
        h = self.hospital
        places_en = f"{h['free']} of {h['capacity']} places free"
        places_ko = f"{h['capacity']}자리 중 {h['free']}자리 비어 있음"
        if self.seconds is None:
            how_en, how_ko = (
                f"{self.straight_m / 1000:.1f} km as the crow flies",
                f"직선 {self.straight_m / 1000:.1f} km",
            )
        elif not np.isfinite(self.seconds):
            how_en, how_ko = "no open road", "통행 가능한 도로 없음"
        else:
            how_en, how_ko = f"{self.seconds / 60:.1f} min by road", f"도로 {self.seconds / 60:.1f}분"
        full_en, full_ko = ("; full", ", 만원") if h["free"] <= 0 else ("", "")
        return {
            "code": h["code"],
            "nameKo": h["name_ko"],
            "nameEn": h["name_en"],
            "lon": h["lon"],
            "lat": h["lat"],
            "capacity": h["capacity"],
            "inUse": h["inUse"],
            "free": h["free"],
            "capacityAt": h["capacity_at"],
            "travelS": None
            if self.seconds is None or not np.isfinite(self.seconds)
            else round(self.seconds, 1),
            "straightM": round(self.straight_m),
            "basis": "straight" if self.seconds is None else "road",
            "recommended": self.recommended,
            "whyEn": f"{h['name_en']}: {how_en}, {places_en}{full_en}",
            "whyKo": f"{h['name_ko']}: {how_ko}, {places_ko}{full_ko}",
        }


def rank(
    found: list[dict[str, Any]], lon: float, lat: float, times: RoadTimesTo | None
) -> list[HospitalOption]:
    """The hospitals for a transport from (lon, lat): those with a free place first, by road time (as the
    crow flies without a road network; unreachable ones after the reachable), then the full ones; the
    first with a free place and an open road is the recommended one."""
    if not found:
        return []
    hlon = np.array([h["lon"] for h in found], dtype=np.float64)
    hlat = np.array([h["lat"] for h in found], dtype=np.float64)
    straight = haversine_m(hlon, hlat, lon, lat)
    seconds = times(lon, lat, hlon, hlat) if times is not None else None
    key = seconds if seconds is not None else straight
    order = sorted(range(len(found)), key=lambda i: (found[i]["free"] <= 0, float(key[i]), -found[i]["free"]))
    out: list[HospitalOption] = []
    for i in order:
        ok = found[i]["free"] > 0 and bool(np.isfinite(key[i])) and not any(o.recommended for o in out)
        out.append(
            HospitalOption(found[i], None if seconds is None else float(seconds[i]), float(straight[i]), ok)
        )
    return out


def set_capacity(
    store: Store, bus: Bus, clock: Clock, code: str, data: CapacityIn, actor: str
) -> dict[str, Any]:
    """Say how many patients a hospital's emergency department can take now (404: no such hospital).
    Units already on their way keep their place; a capacity below the places in use leaves none free."""
    now = clock.now()
    with store.write() as conn:
        row = conn.execute(
            select(hospitals.c.id, hospitals.c.capacity).where(hospitals.c.code == code)
        ).first()
        if row is None:
            raise NotFound(
                f"hospital: no hospital '{code}'",
                where="code",
                message_ko=f"hospital: '{code}' 병원이 없습니다",
            )
        conn.execute(
            update(hospitals)
            .where(hospitals.c.id == row.id)
            .values(capacity=data.capacity, capacity_at=now, capacity_by=actor)
        )
        bus.publish(
            conn,
            HospitalCapacityChanged(
                hospital=code,
                capacity=data.capacity,
                previous=int(row.capacity),
                at=now,
                actor=actor,
                note=data.note,
            ),
        )
    with store.engine.connect() as conn:
        return next(h for h in list_hospitals(conn) if h["code"] == code)


def pick_hospital(
    conn: Connection, unit: Unit, code: str | None, note: str | None, times: RoadTimesTo | None = None
) -> tuple[int | None, str | None]:
    """The hospital a unit starting to transport goes to, and the status note saying which (ko/en):
    the named one, or the first of :func:`rank` from where the unit is.
    A platform that lists no hospital at all leaves it unset (the crew knows where it goes)."""
    found = list_hospitals(conn)
    if code is None and not found:
        return None, note
    if code is not None:
        named = [h for h in found if h["code"] == code]
        if not named:
            raise BadRequest(
                f"hospital: no hospital '{code}'",
                where="hospital",
                message_ko=f"hospital: '{code}' 병원이 없습니다",
            )
        chosen = named[0]
        if chosen["free"] <= 0:
            raise Conflict(
                f"hospital: {code} has no free place ({chosen['inUse']} of {chosen['capacity']} taken)",
                where="hospital",
                message_ko=f"hospital: {code}에 빈 자리가 없습니다 ({chosen['capacity']}자리 중 {chosen['inUse']}자리 사용)",
            )
    else:
        best = [o for o in rank(found, unit.lon, unit.lat, times) if o.recommended]
        if not best:
            raise Conflict(
                "hospital: no hospital with a free place can be reached; name one (hospital) or update capacities",
                where="hospital",
                message_ko="hospital: 갈 수 있는 병원 중 빈 자리가 있는 곳이 없습니다. 병원을 지정하십시오",
            )
        chosen = best[0].hospital
    said = f"→ {chosen['name_ko']} / {chosen['name_en']}"
    return int(chosen["id"]), f"{note} {said}" if note else said
