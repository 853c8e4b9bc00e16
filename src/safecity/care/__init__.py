# SPDX-License-Identifier: Apache-2.0
"""Protecting vulnerable people (issue 17): children, elderly people living alone and people with
dementia, their guardians and carers, consent as the location-information law requires, trackers that
real apps speak (Traccar Client / OsmAnd, OwnTracks over HTTP and MQTT), and every collection, use and
provision of a position recorded. See docs/care.md."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

    from shapely.geometry import LineString

    from safecity.bus.port import Handler
    from safecity.capability import Capability, Context, LayerQuery
    from safecity.care.service import Care
    from safecity.core.events import Envelope
    from safecity.core.worker import Worker

__all__ = ["setup"]

#: The actor of the incidents care opens (escalations), as the situation board shows it.
INCIDENT_ACTOR = "care"


def _build(ctx: Context) -> object:
    from safecity.audit.service import AuditLog
    from safecity.care.service import Care
    from safecity.care.settings import CareSettings

    care = Care(ctx.store, ctx.clock, ctx.bus, None, ctx.settings_of("care", CareSettings))
    # the audit capability is built after every other (it hears their events): found when first used
    care.audit_lookup = lambda: ctx.services.get(AuditLog) if AuditLog in ctx.services else None
    _wire_trips(ctx, care)
    return care


def _wire_trips(ctx: Context, care: Care) -> None:
    """Trips plan their walking route with evacuation's routing on the imported road network, and
    escalate to operators through the situation capability's incidents (both built before care)."""
    from safecity.evacuation.routing import EvacuationRouting
    from safecity.situation.incident_inputs import ManualIncidentIn
    from safecity.situation.incidents import Incidents

    if EvacuationRouting in ctx.services:
        routing = ctx.services.get(EvacuationRouting)

        def plan(
            origin: tuple[float, float], dest: tuple[float, float]
        ) -> tuple[LineString, float, float] | None:
            from safecity.geo.roads.graph import Mode
            from safecity.geo.roads.routing import NoRoute, OutsideNetwork, RoadNetworkMissing

            try:
                route = routing.router().route(origin, dest, Mode.walk)
            except (RoadNetworkMissing, OutsideNetwork, NoRoute):
                return None  # watched without deviation: late, stopped, lost signal and SOS still work
            return route.line, route.distance_m, route.duration_s

        care.trips.planner = plan

        def streets(box: tuple[float, float, float, float]) -> list[LineString]:
            """The network's walkable segments with an end in ``box`` (WGS84), for map matching."""
            import numpy as np
            import shapely

            from safecity.geo.roads.graph import WALK
            from safecity.geo.roads.routing import RoadNetworkMissing

            try:
                g = routing.router().graph
            except RoadNetworkMissing:
                return []
            ends = [(g.node_lon[g.seg_u], g.node_lat[g.seg_u]), (g.node_lon[g.seg_v], g.node_lat[g.seg_v])]
            inside = [(x >= box[0]) & (x <= box[2]) & (y >= box[1]) & (y <= box[3]) for x, y in ends]
            sel = ((g.seg_flags & WALK) != 0) & (inside[0] | inside[1])
            coords = np.stack([np.column_stack(ends[0]), np.column_stack(ends[1])], axis=1)[sel]
            return list(shapely.linestrings(coords))

        care.trips.streets = streets
    if Incidents in ctx.services:
        incidents = ctx.services.get(Incidents)

        def open_incident(
            hazard: str,
            title_ko: str,
            title_en: str,
            lon: float | None,
            lat: float | None,
            districts: list[str],
            level: int,
            note: str,
        ) -> int:
            data = ManualIncidentIn(
                hazard=hazard,
                level=level,
                title_ko=title_ko,
                title_en=title_en,
                lon=lon,
                lat=lat,
                districts=[] if lon is not None else districts,
                source_note=note,
            )
            return incidents.open_manual(data, INCIDENT_ACTOR).id

        care.trips.open_incident = lambda ko, en, lon, lat, level, note: open_incident(
            "other", ko, en, lon, lat, [], level, note
        )
        care.checkins.open_incident = open_incident


def _school_zones() -> LayerQuery:
    from safecity.care.zones import school_zones_layer

    return school_zones_layer()


def _crash_hotspots() -> LayerQuery:
    from safecity.care.zones import crash_hotspots_layer

    return crash_hotspots_layer()


def _cctv() -> LayerQuery:
    from safecity.care.zones import points_layer

    return points_layer("cctv")


def _police() -> LayerQuery:
    from safecity.care.zones import points_layer

    return points_layer("police")


def _checkin_clock(ctx: Context) -> Worker:
    """Check-ins nobody answered in time go to the operators."""
    from safecity.care.service import Care
    from safecity.core.worker import Worker

    care = ctx.services.get(Care)
    return Worker("care.checkins", care.checkins.tick, interval_s=care.settings.housekeeping_interval_s)


def _on_incident_opened(ctx: Context) -> Handler:
    """폭염/한파: a heat-wave or cold-wave incident opens check-ins for elderly people living alone."""
    from safecity.care.service import Care

    care = ctx.services.get(Care)

    def handle(batch: Sequence[Envelope]) -> None:
        for envelope in batch:
            data = envelope.data.to_json()
            incident = data.get("incidentId")
            # an incident care opened itself (an escalated check-in) opens no check-ins of its own
            if incident is not None and data.get("actor") != INCIDENT_ACTOR:
                areas = [str(a) for a in data.get("areas") or []]
                care.checkins.on_incident(int(incident), str(data.get("hazard") or ""), areas)

    return handle


def _guardian_notices(ctx: Context) -> Handler:
    """Fence, wandering and trip alerts to the guardians through warning's delivery (care/notify.py)."""
    from safecity.care.notify import handler_for

    notices = handler_for(ctx.services, ctx.store, ctx.settings.public_url)

    def handle(batch: Sequence[Envelope]) -> None:
        if notices is not None:
            notices(batch)

    return handle


def _sta_trackers(ctx: Context) -> Handler:
    """SensorThings Things as trackers: each new HistoricalLocation of a Thing registered as a device
    (protocol ``sta``) is a fix of its person, stored like any tracker's (refused without consent)."""
    from safecity.care.model import Fix
    from safecity.care.service import Care
    from safecity.core.errors import Forbidden
    from safecity.sensing.service import historical_location

    care = ctx.services.get(Care)

    def handle(batch: Sequence[Envelope]) -> None:
        for envelope in batch:
            data = envelope.data.to_json()
            if data.get("entity") != "HistoricalLocation" or data.get("action") != "created":
                continue
            with ctx.store.engine.connect() as conn:
                found = historical_location(conn, int(data["id"]))
            if found is None:
                continue
            thing, at, lon, lat = found
            device = care.device_by_topic(f"sta:{thing}")
            if device is None:
                continue  # a Thing no person is tracked by
            try:
                care.ingest(device, [Fix(at=at, lon=lon, lat=lat)])
            except Forbidden:
                continue  # no location consent: nothing stored, as for any tracker

    return handle


def _trip_clock(ctx: Context) -> Worker:
    """Trips decide on the clock too: late arrival, lost signal, escalation to the operators."""
    from safecity.care.service import Care
    from safecity.core.worker import Worker

    care = ctx.services.get(Care)
    return Worker("care.trips", lambda: len(care.trips.tick()), interval_s=care.settings.trip_tick_s)


def _housekeeping(ctx: Context) -> Worker:
    from safecity.care.service import Care
    from safecity.core.worker import Worker

    care = ctx.services.get(Care)

    def step() -> int:
        done = care.housekeeping()
        return sum(done.values())

    return Worker(
        "care.housekeeping", step, interval_s=care.settings.housekeeping_interval_s, wait_first=True
    )


def _fence_clock(ctx: Context) -> Worker:
    """Fences decide on the clock too: a delay that passed, a dwell, a schedule window that opened."""
    from safecity.care.service import Care
    from safecity.core.worker import Worker

    care = ctx.services.get(Care)
    return Worker("care.fences", lambda: len(care.fences.tick()), interval_s=care.settings.fence_tick_s)


def _owntracks(ctx: Context) -> Worker:
    """OwnTracks over MQTT when a broker is configured: the listener runs on paho's network thread,
    started by this worker's first step and stopped with it."""
    from safecity.care.service import Care
    from safecity.care.worker import ListenerWorker

    care = ctx.services.get(Care)
    url = care.settings.mqtt_url or ctx.settings.mqtt.url
    listener = None
    if url:
        from safecity.care.mqtt import OwnTracksListener

        listener = OwnTracksListener(care, url, care.settings.mqtt_topic)
    care.owntracks = listener
    return ListenerWorker("care.owntracks", listener)


def _osmand_port(ctx: Context) -> Worker:
    """Traccar Client's own port (its default is 5055) when ``osmand_port`` is set: GET/POST / there is
    /tracking/osmand."""
    from safecity.care.service import Care
    from safecity.care.worker import ListenerWorker

    care = ctx.services.get(Care)
    listener = None
    if care.settings.osmand_port is not None:
        from safecity.care.osmand_port import OsmAndPort

        listener = OsmAndPort(care, ctx.settings.host, care.settings.osmand_port)
    return ListenerWorker("care.osmand-port", listener)


def setup() -> Capability:
    from safecity.capability import Capability, Importer, Layer, Subscription, Work
    from safecity.care.cli import cli
    from safecity.care.settings import CareSettings

    return Capability(
        name="care",
        summary="Protecting vulnerable people: trackers, consent, fences, safe return home.",
        settings=CareSettings,
        routers=("safecity.care.router:router", "safecity.care.router:tracking"),
        cli=cli,
        tables=("safecity.care.tables",),
        migrations=Path(__file__).with_name("migrations"),
        build=_build,
        # the clocks decide alerts (one process at a time); OwnTracks positions are ingest
        workers=(
            _housekeeping,
            _fence_clock,
            _trip_clock,
            _checkin_clock,
            Work("ingest", _owntracks),
            Work("ingest", _osmand_port),
        ),
        subscriptions=(
            Subscription("situation.IncidentOpened", "care.heat-cold-checkins", _on_incident_opened),
            Subscription("care.FenceAlert", "care.guardian-notices.fences", _guardian_notices),
            Subscription("care.WanderingSuspected", "care.guardian-notices.wandering", _guardian_notices),
            Subscription("care.TripAlert", "care.guardian-notices.trips", _guardian_notices),
            Subscription("care.CheckInEscalated", "care.guardian-notices.checkins", _guardian_notices),
            Subscription("sensing.EntityChanged", "care.sta-trackers", _sta_trackers),
        ),
        layers=(
            Layer(
                "school-zones",
                "School zones (어린이보호구역)",
                "Child protection zones around schools, as the city imported them (a generated file is "
                "labelled so in each feature's 'generated').",
                _school_zones,
            ),
            Layer(
                "crash-hotspots",
                "Crash hotspots (교통사고 다발 지점)",
                "Places where crashes concentrate, as the city imported them (generated ones labelled).",
                _crash_hotspots,
            ),
            Layer(
                "cctv",
                "CCTV",
                "Public CCTV installations as the city imported them (전국CCTV표준데이터, or OpenStreetMap's "
                "man_made=surveillance); none unless imported.",
                _cctv,
            ),
            Layer(
                "police",
                "Police stations (경찰서·지구대·파출소)",
                "Police stations from OpenStreetMap (amenity=police), as the city imported them.",
                _police,
            ),
        ),
        # safecity import layer FILE --as school-zones|crash-hotspots: geography reads, care writes
        importers=(
            Importer(
                "school-zones",
                "safecity.care.zones:import_school_zones",
                "School zones (polygons, or gates drawn as 300 m circles), replacing the earlier ones.",
            ),
            Importer(
                "crash-hotspots",
                "safecity.care.zones:import_crash_hotspots",
                "Crash hotspots (polygons, or points drawn as 100 m circles), replacing the earlier ones.",
            ),
        ),
    )
