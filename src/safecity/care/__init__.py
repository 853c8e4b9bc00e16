# SPDX-License-Identifier: Apache-2.0
"""Protecting vulnerable people (issue 17): children, elderly people living alone and people with
dementia, their guardians and carers, consent as the location-information law requires, trackers that
real apps speak (Traccar Client / OsmAnd, OwnTracks over HTTP and MQTT), and every collection, use and
provision of a position recorded. See docs/care.md."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from safecity.capability import Capability, Context
    from safecity.core.worker import Worker

__all__ = ["setup"]


def _build(ctx: Context) -> object:
    from safecity.audit.service import AuditLog
    from safecity.care.service import Care
    from safecity.care.settings import CareSettings

    care = Care(ctx.store, ctx.clock, ctx.bus, None, ctx.settings_of("care", CareSettings))
    # the audit capability is built after every other (it hears their events): found when first used
    care.audit_lookup = lambda: ctx.services.get(AuditLog) if AuditLog in ctx.services else None
    return care


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
    url = care.settings.mqtt_url or ctx.settings.mqtt_url
    listener = None
    if url:
        from safecity.care.mqtt import OwnTracksListener

        listener = OwnTracksListener(care, url, care.settings.mqtt_topic)
    care.owntracks = listener
    return ListenerWorker("care.owntracks", listener)


def setup() -> Capability:
    from safecity.capability import Capability
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
        workers=(_housekeeping, _fence_clock, _owntracks),
    )
