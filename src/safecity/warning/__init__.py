# SPDX-License-Identifier: Apache-2.0
"""Warning: CAP 1.2 alerts, wording, targeting, delivery over channels, and citizens' subscriptions."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from safecity.capability import Capability, Context, Services
    from safecity.core.worker import Worker
    from safecity.warning.service import Warnings


def _warnings(ctx: Context) -> Warnings:
    from safecity.situation.incidents import Incidents
    from safecity.situation.service import Situation
    from safecity.warning.channels import build_channels
    from safecity.warning.channels.sse import EVENT, AlertStream, stream_data
    from safecity.warning.delivery import Delivery
    from safecity.warning.events import ALERT_DRAFTED, ALERT_IMPORTED, ALERT_ISSUED
    from safecity.warning.recipients import RecipientFinder
    from safecity.warning.service import Warnings
    from safecity.warning.targeted import TargetedAlerts

    settings = ctx.settings
    alert_stream = AlertStream(ctx.store, "alert-stream")  # the public stream of issued alerts
    ctx.services.add(alert_stream)
    channels = build_channels(settings, alert_stream)
    delivery = Delivery(ctx.store, ctx.clock, channels, settings)
    ctx.services.add(delivery)
    warnings = Warnings(
        ctx.store,
        ctx.bus,
        ctx.clock,
        ctx.services.get(Incidents),
        delivery,
        RecipientFinder(ctx.store),
        sender=settings.warning.sender,
        public_url=settings.public_url,
        auto_levels=settings.warning.auto_levels,
        auto_hazards=settings.warning.auto_hazards,
        cb_max_chars=settings.warning.cb.max_chars,
        cb_safety_max_chars=settings.warning.cb.safety_max_chars,
        short_sender=settings.warning.short_sender,
        auto_evacuate=settings.warning.auto_evacuate,
        auto_lower=settings.warning.auto_lower,
        xsd=settings.cap_xsd,
        broadcast_channels=[c for c in ("sse", "mastodon") if c in channels],
        languages=settings.warning.languages,
        wording_dir=settings.warning.wording_dir,
        guides_dir=settings.guides_dir,
    )
    # warnings aimed at many small places at once (a flood forecast's underpasses and semi-basements)
    ctx.services.add(TargetedAlerts(warnings))
    situation = ctx.services.get(Situation)

    # the situation room hears of every draft, issue and import on its own stream (an automatic issue
    # included), from the bus, in every process
    situation.broadcast.follow(
        (ALERT_DRAFTED, ALERT_ISSUED, ALERT_IMPORTED), lambda type_, data: ("alert", {**data, "topic": type_})
    )

    def public(type_: str, data: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
        message = warnings.public_message(str(data.get("identifier")))
        return None if message is None else (EVENT, stream_data(message))

    alert_stream.follow((ALERT_ISSUED,), public)
    return warnings


def _board(services: Services) -> dict[str, Any]:
    """Warning's part of the situation board: drafts waiting for an operator, other agencies' alerts."""
    from safecity.warning.service import Warnings

    warnings = services.get(Warnings)
    return {
        "alertDrafts": [a.to_json() for a in warnings.list(state="draft", limit=50)],
        "externalAlerts": [a.to_json() for a in warnings.list(origin="import", state="issued", limit=20)],
    }


def _start_incidents(ctx: Context) -> None:
    from safecity.warning.service import Warnings

    ctx.services.get(Warnings).start(ticker=True)  # renews alerts in force near their <expires>


def _start_delivery(ctx: Context) -> None:
    from safecity.warning.delivery import Delivery

    ctx.services.get(Delivery).start()


def _stop(ctx: Context) -> None:
    from safecity.warning.channels.sse import AlertStream
    from safecity.warning.delivery import Delivery
    from safecity.warning.service import Warnings

    ctx.services.get(Warnings).stop()
    ctx.services.get(Delivery).close()
    ctx.services.get(AlertStream).stop()


def _delivery(ctx: Context) -> Worker:
    from safecity.warning.delivery import Delivery

    return ctx.services.get(Delivery).worker


def _renew(ctx: Context) -> Worker:
    from safecity.warning.service import Warnings

    return ctx.services.get(Warnings).renew_worker


def setup() -> Capability:
    """The warning capability (safecity.capability): alerts, delivery, subscriptions and their routes."""
    from safecity.capability import BoardPart, Capability

    return Capability(
        name="warning",
        summary="CAP alerts, wording, targeting, delivery and subscriptions.",
        routers=("safecity.warning.router:router", "safecity.warning.subscription_router:router"),
        tables=(
            "safecity.warning.tables",
            "safecity.warning.delivery_tables",
            "safecity.warning.subscription_tables",
        ),
        build=_warnings,
        # drafting and issuing alerts from incident events, and sending them, each in one process at a time
        roles={"incidents": _start_incidents, "delivery": _start_delivery},
        stop=_stop,
        tasks=(_delivery, _renew),
        board=(BoardPart(("alertDrafts", "externalAlerts"), _board),),
    )
