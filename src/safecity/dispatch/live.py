# SPDX-License-Identifier: Apache-2.0
"""The live coverage map and move-up recommendation for the dispatcher's screen, on the imported road
network, the units' current status and the closures in force."""

from __future__ import annotations

import threading
import weakref
from typing import Any

import numpy as np
import shapely

from safecity.dispatch.city import dong_weights
from safecity.dispatch.coverage import THRESHOLDS_S, CoverageMap, DemandPoints, demand_points, reach_polygons
from safecity.dispatch.model import UnitStatus, UnitType
from safecity.dispatch.moveup import move_up
from safecity.dispatch.roadtime import Band, RoadTimes
from safecity.dispatch.service import Dispatch

_demand: weakref.WeakKeyDictionary[RoadTimes, DemandPoints] = weakref.WeakKeyDictionary()
_maps: weakref.WeakKeyDictionary[RoadTimes, dict[int, CoverageMap]] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def _demand_of(roads: RoadTimes) -> DemandPoints:
    with _lock:
        found = _demand.get(roads)
        if found is None:
            found = _demand[roads] = demand_points(roads, dong_weights())
        return found


def _map_of(roads: RoadTimes, band: Band) -> CoverageMap:
    """One coverage map per band (its per-unit reaches are the cache that makes updates fast)."""
    with _lock:
        maps = _maps.setdefault(roads, {})
        found = maps.get(id(band))
        if found is None or found.band is not band:
            if len(maps) > 8:
                maps.clear()
            found = maps[id(band)] = CoverageMap(roads, band)
        return found


def _context(svc: Dispatch) -> tuple[RoadTimes, Band]:
    roads = svc.live_roads()
    return roads, roads.band(svc.clock.now(), svc.rain_at().raining, svc.avoid())


def coverage(svc: Dispatch, unit_type: UnitType = UnitType.ambulance) -> dict[str, Any]:
    """Shares of residents within 5 and 7 minutes of an available unit of ``unit_type``, each dong's
    best time, and each available unit's 5- and 7-minute reach (GeoJSON polygons)."""
    roads, band = _context(svc)
    cmap = _map_of(roads, band)
    demand = _demand_of(roads)
    avail = [u for u in svc.units() if u.type is unit_type and u.status is UnitStatus.available]
    nodes, _ = roads.snap(np.array([u.lon for u in avail]), np.array([u.lat for u in avail]))
    summary = cmap.summary(nodes, demand)
    units = []
    for u, n in zip(avail, nodes, strict=True):
        if n < 0:
            continue
        five, seven = reach_polygons(roads, cmap.reach(int(n)))
        units.append(
            {
                "unit": u.callsign,
                "within5min": shapely.geometry.mapping(five) if five is not None else None,
                "within7min": shapely.geometry.mapping(seven) if seven is not None else None,
            }
        )
    secs = summary["seconds"]
    return {
        "unitType": unit_type.value,
        "available": len(avail),
        "shares": summary["shares"],
        "thresholdsS": list(THRESHOLDS_S),
        "dongs": [
            {"code": c, "district": d, "bestS": None if not np.isfinite(s) else round(float(s), 1)}
            for c, d, s in zip(demand.code, demand.district, secs, strict=True)
        ],
        "units": units,
        "note": "residents per dong: district totals (2021 Q2) spread by land area",
    }


def moveup(svc: Dispatch, unit_type: UnitType = UnitType.ambulance, max_moves: int = 2) -> dict[str, Any]:
    """The move-up that restores the most expected coverage (DMEXCLP, HiGHS) with at most
    ``max_moves`` moves of available units between stations."""
    roads, band = _context(svc)
    demand = _demand_of(roads)
    stations = svc.stations()
    snodes, _ = roads.snap(np.array([s.lon for s in stations]), np.array([s.lat for s in stations]))
    covers = np.zeros((len(demand.code), len(stations)), dtype=bool)
    cmap = _map_of(roads, band)
    for j, n in enumerate(snodes):
        if n < 0:
            continue
        r = cmap.reach(int(n))
        t = np.full(roads.graph.node_count, np.inf)
        t[r.nodes] = r.seconds
        covers[:, j] = t[np.maximum(demand.node, 0)] + demand.access_s <= THRESHOLDS_S[0]
    units = svc.units()
    kind = [u for u in units if u.type is unit_type]
    avail = [u for u in kind if u.status is UnitStatus.available]
    # a unit stands at its home station unless it was moved; nearest station to where it is
    at = [int(np.argmin([(s.lon - u.lon) ** 2 + (s.lat - u.lat) ** 2 for s in stations])) for u in avail]
    counts = (
        np.bincount(np.asarray(at, dtype=np.int64), minlength=len(stations))
        if avail
        else np.zeros(len(stations), dtype=np.int64)
    )
    busy = 1 - len(avail) / max(len(kind), 1)
    placement = move_up(covers, demand.weight, counts, busy=max(busy, 0.05), levels=3, max_moves=max_moves)
    moves: list[dict[str, Any]] = []
    for frm, to in placement.moves:
        unit = next(
            u
            for u, a in zip(avail, at, strict=True)
            if a == frm and u.callsign not in {m["unit"] for m in moves}
        )
        moves.append(
            {
                "unit": unit.callsign,
                "from": stations[frm].code,
                "to": stations[to].code,
                "toLon": stations[to].lon,
                "toLat": stations[to].lat,
            }
        )
    total = float(demand.weight.sum()) or 1.0
    return {
        "unitType": unit_type.value,
        "moves": moves,
        "expectedCoverageBefore": placement.before / total,
        "expectedCoverageAfter": placement.objective / total,
        "busyFraction": busy,
        "status": placement.status,
        "model": "DMEXCLP (Jagtenberg 2017) as a MILP, HiGHS via scipy.optimize.milp; 5-minute road time",
    }
