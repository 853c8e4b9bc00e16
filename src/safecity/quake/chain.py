# SPDX-License-Identifier: Apache-2.0
"""The earthquake capability in the platform's chain: an earthquake incident gets its expected damage.

When situation opens (or grows) an earthquake incident, :class:`QuakeChain` reads the accelerometers'
peaks (sensing's public directory and recent observations, never its tables), places the earthquake
that best explains them and conditions the shaking on them (:func:`.service.assess_readings`), and
computes the damage of every building of the inventory. A CAP earthquake message (KMA's or any
agency's) takes the same way from its rupture (:meth:`QuakeChain.assess_message`) and opens the incident
itself. Each assessment, in one transaction:

* the damage map: cells of ``cell_m`` with mean damage-state probabilities (collection ``quake-damage``);
* the buildings to inspect first (collapse probability × occupants at the hour of the earthquake);
* collapse cordons around the likeliest collapses, as evacuation hazard zones (:mod:`.cordons`), with the
  walk out of each to the nearest outdoor earthquake site (computed just after, on the road network);
* shelter demand per dong against the open temporary housing there;
* the event ``quake.DamageAssessed``; then a note on the incident through situation's public
  :meth:`~safecity.situation.incidents.Incidents.attach` (its timeline and the room's stream show it).

A repeat (the same readings again: the bus delivers at least once; our own note comes back as an
``IncidentUpdated``) changes nothing. The inventory is the generated Seoul (labelled generated
everywhere it shows) over the districts the geo capability holds, built once per set of areas.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection

from safecity.bus.port import Bus
from safecity.core.clock import Clock
from safecity.core.logging import get_logger
from safecity.evacuation.shelters import ShelterKind, ShelterQuery, list_shelters
from safecity.geo import seoul
from safecity.geo.areas import AreaRef, area_at, area_by_id, areas_of, geometry_of
from safecity.quake import cordons as cordon_zones
from safecity.quake import report as rep
from safecity.quake import tables as t
from safecity.quake.capmsg import QuakeMessage, quake_from_cap
from safecity.quake.events import CollapseCandidate, DamageAssessed
from safecity.quake.generate import DistrictArea, generate_seoul
from safecity.quake.inventory import Inventory, TimeOfDay, with_areas
from safecity.quake.jobs import ACTOR, AssessmentQueue
from safecity.quake.service import Assessment, assess_readings, assess_scenario
from safecity.quake.settings import QuakeSettings
from safecity.quake.shakemap import Stations
from safecity.sensing.catalogue import Catalogue
from safecity.sensing.directory import recent_observations, stream_directory
from safecity.situation.incident_inputs import AttachmentIn, ManualIncidentIn
from safecity.situation.incidents import Incidents
from safecity.situation.model import Crisis
from safecity.store import Store

log = get_logger(__name__)
SEOUL = ZoneInfo("Asia/Seoul")
PGA_PROPERTY = "peak_ground_acceleration"
#: The fewest accelerometers that place an earthquake (shakemap.fit_source's own minimum).
MIN_STATIONS = 3


@dataclass(frozen=True)
class Readings:
    """The accelerometers' peaks (gal) since ``since``: what an assessment from readings is based on."""

    since: datetime
    lon: tuple[float, ...]
    lat: tuple[float, ...]
    pga_gal: tuple[float, ...]

    def stations(self) -> Stations:
        return Stations.from_pga_gal(np.array(self.lon), np.array(self.lat), np.array(self.pga_gal))

    def to_json(self) -> dict[str, Any]:
        return {
            "since": self.since.isoformat(),
            "lon": list(self.lon),
            "lat": list(self.lat),
            "pgaGal": list(self.pga_gal),
        }


def time_of_day(at: datetime) -> TimeOfDay:
    """Hazus' three occupancy times from the hour in Seoul: night 22-06 h, commute 07-09 h and 17-19 h,
    day otherwise (Hazus uses 2 a.m., 2 p.m. and 5 p.m. as the three representative hours)."""
    hour = at.astimezone(SEOUL).hour
    if hour >= 22 or hour < 7:
        return TimeOfDay.NIGHT
    if 7 <= hour < 10 or 17 <= hour < 20:
        return TimeOfDay.COMMUTE
    return TimeOfDay.DAY


class QuakeChain:
    """The service: one per platform; the bus thread and request threads may call it together."""

    def __init__(
        self,
        store: Store,
        bus: Bus,
        clock: Clock,
        incidents: Incidents,
        catalogue: Catalogue,
        settings: QuakeSettings,
        data_dir: Path,
    ) -> None:
        self.store = store
        self.bus = bus
        self.clock = clock
        self.incidents = incidents
        self.catalogue = catalogue
        self.settings = settings
        self.data_dir = data_dir
        self._lock = threading.Lock()  # one assessment at a time, one inventory build
        self._inventory: Inventory | None = None
        self._inventory_key: object = None
        #: assessments asked for on the bus, run by the capability's worker (jobs.py)
        self.queue = AssessmentQueue(self)

    # ------------------------------------------------------------------------------------ inventory
    def inventory(self) -> Inventory:
        """The generated inventory over the districts the platform holds (the shipped Seoul boundaries
        before any are imported), with each building's dong; rebuilt only when the areas change."""
        with self.store.engine.connect() as conn:
            districts = _prefer_mois(areas_of(conn, "district"))
            dongs = _prefer_mois(areas_of(conn, "dong"))
            key = (
                self.settings.buildings,
                self.settings.seed,
                tuple((a.id, a.population) for a in districts),
                len(dongs),
            )
            if self._inventory is not None and key == self._inventory_key:
                return self._inventory
            if districts:
                areas = [
                    DistrictArea(a.code, g, a.population or 0)
                    for a in districts
                    if (g := geometry_of(conn, a.id)) is not None
                ]
                dong_polys = [(a.code, g) for a in dongs if (g := geometry_of(conn, a.id)) is not None]
            else:
                areas = [DistrictArea(b.code, b.polygon, 0) for b in seoul.districts()]
                dong_polys = [(b.code, b.polygon) for b in seoul.dongs()]
        inventory = generate_seoul(
            [a for a in areas if a.polygon is not None],
            seed=self.settings.seed,
            total=self.settings.buildings,
        )
        if dong_polys:
            inventory = with_areas(inventory, dong_polys, level="dong")
        self._inventory, self._inventory_key = inventory, key
        return inventory

    def warm_up(self) -> int:
        """Build the inventory now (a worker's step: 1 the first time, 0 after)."""
        with self._lock:
            if self._inventory is not None:
                return 0
            self.inventory()
            return 1

    # ------------------------------------------------------------------------------------- readings
    def readings(self, since: datetime) -> Readings:
        """Each accelerometer's peak PGA (gal) observed after ``since`` (streams without a location or a
        reading are left out)."""
        with self.store.engine.connect() as conn:
            streams = {
                s.datastream_id: s
                for s in stream_directory(conn, self.catalogue)
                if s.property == PGA_PROPERTY and s.lon is not None and s.lat is not None
            }
            peaks: dict[int, float] = {}
            for chunk in recent_observations(conn, list(streams), since):
                for o in chunk:
                    if o.datastream_id is not None and isinstance(o.result, int | float):
                        peaks[o.datastream_id] = max(peaks.get(o.datastream_id, 0.0), float(o.result))
        ids = sorted(peaks)
        return Readings(
            since,
            tuple(float(streams[i].lon or 0.0) for i in ids),
            tuple(float(streams[i].lat or 0.0) for i in ids),
            tuple(peaks[i] for i in ids),
        )

    # ------------------------------------------------------------------------------------- the chain
    def assess_incident(self, incident_id: int, at: datetime) -> int | None:
        """Assess an earthquake incident from the accelerometers; the assessment id, or None when there
        is nothing new (the same readings as the current assessment, or too few stations)."""
        with self._lock:
            current = self._current(incident_id)
            if current is not None and current["origin"] != "readings":
                return None  # placed by an agency's message: the readings do not replace it
            since = (
                datetime.fromisoformat(current["readings"]["since"])
                if current is not None
                else at - timedelta(minutes=self.settings.window_min)
            )
            readings = self.readings(since)
            if current is not None and current["readings"] == readings.to_json():
                return None
            if sum(1 for v in readings.pga_gal if v > 0) < MIN_STATIONS:
                log.info("earthquake incident without enough accelerometer readings", incident=incident_id)
                return None
            inventory = self.inventory()
            tod = time_of_day(at)
            result = assess_readings(
                readings.stations(), inventory, time_of_day=tod, top=1, method=self.settings.damage_method
            )
            return self._record(
                incident_id, "readings", result, inventory, readings.to_json(), len(readings.lon)
            )

    def assess_message(self, data: bytes, actor: str) -> int:
        """A CAP earthquake message (untrusted bytes) → an earthquake incident with its expected damage;
        returns the incident id. CapQuakeError (400) names what the message lacks."""
        return self.assess_quake(quake_from_cap(data), actor)

    def assess_quake(self, message: QuakeMessage, actor: str) -> int:
        """An earthquake an agency's message reports → its incident (opened here) and expected damage."""
        at = message.origin_time or self.clock.now()
        with self._lock:
            inventory = self.inventory()
            result = assess_scenario(
                message.rupture,
                inventory,
                time_of_day=time_of_day(at),
                top=1,
                method=self.settings.damage_method,
            )
            levels = district_levels(result)
            r = message.rupture
            opened = self.incidents.open_manual(
                ManualIncidentIn(
                    hazard="earthquake",
                    level=max(levels.values(), default=int(Crisis.attention)),
                    # the warnings' headline and text lead with it: hazard and magnitude, as KMA's texts
                    # say them ("규모 5.8 지진"); the message and its sender are in the source note
                    title_ko=f"지진 규모 {r.magnitude:.1f}",
                    title_en=f"Earthquake M{r.magnitude:.1f}",
                    # each district at the level of its own shaking (the warnings tell each its own)
                    district_levels=levels,
                    # shaken nowhere in the city at IV or more: an incident for the room, at its epicentre
                    lon=None if levels else r.lon,
                    lat=None if levels else r.lat,
                    source_note=f"CAP {message.identifier} ({message.sender})",
                    at=at,
                ),
                actor,
            )
            incident_id = opened.id
            self._record(incident_id, "cap", result, inventory, {"message": message.identifier}, 0)
        return incident_id

    def incident_of(self, message: str) -> int | None:
        """The incident an agency's message (CAP identifier) already opened, if any (a repeat)."""
        a = t.assessments.c
        with self.store.engine.connect() as conn:
            for incident, readings in conn.execute(
                select(a.incident_id, a.readings).where(a.origin == "cap")
            ):
                if readings.get("message") == message:
                    return int(incident)
        return None

    def _current(self, incident_id: int) -> dict[str, Any] | None:
        a = t.assessments.c
        with self.store.engine.connect() as conn:
            row = conn.execute(
                select(t.assessments).where(a.incident_id == incident_id, a.current.is_(True))
            ).first()
        return None if row is None else dict(row._mapping)

    def _record(
        self,
        incident_id: int,
        origin: str,
        result: Assessment,
        inventory: Inventory,
        readings: dict[str, Any],
        stations: int,
    ) -> int:
        s = self.settings
        damage = result.damage
        inspect = rep.inspections(inventory, damage, s.inspections)
        cells = rep.cells(inventory, damage, s.cell_m)
        now = self.clock.now()
        with self.store.engine.connect() as conn:
            capacity, names = _housing(conn)
        needs = rep.shelter_needs(inventory, damage, capacity, names)
        total = result.summary.total.to_dict()
        rupture = result.rupture
        a, c = t.assessments.c, t.damage_cells.c
        with self.store.write() as conn:
            previous = conn.execute(
                select(a.report).where(a.incident_id == incident_id, a.current.is_(True))
            ).scalars()
            for old in previous:
                cordon_zones.lift(conn, [int(z["zoneId"]) for z in old.get("cordons", [])], now)
            conn.execute(update(t.assessments).where(a.incident_id == incident_id).values(current=False))
            conn.execute(update(t.damage_cells).where(c.incident_id == incident_id).values(current=False))
            # cordons where collapses are expected: as many as the expected collapses (at most
            # s.cordons), around the buildings likeliest to be among them
            likeliest = rep.likeliest(inventory, damage, min(s.cordons, int(damage.collapse.sum())))
            drawn = cordon_zones.draw(
                conn, incident_id, likeliest, most=s.cordons, min_collapse=s.cordon_min_collapse, now=now
            )
            report = {
                "incidentId": incident_id,
                "at": now.isoformat(),
                "origin": origin,
                "earthquake": {
                    "magnitude": round(rupture.magnitude, 2),
                    "lon": round(rupture.lon, 4),
                    "lat": round(rupture.lat, 4),
                    "depthKm": round(rupture.depth_km, 1),
                    "stations": stations,
                    "fittedToReadings": origin == "readings",
                },
                "generated": inventory.generated,
                "inventorySource": inventory.source,
                "buildings": len(inventory),
                "timeOfDay": damage.time_of_day.name.lower(),
                "total": total,
                "districts": [d.to_dict() for d in result.summary.areas],
                "inspections": [
                    i.to_json()
                    | {"dongKo": names.get(i.dong, ("", ""))[0], "dongEn": names.get(i.dong, ("", ""))[1]}
                    for i in inspect
                ],
                "cordons": [z.to_json() for z in drawn],
                "routes": [],
                "shelterDemand": [n.to_json() for n in needs[:50]],
                "shelterTotals": {
                    "demand": round(sum(n.demand for n in needs), 1),
                    "capacity": sum(n.capacity for n in needs),
                    "shortfall": round(sum(n.shortfall for n in needs), 1),
                    "dongsShort": sum(1 for n in needs if n.shortfall > 0),
                },
                "map": {"collection": "quake-damage", "cellM": s.cell_m, "cells": len(cells)},
            }
            assessment_id = int(
                conn.execute(
                    insert(t.assessments)
                    .values(
                        incident_id=incident_id,
                        current=True,
                        at=now,
                        origin=origin,
                        magnitude=rupture.magnitude,
                        lon=rupture.lon,
                        lat=rupture.lat,
                        depth_km=rupture.depth_km,
                        stations=stations,
                        buildings=len(inventory),
                        generated=inventory.generated,
                        time_of_day=damage.time_of_day.name.lower(),
                        readings=readings,
                        report=report,
                    )
                    .returning(a.id)
                ).scalar_one()
            )
            if cells:
                conn.execute(
                    insert(t.damage_cells),
                    [_cell_row(assessment_id, incident_id, x, inventory.generated) for x in cells],
                )
            cas = total["casualties"]
            self.bus.publish(
                conn,
                DamageAssessed(
                    incident_id=incident_id,
                    assessment_id=assessment_id,
                    at=now,
                    origin=origin,
                    magnitude=rupture.magnitude,
                    lon=rupture.lon,
                    lat=rupture.lat,
                    depth_km=rupture.depth_km,
                    stations=stations,
                    buildings=len(inventory),
                    generated=inventory.generated,
                    complete=total["by_state"]["complete"],
                    collapses=total["collapses"],
                    killed=cas["killed"],
                    injured=cas["minor_injury"] + cas["hospitalised"] + cas["life_threatening"],
                    displaced=total["displaced"],
                    shelter_demand=total["shelter_demand"],
                    inspections=len(inspect),
                    cordons=[z.zone_id for z in drawn],
                    candidates=_candidates(inspect, s),
                ),
            )
        self.bus.notify()
        # the walks out of the cordons: reads only, after the cordons exist (each avoids the others)
        walks = cordon_zones.routes(self.store, self.data_dir, self.clock, drawn)
        if walks:
            with self.store.write() as conn:
                conn.execute(
                    update(t.assessments)
                    .where(a.id == assessment_id)
                    .values(report={**report, "routes": walks})
                )
        self.incidents.attach(incident_id, AttachmentIn(kind="note", note=_note(report)), ACTOR)
        return assessment_id

    # ------------------------------------------------------------------------------------ reading
    def report(self, incident_id: int) -> dict[str, Any] | None:
        """The incident's current assessment as the operator sees it (None: not assessed)."""
        current = self._current(incident_id)
        if current is None:
            return None
        return {**current["report"], "assessmentId": int(current["id"])}

    def latest(self) -> dict[str, Any] | None:
        """The most recent current assessment of any incident."""
        a = t.assessments.c
        with self.store.engine.connect() as conn:
            row = conn.execute(
                select(a.id, a.report).where(a.current.is_(True)).order_by(a.at.desc(), a.id.desc()).limit(1)
            ).first()
        return None if row is None else {**row.report, "assessmentId": int(row.id)}


def _candidates(inspect: Sequence[rep.Inspection], s: QuakeSettings) -> list[CollapseCandidate]:
    """The buildings to inspect first whose collapse is likely: where the dispatcher may need a rescue."""
    likely = [i for i in inspect if i.collapse_probability >= s.cordon_min_collapse][: s.cordons]
    return [
        CollapseCandidate(
            building=i.id,
            lon=round(i.lon, 6),
            lat=round(i.lat, 6),
            district=i.district,
            dong=i.dong,
            collapse_probability=round(i.collapse_probability, 4),
            occupants=round(i.occupants, 1),
        )
        for i in likely
    ]


def _prefer_mois(areas: list[AreaRef]) -> list[AreaRef]:
    """One code system only (MOIS when there is one): districts imported twice would count twice."""
    mois = [a for a in areas if a.code_system == "mois"]
    return mois or areas


def _housing(conn: Connection) -> tuple[dict[str, int], dict[str, tuple[str, str]]]:
    """Places of open temporary housing per dong code, and the dongs' names."""
    capacity: dict[str, int] = {}
    for shelter, _ in list_shelters(conn, ShelterQuery(kind=ShelterKind.temporary_housing, is_open=True)):
        # the dong that holds it (its stored dong is unset when it was registered before the boundaries)
        area = area_by_id(conn, shelter.area_id) if shelter.area_id is not None else None
        if area is None and not shelter.geom.is_empty:
            area = area_at(conn, shelter.geom.x, shelter.geom.y, "dong")
        # a shelter of unknown capacity (None) offers no counted place: the shortfall errs high, not low
        if area is not None and shelter.capacity is not None:
            capacity[area.code] = capacity.get(area.code, 0) + shelter.capacity
    names = {a.code: (a.name_ko, a.name_en or a.name_ko) for a in areas_of(conn, "dong")}
    if not names:
        names = {b.code: (b.name_ko, b.name_en) for b in seoul.dongs()}
    return capacity, names


def _cell_row(assessment_id: int, incident_id: int, cell: rep.Cell, generated: bool) -> dict[str, Any]:
    p = cell.p
    return {
        "assessment_id": assessment_id,
        "incident_id": incident_id,
        "current": True,
        "geom": cell.polygon,
        "buildings": cell.buildings,
        "p_none": round(p[0], 5),
        "p_slight": round(p[1], 5),
        "p_moderate": round(p[2], 5),
        "p_extensive": round(p[3], 5),
        "p_complete": round(p[4], 5),
        "collapses": round(cell.collapses, 3),
        "pga_max_g": round(cell.pga_max_g, 5),
        "kma_intensity": cell.kma_intensity,
        "generated": generated,
    }


def district_levels(result: Assessment) -> dict[str, int]:
    """Each district shaken at KMA intensity IV or more and the crisis level the earthquake pack maps
    its class to (its strongest shaking, as the rule engine takes a district's strongest station);
    the districts below IV are left out: nothing to warn them of."""
    out = {}
    for a in result.summary.areas:
        named = a.to_dict().get("crisis_level")
        if named and len(a.code) == 5:
            out[a.code] = int(Crisis[named])
    return dict(sorted(out.items())[:100])


def _note(report: dict[str, Any]) -> str:
    """The incident note: the same figures in Korean and in English."""
    total, eq, shelter = report["total"], report["earthquake"], report["shelterTotals"]
    cas = total["casualties"]
    injured = cas["minor_injury"] + cas["hospitalised"] + cas["life_threatening"]
    gen_ko = " (생성된 가상 건물 자료로 계산)" if report["generated"] else ""
    gen_en = " (computed on a generated, synthetic building inventory)" if report["generated"] else ""
    return (
        f"지진 피해 추정{gen_ko}: 규모 {eq['magnitude']:.1f}, 건물 {report['buildings']:,}동 중 완전 피해 "
        f"{total['by_state']['complete']:,.0f}동, 붕괴 {total['collapses']:,.0f}동, 사망 {cas['killed']:,.0f}명, "
        f"부상 {injured:,.0f}명, 대피소 수요 {shelter['demand']:,.0f}명(부족 {shelter['shortfall']:,.0f}명). "
        f"우선 점검 건물 {len(report['inspections'])}곳, 붕괴 우려 통제구역 {len(report['cordons'])}곳.\n"
        f"Expected earthquake damage{gen_en}: M{eq['magnitude']:.1f}, of {report['buildings']:,} buildings "
        f"{total['by_state']['complete']:,.0f} completely damaged, {total['collapses']:,.0f} collapsed, "
        f"{cas['killed']:,.0f} killed, {injured:,.0f} injured, shelter demand {shelter['demand']:,.0f} "
        f"(short by {shelter['shortfall']:,.0f}). {len(report['inspections'])} buildings to inspect first, "
        f"{len(report['cordons'])} cordons around likely collapses."
    )
