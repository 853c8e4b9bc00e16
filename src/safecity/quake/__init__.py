# SPDX-License-Identifier: Apache-2.0
"""Earthquake damage: ground motion at every building (BSSA14 and the NGA-West2 set via pygmm, site
amplification from Vs30, conditioned on station readings), a typed building inventory (the national
building register's title sheets, or a generated Seoul), Hazus damage states, casualties, displacement and
shelter demand per building and area, the buildings to inspect first; and the verification cases that
check each step against an independent reference (``safecity quake verify``). See
``docs/earthquake-model.md``.

Importing this package is light: each public name is imported on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from safecity.bus.port import Handler
    from safecity.capability import Capability, Context
    from safecity.core.worker import Worker
    from safecity.quake.capmsg import CapQuakeError, QuakeMessage, quake_from_alert, quake_from_cap
    from safecity.quake.chain import QuakeChain
    from safecity.quake.damage import Damage, assess
    from safecity.quake.generate import DistrictArea, generate_seoul
    from safecity.quake.gmm import BSSA14, Mechanism, Motion
    from safecity.quake.intensity import kma_class_name, kma_classes
    from safecity.quake.inventory import Inventory, TimeOfDay, with_areas
    from safecity.quake.register import RegisterImportError, read_register
    from safecity.quake.service import Assessment, assess_cap, assess_readings, assess_scenario
    from safecity.quake.shakemap import Rupture, Shaking, Stations, fit_source, grid_cells, shake
    from safecity.quake.summary import DamageSummary, summarise

#: Public name → the module that defines it. Imported on first use (PEP 562) so that ``safecity --help``
#: and the other commands do not pay for numpy, shapely and the CAP reader.
_EXPORTS = {
    "Assessment": "safecity.quake.service",
    "BSSA14": "safecity.quake.gmm",
    "CapQuakeError": "safecity.quake.capmsg",
    "Damage": "safecity.quake.damage",
    "DamageSummary": "safecity.quake.summary",
    "DistrictArea": "safecity.quake.generate",
    "Inventory": "safecity.quake.inventory",
    "Mechanism": "safecity.quake.gmm",
    "Motion": "safecity.quake.gmm",
    "QuakeMessage": "safecity.quake.capmsg",
    "RegisterImportError": "safecity.quake.register",
    "Rupture": "safecity.quake.shakemap",
    "Shaking": "safecity.quake.shakemap",
    "Stations": "safecity.quake.shakemap",
    "TimeOfDay": "safecity.quake.inventory",
    "assess": "safecity.quake.damage",
    "assess_cap": "safecity.quake.service",
    "assess_readings": "safecity.quake.service",
    "assess_scenario": "safecity.quake.service",
    "fit_source": "safecity.quake.shakemap",
    "grid_cells": "safecity.quake.shakemap",
    "generate_seoul": "safecity.quake.generate",
    "kma_class_name": "safecity.quake.intensity",
    "kma_classes": "safecity.quake.intensity",
    "quake_from_alert": "safecity.quake.capmsg",
    "quake_from_cap": "safecity.quake.capmsg",
    "read_register": "safecity.quake.register",
    "shake": "safecity.quake.shakemap",
    "summarise": "safecity.quake.summary",
    "with_areas": "safecity.quake.inventory",
}

__all__ = [
    "BSSA14",
    "Assessment",
    "CapQuakeError",
    "Damage",
    "DamageSummary",
    "DistrictArea",
    "Inventory",
    "Mechanism",
    "Motion",
    "QuakeMessage",
    "RegisterImportError",
    "Rupture",
    "Shaking",
    "Stations",
    "TimeOfDay",
    "assess",
    "assess_cap",
    "assess_readings",
    "assess_scenario",
    "fit_source",
    "generate_seoul",
    "grid_cells",
    "kma_class_name",
    "kma_classes",
    "quake_from_alert",
    "quake_from_cap",
    "read_register",
    "shake",
    "summarise",
    "with_areas",
]


def _chain(ctx: Context) -> QuakeChain:
    from safecity.quake.chain import QuakeChain
    from safecity.quake.settings import QuakeSettings
    from safecity.sensing.service import Sensing
    from safecity.situation.incidents import Incidents

    return QuakeChain(
        ctx.store,
        ctx.bus,
        ctx.clock,
        ctx.services.get(Incidents),
        ctx.services.get(Sensing).catalogue,
        ctx.settings_of("quake", QuakeSettings),
        ctx.settings.data_dir,
    )


def _warm_up(ctx: Context) -> Worker:
    from safecity.core.worker import Worker
    from safecity.quake.chain import QuakeChain
    from safecity.quake.settings import QuakeSettings

    chain = ctx.services.get(QuakeChain)
    wanted = ctx.settings_of("quake", QuakeSettings).warm_up
    # builds the inventory once, so that the first earthquake does not wait for it
    return Worker("quake.inventory", chain.warm_up if wanted else (lambda: 0), interval_s=3600.0)


# The subscribers are built from the jobs module when the platform is built, not when the capability
# is declared (safecity --help declares every capability; the jobs import shapely and the CAP reader).
def _on_incident(ctx: Context) -> Handler:
    from safecity.quake.jobs import on_incident

    return on_incident(ctx)


def _on_alert_imported(ctx: Context) -> Handler:
    from safecity.quake.jobs import on_alert_imported

    return on_alert_imported(ctx)


def _assessments(ctx: Context) -> Worker:
    from safecity.quake.chain import QuakeChain

    return ctx.services.get(QuakeChain).queue.worker


def setup() -> Capability:
    """The earthquake capability (safecity.capability): an earthquake incident gets its expected damage
    (subscribed to situation's incident events and to imported CAP alerts), its routes (``/quake``), the
    ``quake-damage`` map layer, its tables and settings (``SAFECITY_QUAKE__*``), its commands."""
    from pathlib import Path

    from safecity.capability import Capability, Subscription
    from safecity.quake.cli import quake_app
    from safecity.quake.layers import DAMAGE
    from safecity.quake.settings import QuakeSettings

    return Capability(
        name="quake",
        summary="Earthquake damage model: an earthquake incident's expected damage.",
        settings=QuakeSettings,
        routers=("safecity.quake.router:router",),
        cli=quake_app,
        tables=("safecity.quake.tables",),
        migrations=Path(__file__).with_name("migrations"),
        build=_chain,
        subscriptions=(
            Subscription("situation.IncidentOpened", "quake.incident-opened", _on_incident),
            Subscription("situation.IncidentUpdated", "quake.incident-updated", _on_incident),
            Subscription("warning.AlertImported", "quake.alert-imported", _on_alert_imported),
        ),
        # assessments run on their own worker, off the bus dispatcher's thread (jobs.py)
        workers=(_warm_up, _assessments),
        layers=(DAMAGE,),
    )


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
