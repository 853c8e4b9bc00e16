# SPDX-License-Identifier: Apache-2.0
"""119 dispatch within the golden time: stations, units and their status lifecycle, call intake,
recommendations by live road time, coverage and move-up, golden-time KPIs and a simulation of a
Seoul-like day. See ``docs/dispatch.md``.

Public API (what other capabilities may import): :class:`Dispatch` (the service), the models in
:mod:`safecity.dispatch.model`. Importing this package is light: names are imported on first use.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

    from safecity.bus.port import Handler
    from safecity.capability import Capability, Context
    from safecity.dispatch.model import Call, CallIn, Station, Unit, UnitStatus, UnitType
    from safecity.dispatch.service import Dispatch
    from safecity.dispatch.settings import DispatchSettings

_EXPORTS = {
    "Call": "safecity.dispatch.model",
    "CallIn": "safecity.dispatch.model",
    "Station": "safecity.dispatch.model",
    "Unit": "safecity.dispatch.model",
    "UnitStatus": "safecity.dispatch.model",
    "UnitType": "safecity.dispatch.model",
    "Dispatch": "safecity.dispatch.service",
    "DispatchSettings": "safecity.dispatch.settings",
}

__all__ = [
    "Call",
    "CallIn",
    "Dispatch",
    "DispatchSettings",
    "Station",
    "Unit",
    "UnitStatus",
    "UnitType",
    "setup",
]


def _subscriber(name: str) -> Callable[[Context], Handler]:
    """A subscriber of safecity.dispatch.subscribers, imported when the platform is built, not when the
    capability is declared (``safecity --help`` declares every capability; the subscribers load shapely)."""

    def build(ctx: Context) -> Handler:
        from safecity.dispatch import subscribers

        handler: Callable[[Context], Handler] = getattr(subscribers, name)
        return handler(ctx)

    return build


def setup() -> Capability:
    """The dispatch capability (safecity.capability)."""
    from safecity.capability import Capability, Subscription
    from safecity.dispatch.cli import dispatch_app
    from safecity.dispatch.settings import DispatchSettings

    def build(ctx: Context) -> Dispatch:
        from safecity.dispatch.service import Dispatch
        from safecity.dispatch.subscribers import sensors_of
        from safecity.sensing.service import Sensing

        dispatch = Dispatch(
            ctx.store,
            ctx.bus,
            ctx.clock,
            ctx.settings_of("dispatch", DispatchSettings),
            ctx.settings.data_dir,
        )
        # the rain gauges' readings make the rain factor of the road times (sensing is built before)
        dispatch.rain = sensors_of(dispatch, ctx.services.get(Sensing)).rain.at
        return dispatch

    return Capability(
        name="dispatch",
        summary="119 dispatch within the golden time.",
        settings=DispatchSettings,
        routers=("safecity.dispatch.router:router",),
        cli=dispatch_app,
        tables=("safecity.dispatch.tables",),
        migrations=Path(__file__).with_name("migrations"),
        build=build,
        subscriptions=(
            Subscription(
                "situation.IncidentOpened", "dispatch.rule-incidents", _subscriber("on_incident_opened")
            ),
            Subscription(
                "sensing.ObservationAccepted",
                "dispatch.tracker-fixes",
                _subscriber("on_tracker_observations"),
            ),
            Subscription(
                "sensing.EntityChanged", "dispatch.tracker-moves", _subscriber("on_tracker_entities")
            ),
            Subscription(
                "sensing.ObservationAccepted", "dispatch.rain-gauges", _subscriber("on_rain_observations")
            ),
            Subscription(
                "quake.DamageAssessed", "dispatch.quake-collapses", _subscriber("on_damage_assessed")
            ),
        ),
    )


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
