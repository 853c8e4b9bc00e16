# SPDX-License-Identifier: Apache-2.0
"""Situation: the rule engine over observations, incidents, crisis levels and the integrated board."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

    from sqlalchemy.engine import Connection

    from safecity.capability import Capability, Context
    from safecity.core.events import Envelope
    from safecity.core.worker import Worker
    from safecity.situation.incidents import Incidents
    from safecity.situation.service import BoardSource, Situation


def _situation(ctx: Context) -> Situation:
    from safecity.sensing.service import Sensing
    from safecity.situation.incidents import Incidents
    from safecity.situation.partition import Partition
    from safecity.situation.service import Situation

    incidents = Incidents(ctx.store, ctx.bus, ctx.clock)
    ctx.services.add(incidents)
    situation = Situation(
        ctx.store,
        ctx.bus,
        ctx.clock,
        ctx.services.get(Sensing).catalogue,
        incidents,
        rules_dir=ctx.settings.rules_dir,
        tick_s=ctx.settings.situation.tick_s,
        board_parts=_board_parts(ctx),
        partition=Partition.of(ctx.settings.situation),
        snapshot_s=ctx.settings.situation.snapshot_s,
    )
    situation.on_batch_seconds = ctx.metrics.rule_batch_seconds.observe
    # Observation events keyed by their Thing's district, so the rule engine can be split by district
    # (issue 15): sensing knows the Location, geo the districts; situation, above both, joins them.
    ctx.services.get(Sensing).ingest.district_at = district_at
    return situation


def _board_parts(ctx: Context) -> list[BoardSource]:
    """Every registered capability's parts of the board (``Capability.board``), each bound to the
    platform's services; a key the board has, or one declared twice, stops start-up."""
    from safecity.capability import CapabilityError
    from safecity.situation.service import BOARD_KEYS

    taken: dict[str, str] = dict.fromkeys(BOARD_KEYS, "situation")
    parts: list[BoardSource] = []
    for cap in ctx.capabilities:
        for part in cap.board:
            for key in part.keys:
                if key in taken:
                    raise CapabilityError(
                        f"capability {cap.name!r} declares the board key {key!r}, which {taken[key]!r} "
                        "fills: choose another name"
                    )
                taken[key] = cap.name
            parts.append((tuple(part.keys), partial(part.build, ctx.services)))
    return parts


def district_at(conn: Connection, lon: float, lat: float) -> str | None:
    """The code of the district (자치구) at a point, None outside every district or with none loaded."""
    from safecity.geo import areas

    found = areas.area_at(conn, lon, lat, "district")
    return found.code if found else None


def _start(ctx: Context) -> None:
    from safecity.situation.service import Situation

    if ctx.settings.situation.enabled:
        # before the bus starts: the engine loads its rules, warms up and subscribes first
        ctx.services.get(Situation).start()


def _stop(ctx: Context) -> None:
    from safecity.situation.service import Situation

    ctx.services.get(Situation).stop()


#: the durable name of the subscriber opening the incidents other capabilities' events ask for
REPORTS = "situation.reported-incidents"


def _reports(ctx: Context) -> None:
    """Every event type whose class asks for an incident (``Event.incident_report``: care's wandering,
    for one) opens it, once per report's ``ref``, as a manual incident whose actor is the publishing
    capability. Subscribed when this process takes the role ``incidents``, after every capability is
    built (so every publisher's event classes are declared), without importing any of them."""
    from safecity.core.events import reported_types
    from safecity.situation.incidents import Incidents

    types = reported_types()
    if types:
        ctx.bus.subscribe(types, partial(_open_reported, ctx.services.get(Incidents)), REPORTS)


def _open_reported(incidents: Incidents, batch: Sequence[Envelope]) -> None:
    from safecity.situation.incident_inputs import ManualIncidentIn

    for envelope in batch:
        report = envelope.data.incident_report()
        if report is None:
            continue
        data = ManualIncidentIn(
            hazard=report.hazard,
            level=report.level,
            title_ko=report.title_ko,
            title_en=report.title_en,
            lon=report.lon,
            lat=report.lat,
            source_note=report.note,
        )
        # a report it cannot open (no place) fails here and ends in the dead letters, as any event
        incidents.open_manual(data, envelope.source, ref=report.ref)


def _clock(ctx: Context) -> Worker:
    from safecity.situation.service import Situation

    return ctx.services.get(Situation).clock_worker


def setup() -> Capability:
    """The situation capability (safecity.capability): rules, incidents, the board and their routes."""
    from safecity.capability import Capability
    from safecity.situation.cli import rules_app

    return Capability(
        name="situation",
        summary="Rules over observations, incidents, crisis levels and the situation board.",
        cli_groups={"rules": rules_app},
        # incidents first: its /situation/rules/stats must win over the rules router's /situation/rules/{id}
        routers=("safecity.situation.incident_router:router", "safecity.situation.router:router"),
        tables=("safecity.situation.tables",),
        build=_situation,
        # the rule engine runs in the process that holds the role ``rules`` (safecity worker --role rules)
        roles={"rules": _start, "incidents": _reports},
        stop=_stop,
        tasks=(_clock,),
    )
