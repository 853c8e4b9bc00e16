# SPDX-License-Identifier: Apache-2.0
"""The dispatch service: stations, units and their status lifecycle, call intake and incidents,
dispatching units to calls. Every status change is stored with its time and published as an audited
event in the same transaction (``events.py``)."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import Connection, insert, select, update
from sqlalchemy.exc import IntegrityError

from safecity.bus.port import Bus
from safecity.core.clock import Clock
from safecity.core.errors import BadRequest, Conflict, NotFound
from safecity.dispatch.events import CallReceived, UnitsDispatched, UnitStatusChanged
from safecity.dispatch.hospitals import pick_hospital
from safecity.dispatch.model import (
    DISPATCHABLE,
    TRANSITIONS,
    Call,
    CallIn,
    Station,
    StationIn,
    StatusIn,
    Unit,
    UnitIn,
    UnitStatus,
    UnitType,
    call_type,
)
from safecity.dispatch.places import dong_at, dong_by_code, metres
from safecity.dispatch.settings import DispatchSettings
from safecity.dispatch.tables import assignments, calls, incidents, stations, unit_status, units
from safecity.store import Store

if TYPE_CHECKING:
    from safecity.dispatch.recommend import Recommendation
    from safecity.dispatch.roadtime import RoadTimes
    from safecity.dispatch.sensors import RainNow
    from safecity.geo.gazetteer import Gazetteer, Place


class Dispatch:
    def __init__(
        self, store: Store, bus: Bus, clock: Clock, settings: DispatchSettings, data_dir: Path | None = None
    ) -> None:
        self.store = store
        self.bus = bus
        self.clock = clock
        self.settings = settings
        self.data_dir = data_dir
        self._roads: tuple[float, RoadTimes] | None = None
        self._roads_lock = threading.Lock()
        self._gazetteer: tuple[float | None, Gazetteer | None] | None = None
        #: the rain at a point, or over the city (set by setup(): the rain gauges, ``sensors.py``)
        self.rain: Callable[[float | None, float | None], RainNow] | None = None

    def rain_at(self, lon: float | None = None, lat: float | None = None) -> RainNow:
        """Whether road times take the rain factor at (lon, lat) (or over the city), and why."""
        from safecity.dispatch.sensors import RainNow

        if self.rain is None:
            return RainNow(self.settings.rain, None, 0, self.settings.rain)
        return self.rain(lon, lat)

    # ---- roads and recommendations ---------------------------------------------------------------

    def roads(self) -> RoadTimes:
        """Road times on the imported network (``safecity import roads``), reloaded when it changes."""
        from safecity.dispatch.roadtime import RoadTimes
        from safecity.geo.roads import graph_path, load_graph
        from safecity.geo.roads.routing import RoadNetworkMissing

        path = graph_path(self.data_dir) if self.data_dir else None
        if path is None or not path.is_file():
            raise RoadNetworkMissing(
                "no road network is imported: run `safecity import roads FILE.osm` (or `safecity demo load`)",
                message_ko="도로망이 없습니다: `safecity import roads FILE.osm`을 실행하십시오",
            )
        mtime = path.stat().st_mtime
        with self._roads_lock:
            if self._roads is None or self._roads[0] != mtime:
                self._roads = (mtime, RoadTimes(load_graph(path)))
            return self._roads[1]

    def live_roads(self) -> RoadTimes:
        """The network in use: the one given to :meth:`use_roads`, else the imported one."""
        with self._roads_lock:
            if self._roads is not None and self._roads[0] == -1.0:
                return self._roads[1]
        return self.roads()

    def use_roads(self, roads: RoadTimes) -> None:
        """Route on this network instead of the imported one (simulations, benchmarks)."""
        with self._roads_lock:
            self._roads = (-1.0, roads)
            self.data_dir = None

    def avoid(self) -> Any:
        """Closed and flooded roads and active hazard zones (the evacuation capability's public API)."""
        from safecity.evacuation.routing import avoided_geometries
        from safecity.geo.roads.routing import Avoid

        with self.store.engine.connect() as conn:
            closures, zones = avoided_geometries(conn, self.clock.now())
        return Avoid(closures=tuple(closures), hazards=tuple(zones))

    def recommend(self, call_id: int) -> Recommendation:
        from safecity.dispatch.recommend import recommend

        call = self.call(call_id)
        roads = self.live_roads()
        rain = self.rain_at(call.lon, call.lat)
        band = roads.band(self.clock.now(), rain.raining, self.avoid())
        rec = recommend(
            call.id,
            call.lon,
            call.lat,
            call_type(call.type),
            self.units(),
            roads,
            band,
            limit_s=self.settings.search_limit_s,
        )
        return dataclasses.replace(rec, rain=rain.public())

    def geocode(self, text: str, where: str = "address") -> Place:
        """An address, place name or dong to a point: the gazetteer imported with the roads, then the
        shipped dongs (safecity.geo.gazetteer); a 400 naming ``where`` when nothing matches."""
        from safecity.geo.gazetteer import gazetteer_path, geocode, load_gazetteer

        path = gazetteer_path(self.data_dir) if self.data_dir else None
        mtime = path.stat().st_mtime if path is not None and path.is_file() else None
        with self._roads_lock:
            if self._gazetteer is None or self._gazetteer[0] != mtime:
                self._gazetteer = (mtime, load_gazetteer(self.data_dir) if mtime is not None else None)
            gaz = self._gazetteer[1]
        return geocode(text, gaz, where=where)

    def road_times_to(self, lon: float, lat: float, lons: Any, lats: Any) -> Any:
        """Road seconds from (lon, lat) to each point now (hour, rain there, closures), access included;
        inf where no open road leads. Raises RoadNetworkMissing without an imported network."""
        roads = self.live_roads()
        band = roads.band(self.clock.now(), self.rain_at(lon, lat).raining, self.avoid())
        start, access = roads.snap(np.array([lon]), np.array([lat]))
        if start[0] < 0:
            return np.full(len(lons), np.inf)
        seconds = roads.from_node(band, int(start[0]), self.settings.search_limit_s)
        nodes, ends = roads.snap_cached(
            np.asarray(lons, dtype=np.float64), np.asarray(lats, dtype=np.float64)
        )
        out = np.where(nodes >= 0, seconds[np.maximum(nodes, 0)] + ends + access[0], np.inf)
        return out

    def hospital_times(self) -> Callable[..., Any] | None:
        """:meth:`road_times_to` where a road network is imported, else None (ranked as the crow flies)."""
        from safecity.geo.roads.routing import RoadNetworkMissing

        try:
            self.live_roads()
        except RoadNetworkMissing:
            return None
        return self.road_times_to

    def hospitals_for(self, call_id: int) -> list[dict[str, Any]]:
        """The hospitals for a patient of this call, ranked from the call's place (hospitals.rank)."""
        from safecity.dispatch.hospitals import list_hospitals, rank

        call = self.call(call_id)
        with self.store.engine.connect() as conn:
            found = list_hospitals(conn)
        return [o.public() for o in rank(found, call.lon, call.lat, self.hospital_times())]

    def accept(self, call_id: int, actor: str) -> tuple[Call, Recommendation]:
        """The dispatcher's one action: send the recommended units (their status changes at once)."""
        rec = self.recommend(call_id)
        if not rec.picks:
            raise Conflict(
                "units: no dispatchable unit can reach this call; send units by hand",
                where="units",
                message_ko="units: 이 신고에 갈 수 있는 출동 가능 차량이 없습니다",
            )
        call = self.dispatch(
            call_id,
            [p.unit.callsign for p in rec.picks],
            actor,
            travel_s={p.unit.callsign: p.seconds for p in rec.picks},
            routes={p.unit.callsign: p.route for p in rec.picks},
        )
        return call, rec

    # ---- stations and units ----------------------------------------------------------------------

    def add_station(self, data: StationIn) -> Station:
        try:
            with self.store.write() as conn:
                sid = conn.execute(
                    insert(stations).values(**data.model_dump()).returning(stations.c.id)
                ).scalar_one()
        except IntegrityError:
            raise Conflict(f"code: a station '{data.code}' exists", where="code") from None
        return Station(id=sid, **data.model_dump())

    def stations(self) -> list[Station]:
        with self.store.engine.connect() as conn:
            rows = conn.execute(select(stations).order_by(stations.c.code)).mappings().all()
        return [Station(**r) for r in rows]

    def add_unit(self, data: UnitIn, actor: str) -> Unit:
        now = self.clock.now()
        try:
            with self.store.write() as conn:
                st = conn.execute(select(stations).where(stations.c.code == data.station)).mappings().first()
                if st is None:
                    raise BadRequest(f"station: no station '{data.station}'", where="station")
                conn.execute(
                    insert(units).values(
                        callsign=data.callsign,
                        type=data.type.value,
                        crew=data.crew,
                        station_id=st["id"],
                        status=UnitStatus.available.value,
                        status_at=now,
                        lon=st["lon"],
                        lat=st["lat"],
                    )
                )
        except IntegrityError:
            raise Conflict(f"callsign: a unit '{data.callsign}' exists", where="callsign") from None
        return self.unit(data.callsign)

    def units(self, conn: Connection | None = None) -> list[Unit]:
        q = (
            select(units, stations.c.code.label("station"))
            .join(stations, stations.c.id == units.c.station_id)
            .order_by(units.c.callsign)
        )
        if conn is not None:
            return [_unit(r) for r in conn.execute(q).mappings()]
        with self.store.engine.connect() as c:
            return [_unit(r) for r in c.execute(q).mappings()]

    def unit(self, callsign: str, conn: Connection | None = None) -> Unit:
        q = (
            select(units, stations.c.code.label("station"))
            .join(stations, stations.c.id == units.c.station_id)
            .where(units.c.callsign == callsign)
        )
        if conn is not None:
            row = conn.execute(q).mappings().first()
        else:
            with self.store.engine.connect() as c:
                row = c.execute(q).mappings().first()
        if row is None:
            raise NotFound(f"unit: no unit '{callsign}'", where="unit", message_ko=f"unit: '{callsign}' 없음")
        return _unit(row)

    def history(self, callsign: str) -> list[dict[str, Any]]:
        unit = self.unit(callsign)
        with self.store.engine.connect() as conn:
            rows = conn.execute(
                select(unit_status).where(unit_status.c.unit_id == unit.id).order_by(unit_status.c.id)
            ).mappings()
            return [
                {
                    "status": r["status"],
                    "previous": r["previous"],
                    "at": r["at"].isoformat(),
                    "actor": r["actor"],
                    "call": r["call_id"],
                    "note": r["note"],
                }
                for r in rows
            ]

    def set_status(self, callsign: str, data: StatusIn, actor: str) -> Unit:
        """Change a unit's status (by the dispatcher or the unit's own terminal); refused unless the
        lifecycle allows it (409 naming both statuses)."""
        with self.store.write() as conn:
            unit = self.unit(callsign, conn)
            self._change(
                conn,
                unit,
                data.status,
                actor,
                note=data.note,
                lon=data.lon,
                lat=data.lat,
                hospital=data.hospital,
            )
        return self.unit(callsign)

    def _change(
        self,
        conn: Connection,
        unit: Unit,
        status: UnitStatus,
        actor: str,
        *,
        call_id: int | None = None,
        note: str | None = None,
        lon: float | None = None,
        lat: float | None = None,
        hospital: str | None = None,
    ) -> None:
        if status not in TRANSITIONS[unit.status]:
            allowed = ", ".join(sorted(s.value for s in TRANSITIONS[unit.status]))
            raise Conflict(
                f"status: {unit.callsign} is {unit.status.value}; it can go to {allowed}, not {status.value}",
                where="status",
                message_ko=f"status: {unit.callsign}은(는) {unit.status.value} 상태라 {status.value}(으)로 바꿀 수 없습니다",
            )
        now = self.clock.now()
        keep_call = status not in (UnitStatus.available, UnitStatus.out_of_service)
        new_call = call_id if call_id is not None else (unit.call_id if keep_call else None)
        values: dict[str, Any] = {"status": status.value, "status_at": now, "call_id": new_call}
        if status is UnitStatus.transporting:  # to the named hospital, or the nearest with a free place
            values["hospital_id"], note = pick_hospital(conn, unit, hospital, note, self.hospital_times())
        elif status is not UnitStatus.at_hospital:
            values["hospital_id"] = None
        if lon is not None and lat is not None:
            values |= {"lon": lon, "lat": lat, "position_at": now}
        if status is UnitStatus.available and lon is None:
            home = conn.execute(
                select(stations.c.lon, stations.c.lat).where(stations.c.code == unit.station)
            ).one()
            # back in quarters, as of now: a tracker's fix from before cannot move it away again
            values |= {"lon": home.lon, "lat": home.lat, "position_at": now}
        conn.execute(update(units).where(units.c.id == unit.id).values(**values))
        conn.execute(
            insert(unit_status).values(
                unit_id=unit.id,
                status=status.value,
                previous=unit.status.value,
                at=now,
                actor=actor,
                call_id=new_call,
                note=note,
            )
        )
        if status is UnitStatus.on_scene and unit.call_id is not None:
            conn.execute(
                update(assignments)
                .where(
                    assignments.c.call_id == unit.call_id,
                    assignments.c.unit_id == unit.id,
                    assignments.c.arrived_at.is_(None),
                )
                .values(arrived_at=now)
            )
            conn.execute(
                update(calls)
                .where(calls.c.id == unit.call_id, calls.c.arrived_at.is_(None))
                .values(arrived_at=now)
            )
        self.bus.publish(
            conn,
            UnitStatusChanged(
                unit=unit.callsign,
                unit_type=unit.type.value,
                status=status.value,
                previous=unit.status.value,
                call_id=new_call,
                at=now,
                actor=actor,
                note=note,
            ),
        )

    # ---- calls -----------------------------------------------------------------------------------

    def receive_call(
        self, data: CallIn, actor: str, *, source: str = "call", status: str = "open", ref: str | None = None
    ) -> Call:
        """Take a call: place it (point, dong or address), then join the open incident of its category
        it belongs to (asked for, or the nearest within ``join_radius_m`` opened within
        ``join_minutes``) or open one."""
        kind = call_type(data.type)
        if data.lon is not None and data.lat is not None:
            lon, lat = data.lon, data.lat
            dong = dong_at(lon, lat)
        elif data.dong:
            dong = dong_by_code(data.dong)
            c = dong.polygon.representative_point()
            lon, lat = float(c.x), float(c.y)
        else:
            place = self.geocode(data.address or "")
            lon, lat = place.lon, place.lat
            dong = dong_by_code(place.dong) if place.dong else dong_at(lon, lat)
        now = self.clock.now()
        with self.store.write() as conn:
            incident = self._incident_for(conn, data, kind.category.value, lon, lat, now)
            try:
                with conn.begin_nested():
                    call_id = conn.execute(
                        insert(calls)
                        .values(
                            type=kind.code,
                            status=status,
                            ref=ref,
                            received_at=now,
                            lon=lon,
                            lat=lat,
                            address=data.address,
                            dong=dong.code if dong else None,
                            district=dong.district_code if dong else None,
                            incident_id=incident,
                            situation_incident=data.situation_incident,
                            note=data.note,
                            source=source,
                        )
                        .returning(calls.c.id)
                    ).scalar_one()
            except IntegrityError:
                what = f"ref: {ref}" if ref else f"situationIncident: incident {data.situation_incident}"
                raise Conflict(
                    f"{what} already has a call", where="ref" if ref else "situationIncident"
                ) from None
            self.bus.publish(
                conn,
                CallReceived(
                    call_id=call_id,
                    call_type=kind.code,
                    category=kind.category.value,
                    incident=incident,
                    lon=lon,
                    lat=lat,
                    district=dong.district_code if dong else None,
                    source=source,
                    at=now,
                    actor=actor,
                ),
            )
        return self.call(call_id)

    def _incident_for(
        self, conn: Connection, data: CallIn, category: str, lon: float, lat: float, now: datetime
    ) -> int:
        if data.incident is not None:
            row = conn.execute(select(incidents).where(incidents.c.id == data.incident)).mappings().first()
            if row is None or row["closed_at"] is not None:
                raise BadRequest(f"incident: no open incident {data.incident}", where="incident")
            return int(row["id"])
        since = now - timedelta(minutes=self.settings.join_minutes)
        near = [
            (metres(lon, lat, r["lon"], r["lat"]), int(r["id"]))
            for r in conn.execute(
                select(incidents).where(
                    incidents.c.category == category,
                    incidents.c.closed_at.is_(None),
                    incidents.c.opened_at >= since,
                )
            ).mappings()
        ]
        near = [n for n in near if n[0] <= self.settings.join_radius_m]
        if near:
            return min(near)[1]
        return int(
            conn.execute(
                insert(incidents)
                .values(
                    category=category,
                    opened_at=now,
                    lon=lon,
                    lat=lat,
                    situation_incident=data.situation_incident,
                )
                .returning(incidents.c.id)
            ).scalar_one()
        )

    def call(self, call_id: int) -> Call:
        with self.store.engine.connect() as conn:
            row = conn.execute(select(calls).where(calls.c.id == call_id)).mappings().first()
        if row is None:
            raise NotFound(f"call: no call {call_id}", where="call", message_ko=f"call: 신고 {call_id} 없음")
        return _call(row)

    def calls(self, *, open_only: bool = False, limit: int = 200) -> list[Call]:
        q = select(calls).order_by(calls.c.id.desc()).limit(limit)
        if open_only:
            q = q.where(calls.c.status != "closed")
        with self.store.engine.connect() as conn:
            return [_call(r) for r in conn.execute(q).mappings()]

    def assignments_of(self, call_id: int) -> list[dict[str, Any]]:
        with self.store.engine.connect() as conn:
            rows = conn.execute(
                select(assignments, units.c.callsign)
                .join(units, units.c.id == assignments.c.unit_id)
                .where(assignments.c.call_id == call_id)
                .order_by(assignments.c.id)
            ).mappings()
            return [
                {
                    "unit": r["callsign"],
                    "assignedAt": r["assigned_at"].isoformat(),
                    "travelS": r["travel_s"],
                    "arrivedAt": r["arrived_at"].isoformat() if r["arrived_at"] else None,
                    "actor": r["actor"],
                }
                for r in rows
            ]

    def dispatch(
        self,
        call_id: int,
        callsigns: Iterable[str],
        actor: str,
        *,
        travel_s: dict[str, float] | None = None,
        routes: dict[str, list[list[float]]] | None = None,
    ) -> Call:
        """Send units to a call in one transaction: each must be dispatchable (available or returning);
        their status becomes ``dispatched`` and the call's ``dispatched``. All or none."""
        names = list(dict.fromkeys(callsigns))
        travel_s = travel_s or {}
        routes = routes or {}
        now = self.clock.now()
        with self.store.write() as conn:
            call = conn.execute(select(calls).where(calls.c.id == call_id)).mappings().first()
            if call is None:
                raise NotFound(f"call: no call {call_id}", where="call")
            if call["status"] == "closed":
                raise Conflict(f"call: call {call_id} is closed", where="call")
            for name in names:
                unit = self.unit(name, conn)
                if unit.status not in DISPATCHABLE:
                    raise Conflict(
                        f"units: {name} is {unit.status.value}, not available",
                        where="units",
                        message_ko=f"units: {name}은(는) 출동 가능 상태가 아닙니다 ({unit.status.value})",
                    )
                self._change(conn, unit, UnitStatus.dispatched, actor, call_id=call_id)
                conn.execute(
                    insert(assignments).values(
                        call_id=call_id,
                        unit_id=unit.id,
                        assigned_at=now,
                        travel_s=travel_s.get(name),
                        actor=actor,
                    )
                )
            values: dict[str, Any] = {"status": "dispatched"}
            if call["dispatched_at"] is None:
                values["dispatched_at"] = now
            conn.execute(update(calls).where(calls.c.id == call_id).values(**values))
            self.bus.publish(
                conn,
                UnitsDispatched(
                    call_id=call_id,
                    units=names,
                    travel_s=[float(travel_s.get(n, -1.0)) for n in names],  # -1: not estimated
                    route=[routes.get(n, []) for n in names],
                    at=now,
                    actor=actor,
                ),
            )
        return self.call(call_id)

    def close_call(self, call_id: int, actor: str) -> Call:
        """Close a call: units still on it are released (returning)."""
        now = self.clock.now()
        with self.store.write() as conn:
            call = conn.execute(select(calls).where(calls.c.id == call_id)).mappings().first()
            if call is None:
                raise NotFound(f"call: no call {call_id}", where="call")
            for unit in self.units(conn):
                if unit.call_id == call_id and UnitStatus.returning in TRANSITIONS[unit.status]:
                    self._change(conn, unit, UnitStatus.returning, actor)
            conn.execute(update(calls).where(calls.c.id == call_id).values(status="closed", closed_at=now))
        return self.call(call_id)


def _unit(r: Any) -> Unit:
    return Unit(
        id=r["id"],
        callsign=r["callsign"],
        type=UnitType(r["type"]),
        crew=r["crew"],
        station=r["station"],
        status=UnitStatus(r["status"]),
        status_at=r["status_at"],
        lon=r["lon"],
        lat=r["lat"],
        call_id=r["call_id"],
        position_at=r["position_at"],
        hospital_id=r["hospital_id"],
    )


def _call(r: Any) -> Call:
    return Call(
        id=r["id"],
        type=r["type"],
        status=r["status"],
        received_at=r["received_at"],
        dispatched_at=r["dispatched_at"],
        arrived_at=r["arrived_at"],
        closed_at=r["closed_at"],
        lon=r["lon"],
        lat=r["lat"],
        address=r["address"],
        dong=r["dong"],
        district=r["district"],
        incident=r["incident_id"],
        situation_incident=r["situation_incident"],
        note=r["note"],
        source=r["source"],
    )
