# SPDX-License-Identifier: Apache-2.0
"""``/dispatch/...``: stations, units and their status, calls, recommendations and dispatches.

Who may call what: dispatchers (and operators of the situation room) work calls and units; a unit's
own terminal changes its status with a dispatcher's account; administrators set up stations and
units. Calls hold no caller's personal data (no name, no phone number): only the type, the place and the
dispatcher's note, so reading them is for the staff roles only, and every write is audited (the audit
middleware records each request; the events record each status change and dispatch).
"""

from __future__ import annotations

from importlib.resources import files
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import Response

from safecity.auth.deps import allow, resolve_principal
from safecity.auth.model import Principal, Role
from safecity.capability import provider
from safecity.core.errors import MAX_ID
from safecity.dispatch.model import (
    CAPABILITIES,
    STATUS_NAMES,
    TRANSITIONS,
    UNIT_NAMES,
    CallIn,
    CapacityIn,
    DispatchIn,
    HospitalIn,
    StationIn,
    StatusIn,
    UnitIn,
    UnitType,
    call_types,
)
from safecity.dispatch.service import Dispatch

router = APIRouter(prefix="/dispatch", tags=["dispatch"])
_STATIC = files("safecity.dispatch") / "static"

STAFF = (Role.dispatcher, Role.operator)
Svc = Annotated[Dispatch, Depends(provider(Dispatch))]
Who = Annotated[Principal, Depends(resolve_principal)]
# an id outside what the database gives out is a 422 naming the path parameter, never a database error
CallId = Annotated[int, Path(ge=1, le=MAX_ID)]
HospitalCode = Annotated[str, Path(min_length=1, max_length=60)]


@router.get("/call-types", dependencies=[allow(*STAFF)], summary="The 119 call types and their run cards")
def list_call_types() -> list[dict[str, Any]]:
    return [
        {
            "code": t.code,
            "category": t.category.value,
            "nameKo": t.name_ko,
            "nameEn": t.name_en,
            "goldenMin": t.golden_min,
            "runCard": [{"unit": r.unit.value, "count": r.count} for r in t.run_card],
        }
        for t in call_types().values()
    ]


@router.get(
    "/unit-types", dependencies=[allow(*STAFF)], summary="Unit types, capabilities and the status lifecycle"
)
def list_unit_types() -> dict[str, Any]:
    return {
        "types": [
            {
                "type": t.value,
                "nameKo": UNIT_NAMES[t][0],
                "nameEn": UNIT_NAMES[t][1],
                "capabilities": sorted(c),
            }
            for t, c in CAPABILITIES.items()
        ],
        "statuses": [
            {"status": s.value, "nameKo": STATUS_NAMES[s][0], "nameEn": STATUS_NAMES[s][1], "next": sorted(n)}
            for s, n in TRANSITIONS.items()
        ],
    }


@router.get("/stations", dependencies=[allow(*STAFF)], summary="Fire stations and 119 safety centres")
def list_stations(svc: Svc) -> list[dict[str, Any]]:
    return [s.__dict__ for s in svc.stations()]


@router.post("/stations", status_code=201, dependencies=[allow(Role.admin)], summary="Add a station")
def add_station(body: StationIn, svc: Svc) -> dict[str, Any]:
    return svc.add_station(body).__dict__


@router.get("/hospitals", dependencies=[allow(*STAFF)], summary="Hospitals and their free places")
def list_hospitals(svc: Svc) -> list[dict[str, Any]]:
    from safecity.dispatch.hospitals import list_hospitals

    with svc.store.engine.connect() as conn:
        return list_hospitals(conn)


@router.post("/hospitals", status_code=201, dependencies=[allow(Role.admin)], summary="Add a hospital")
def add_hospital(body: HospitalIn, svc: Svc) -> dict[str, Any]:
    from safecity.dispatch.hospitals import add_hospital

    return add_hospital(svc.store, body)


@router.put(
    "/hospitals/{hospital_code}/capacity",
    dependencies=[allow(*STAFF, Role.admin)],
    summary="Say how many patients a hospital's emergency department can take now (audited)",
)
def set_capacity(hospital_code: HospitalCode, body: CapacityIn, svc: Svc, who: Who) -> dict[str, Any]:
    from safecity.dispatch.hospitals import set_capacity

    return set_capacity(svc.store, svc.bus, svc.clock, hospital_code, body, who.name)


@router.get(
    "/geocode",
    dependencies=[allow(*STAFF)],
    summary="An address, place name or dong to a point (the roads' OSM gazetteer, then the shipped dongs)",
)
def geocode(svc: Svc, q: Annotated[str, Query(min_length=2, max_length=300)]) -> dict[str, Any]:
    return svc.geocode(q, where="q").public()


@router.get("/units", dependencies=[allow(*STAFF)], summary="The unit board")
def list_units(svc: Svc) -> list[dict[str, Any]]:
    return [u.public() for u in svc.units()]


@router.post("/units", status_code=201, dependencies=[allow(Role.admin)], summary="Add a unit")
def add_unit(body: UnitIn, svc: Svc, who: Who) -> dict[str, Any]:
    return svc.add_unit(body, who.name).public()


@router.get("/units/{callsign}/history", dependencies=[allow(*STAFF)], summary="A unit's status changes")
def unit_history(callsign: str, svc: Svc) -> list[dict[str, Any]]:
    return svc.history(callsign)


@router.post("/units/{callsign}/status", dependencies=[allow(*STAFF)], summary="Change a unit's status")
def unit_status(callsign: str, body: StatusIn, svc: Svc, who: Who) -> dict[str, Any]:
    return svc.set_status(callsign, body, who.name).public()


@router.get("/calls", dependencies=[allow(*STAFF)], summary="The calls queue (newest first)")
def list_calls(svc: Svc, open_only: Annotated[bool, Query(alias="open")] = False) -> list[dict[str, Any]]:
    return [c.public() for c in svc.calls(open_only=open_only)]


@router.post("/calls", status_code=201, dependencies=[allow(*STAFF)], summary="Take a 119 call")
def receive_call(body: CallIn, svc: Svc, who: Who) -> dict[str, Any]:
    return svc.receive_call(body, who.name).public()


@router.get("/calls/{call_id}", dependencies=[allow(*STAFF)], summary="A call and its units")
def get_call(call_id: CallId, svc: Svc) -> dict[str, Any]:
    return {**svc.call(call_id).public(), "assignments": svc.assignments_of(call_id)}


@router.post("/calls/{call_id}/dispatch", dependencies=[allow(*STAFF)], summary="Send units to a call")
def dispatch_units(call_id: CallId, body: DispatchIn, svc: Svc, who: Who) -> dict[str, Any]:
    return svc.dispatch(call_id, body.units, who.name).public()


@router.post("/calls/{call_id}/close", dependencies=[allow(*STAFF)], summary="Close a call")
def close_call(call_id: CallId, svc: Svc, who: Who) -> dict[str, Any]:
    return svc.close_call(call_id, who.name).public()


@router.get(
    "/calls/{call_id}/recommendation",
    dependencies=[allow(*STAFF)],
    summary="The units to send, by live road time, each explained",
)
def recommendation(call_id: CallId, svc: Svc) -> dict[str, Any]:
    return svc.recommend(call_id).public()


@router.get(
    "/calls/{call_id}/hospitals",
    dependencies=[allow(*STAFF)],
    summary="Hospitals for the call's patient: those with a free place by live road time, then the full",
)
def call_hospitals(call_id: CallId, svc: Svc) -> list[dict[str, Any]]:
    return svc.hospitals_for(call_id)


@router.post(
    "/calls/{call_id}/accept",
    dependencies=[allow(*STAFF)],
    summary="Send the recommended units (one action); their status changes at once",
)
def accept(call_id: CallId, svc: Svc, who: Who) -> dict[str, Any]:
    call, rec = svc.accept(call_id, who.name)
    return {"call": call.public(), "recommendation": rec.public()}


@router.get(
    "/coverage",
    dependencies=[allow(*STAFF)],
    summary="Residents within 5 and 7 minutes of an available unit; each unit's reach",
)
def coverage(
    svc: Svc, unit_type: Annotated[UnitType, Query(alias="type")] = UnitType.ambulance
) -> dict[str, Any]:
    from safecity.dispatch.live import coverage as live_coverage

    return live_coverage(svc, unit_type)


@router.get(
    "/moveup",
    dependencies=[allow(*STAFF)],
    summary="Move-up: the fewest moves of available units that restore coverage (DMEXCLP, HiGHS)",
)
def moveup(
    svc: Svc,
    unit_type: Annotated[UnitType, Query(alias="type")] = UnitType.ambulance,
    max_moves: Annotated[int, Query(alias="maxMoves", ge=0, le=10)] = 2,
) -> dict[str, Any]:
    from safecity.dispatch.live import moveup as live_moveup

    return live_moveup(svc, unit_type, max_moves)


@router.get(
    "/kpis",
    dependencies=[allow(*STAFF)],
    summary="Golden-time KPIs per district, month and call type (NFA definitions, docs/dispatch.md)",
)
def kpis(
    svc: Svc,
    month: Annotated[str | None, Query(description="YYYY-MM (KST)")] = None,
    district: Annotated[str | None, Query(max_length=10)] = None,
) -> list[dict[str, Any]]:
    from safecity.dispatch.kpi import kpis as compute

    return [r.public() for r in compute(svc.store, month=month, district=district)]


@router.get("/kpis.csv", dependencies=[allow(*STAFF)], summary="The golden-time KPIs as CSV")
def kpis_csv(
    svc: Svc,
    month: Annotated[str | None, Query(description="YYYY-MM (KST)")] = None,
    district: Annotated[str | None, Query(max_length=10)] = None,
) -> Response:
    from safecity.dispatch.kpi import kpis as compute
    from safecity.dispatch.kpi import to_csv

    body = to_csv(compute(svc.store, month=month, district=district))
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="golden-time-kpis.csv"'},
    )


# ---- the dispatcher's screen: a public page with private data (it asks for a login, then reads the API)


@router.get(
    "/screen", dependencies=[allow(Role.public)], summary="The dispatcher's screen", include_in_schema=False
)
def screen() -> Response:
    return Response((_STATIC / "screen.html").read_bytes(), media_type="text/html; charset=utf-8")


@router.get("/screen.js", dependencies=[allow(Role.public)], include_in_schema=False)
def screen_js() -> Response:
    return Response((_STATIC / "screen.js").read_bytes(), media_type="text/javascript")


@router.get("/screen.css", dependencies=[allow(Role.public)], include_in_schema=False)
def screen_css() -> Response:
    return Response((_STATIC / "screen.css").read_bytes(), media_type="text/css")
