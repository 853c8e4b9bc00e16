# SPDX-License-Identifier: Apache-2.0
"""Hospitals an ambulance takes patients to, with the patients each emergency department can take now.

A unit that starts ``transporting`` goes to the hospital the dispatcher (or the crew) names, or else to the
nearest one, as the crow flies from where the unit is, that has a free place: its capacity less the units
already transporting to it or at it. A named hospital that is full is refused (409), so a full emergency
department is never filled by hand without a look; no free place anywhere is a 409 saying to name one.
Where no hospital is listed at all, a transport names none (the crew knows where it goes).
"Nearest as the crow flies" is a simplification: the road time to each hospital is not searched
(a limit written in docs/dispatch.md).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, func, insert, select
from sqlalchemy.exc import IntegrityError

from safecity.core.errors import BadRequest, Conflict
from safecity.dispatch.model import HospitalIn, Unit, UnitStatus
from safecity.dispatch.places import metres
from safecity.dispatch.tables import hospitals, units
from safecity.store import Store

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


def pick_hospital(
    conn: Connection, unit: Unit, code: str | None, note: str | None
) -> tuple[int | None, str | None]:
    """The hospital a unit starting to transport goes to, and the status note saying which (ko/en).
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
        free = [h for h in found if h["free"] > 0]
        if not free:
            raise Conflict(
                "hospital: no hospital has a free place; name one (hospital) or update capacities",
                where="hospital",
                message_ko="hospital: 빈 자리가 있는 병원이 없습니다. 병원을 지정하십시오",
            )
        chosen = min(free, key=lambda h: metres(unit.lon, unit.lat, h["lon"], h["lat"]))
    said = f"→ {chosen['name_ko']} / {chosen['name_en']}"
    return int(chosen["id"]), f"{note} {said}" if note else said
