# SPDX-License-Identifier: Apache-2.0
"""What dispatch hears on the bus. Incidents detected by the situation capability's rules (a fire, a
collapse, a flood) create a call for the dispatcher, through the situation events only (never its
tables); the sensor network's events move units to their trackers' fixes and keep the rain gauges'
readings for the road times."""

from __future__ import annotations

import threading
import weakref
from collections.abc import Sequence
from dataclasses import dataclass

from safecity.bus.port import Handler
from safecity.capability import Context
from safecity.core.errors import SafecityError
from safecity.core.events import Envelope
from safecity.core.logging import get_logger
from safecity.dispatch.model import CallIn
from safecity.dispatch.sensors import RainWatch, Streams
from safecity.dispatch.service import Dispatch
from safecity.dispatch.trackers import Trackers
from safecity.geo.seoul import districts
from safecity.sensing.events import EntityChanged, datastreams, observations
from safecity.sensing.service import Sensing

log = get_logger(__name__)

#: Which call a situation hazard becomes (the situation capability's hazard keys).
CALL_FOR_HAZARD = {
    "fire": "fire_building",
    "facility": "rescue_collapse",
    "river_flood": "rescue_water",
    "landslide": "rescue_collapse",
    "gas": "fire_other",
}


def _district_point(code: str) -> dict[str, float]:
    for d in districts():
        if d.code == code:
            p = d.polygon.representative_point()
            return {"lon": float(p.x), "lat": float(p.y)}
    return {}


def on_incident_opened(ctx: Context) -> Handler:
    dispatch = ctx.services.get(Dispatch)

    def handle(batch: Sequence[Envelope]) -> None:
        for envelope in batch:
            data = envelope.data.to_json()
            hazard = str(data.get("hazard") or "")
            kind = CALL_FOR_HAZARD.get(hazard)
            if kind is None or hazard not in dispatch.settings.rule_hazards:
                continue
            incident = int(data["incidentId"])
            areas = [str(a) for a in data.get("areas") or []]
            dong = next((a for a in areas if len(a) == 10 and a.isdigit()), None)
            district = next((a for a in areas if len(a) == 5 and a.isdigit()), None)
            if dong is None and district is None:
                log.info("rule incident without a dong or district: no call", incident=incident)
                continue
            body = CallIn.model_validate(
                {
                    "type": kind,
                    "situationIncident": incident,
                    "note": f"{data.get('titleKo') or ''} / {data.get('titleEn') or ''} (situation incident {incident})",
                    **({"dong": dong} if dong else _district_point(district or "")),
                }
            )
            try:
                dispatch.receive_call(body, "system", source="rule")
            except SafecityError as e:  # a repeat (the incident already has its call) or an unplaceable area
                log.info("no call for rule incident", incident=incident, reason=e.message)

    return handle


@dataclass(frozen=True)
class Sensors:
    """What dispatch keeps of the sensor network, one per platform (shared by its subscriptions)."""

    streams: Streams
    trackers: Trackers
    rain: RainWatch


_sensors: weakref.WeakKeyDictionary[Dispatch, Sensors] = weakref.WeakKeyDictionary()
_sensors_lock = threading.Lock()

#: the SensorThings entities whose change may change what a Datastream is (a unit's tracker, a gauge)
_DIRECTORY_ENTITIES = frozenset({"Thing", "Datastream", "Location"})


def sensors_of(dispatch: Dispatch, sensing: Sensing) -> Sensors:
    with _sensors_lock:
        found = _sensors.get(dispatch)
        if found is None:
            streams = Streams(sensing)
            found = _sensors[dispatch] = Sensors(
                streams, Trackers(dispatch, streams), RainWatch(streams, dispatch.clock, dispatch.settings)
            )
        return found


def _of(ctx: Context) -> Sensors:
    return sensors_of(ctx.services.get(Dispatch), ctx.services.get(Sensing))


def on_tracker_observations(ctx: Context) -> Handler:
    """``sensing.ObservationAccepted``: units' position fixes (``trackers.py``)."""
    trackers = _of(ctx).trackers

    def handle(batch: Sequence[Envelope]) -> None:
        # only the trackers' streams are read out of the batches (a few among thousands of readings)
        mine = trackers.tracked(datastreams(batch))
        if mine:
            trackers.on_observations(observations(batch, mine))

    return handle


def on_rain_observations(ctx: Context) -> Handler:
    """``sensing.ObservationAccepted``: the rain gauges' readings (``sensors.py``)."""
    rain = _of(ctx).rain

    def handle(batch: Sequence[Envelope]) -> None:
        gauges = rain.gauges(datastreams(batch))
        if gauges:
            rain.on_observations(observations(batch, gauges))

    return handle


def on_tracker_entities(ctx: Context) -> Handler:
    """``sensing.EntityChanged``: trackers given a new Location move their units; a changed Thing,
    Datastream or Location is read again from the directory."""
    sensors = _of(ctx)

    def handle(batch: Sequence[Envelope]) -> None:
        changes = [e.data for e in batch if isinstance(e.data, EntityChanged)]
        if any(c.entity in _DIRECTORY_ENTITIES for c in changes):
            sensors.streams.invalidate()
        moved = [c.entity_id for c in changes if c.entity == "HistoricalLocation" and c.action == "created"]
        if moved:
            sensors.trackers.on_moves(moved)

    return handle


def on_damage_assessed(ctx: Context) -> Handler:
    """``quake.DamageAssessed``: each building the earthquake model predicts collapsed with people inside
    (at least ``quake_min_collapse``) becomes a *suggested* collapse-rescue call in the dispatcher's queue,
    once per incident and building (read through the event only: dispatch and quake share a layer row and
    never import each other)."""
    dispatch = ctx.services.get(Dispatch)

    def handle(batch: Sequence[Envelope]) -> None:
        for envelope in batch:
            data = envelope.data.to_json()
            incident = int(data.get("incidentId") or 0)
            for c in data.get("candidates") or []:
                p = float(c.get("collapseProbability") or 0.0)
                if p < dispatch.settings.quake_min_collapse:
                    continue
                ref = f"quake:{incident}:{c['building']}"
                people = float(c.get("occupants") or 0.0)
                body = CallIn.model_validate(
                    {
                        "type": "rescue_collapse",
                        "lon": c["lon"],
                        "lat": c["lat"],
                        "note": f"지진 피해 추정: 붕괴 가능성 {p:.0%}, 재실 추정 {people:.0f}명 (예측, 확인 필요) / "
                        f"earthquake damage estimate: collapse probability {p:.0%}, about {people:.0f} people "
                        f"inside (a prediction, to be confirmed); building {c['building']}, incident {incident}",
                    }
                )
                try:
                    dispatch.receive_call(body, "quake", source="quake", status="suggested", ref=ref)
                except SafecityError as e:  # suggested already (a repeat, a new assessment), or unplaceable
                    log.info("no suggested call", ref=ref, reason=e.message)

    return handle
