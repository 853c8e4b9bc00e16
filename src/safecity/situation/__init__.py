# SPDX-License-Identifier: Apache-2.0
"""Situation: the rule engine over observations, incidents, crisis levels and the integrated board."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from safecity.capability import Capability, Context
    from safecity.core.worker import Worker
    from safecity.situation.service import Situation


def _situation(ctx: Context) -> Situation:
    from safecity.sensing.service import Sensing
    from safecity.situation.incidents import Incidents
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
        tick_s=ctx.settings.situation_tick_s,
    )
    situation.on_batch_seconds = ctx.metrics.rule_batch_seconds.observe
    return situation


def _start(ctx: Context) -> None:
    from safecity.situation.service import Situation

    if ctx.settings.situation_enabled:
        # before the bus starts: the engine loads its rules, warms up and subscribes first
        ctx.services.get(Situation).start()


def _stop(ctx: Context) -> None:
    from safecity.situation.service import Situation

    ctx.services.get(Situation).stop()


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
        start=_start,
        stop=_stop,
        tasks=(_clock,),
    )
