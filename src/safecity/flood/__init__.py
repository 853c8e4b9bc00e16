# SPDX-License-Identifier: Apache-2.0
"""Urban flood simulation: a 2D local-inertial surface model, the sewer as a sink or a SWMM network.

The public API is re-exported here, loaded on first use: importing the package (as ``safecity``'s CLI
does to register ``safecity flood``) must not pay numba's start-up for every other command. The
verification cases live in :mod:`safecity.flood.verification` and run with ``safecity flood verify``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from safecity.bus.port import Handler
    from safecity.capability import Capability, Context
    from safecity.core.worker import Worker
    from safecity.flood.forcing import Forcing, ForcingError, Hydrograph, Inflow, RainSeries, line_cells
    from safecity.flood.grid import Domain, DomainError, Edges, Grid
    from safecity.flood.model import FloodModel, MassLedger, SolverOptions, StepInfo
    from safecity.flood.service import FloodForecasts

_WHERE = {
    "Forcing": "forcing",
    "ForcingError": "forcing",
    "Hydrograph": "forcing",
    "Inflow": "forcing",
    "RainSeries": "forcing",
    "line_cells": "forcing",
    "Domain": "grid",
    "DomainError": "grid",
    "Edges": "grid",
    "Grid": "grid",
    "FloodModel": "model",
    "MassLedger": "model",
    "SolverOptions": "model",
    "StepInfo": "model",
}

__all__ = [
    "Domain",
    "DomainError",
    "Edges",
    "FloodModel",
    "Forcing",
    "ForcingError",
    "Grid",
    "Hydrograph",
    "Inflow",
    "MassLedger",
    "RainSeries",
    "SolverOptions",
    "StepInfo",
    "line_cells",
]


def setup() -> Capability:
    """The flood capability (safecity.capability): its ``safecity flood ...`` commands, the forecast
    service (rain from ``sensing.ObservationAccepted``, a run every few minutes by its worker), its
    tables and migrations, the ``/flood/forecast`` routes and the ``flood-forecast`` map layer."""
    from pathlib import Path

    from safecity.capability import Capability, Importer, Subscription
    from safecity.flood.cli import flood_app
    from safecity.flood.layers import collections
    from safecity.flood.settings import FloodSettings

    return Capability(
        name="flood",
        summary="2D flood model, sewer network and flood forecasts.",
        settings=FloodSettings,
        routers=("safecity.flood.router:router",),
        cli=flood_app,
        tables=("safecity.flood.tables",),
        migrations=Path(__file__).with_name("migrations"),
        build=_build,
        subscriptions=(Subscription("sensing.ObservationAccepted", "flood.rain", _on_observations),),
        workers=(_worker,),
        layers=collections(),
        start=_start,
        # safecity import layer FILE --as underpasses|semi-basements: geography reads, flood writes
        importers=(
            Importer(
                "underpasses",
                "safecity.flood.sites:import_underpasses",
                "Road underpasses (points or outlines) the forecasts report on, replacing the earlier ones.",
            ),
            Importer(
                "semi-basements",
                "safecity.flood.sites:import_semi_basements",
                "Buildings with semi-basement homes (points or footprints, a 'homes' field), replacing the"
                " earlier ones.",
            ),
        ),
    )


def _start(ctx: Context) -> None:
    """Forecast on the city's own catchment from start-up when districts are configured."""
    from safecity.flood.deploy import imported_catchment
    from safecity.flood.service import FloodForecasts

    svc = ctx.services.get(FloodForecasts)
    districts = svc.settings.catchment_districts
    if districts and svc.catchment is None:
        svc.use(imported_catchment(ctx.store, ctx.settings.data_dir, districts, svc.settings.cell_m))


def _build(ctx: Context) -> FloodForecasts:
    from safecity.flood.chain import ForecastStreams
    from safecity.flood.service import FloodForecasts
    from safecity.flood.settings import FloodSettings
    from safecity.sensing.directory import stream_directory
    from safecity.sensing.service import Sensing

    sensing = ctx.services.get(Sensing)
    settings = ctx.settings_of("flood", FloodSettings)

    def directory() -> list[Any]:
        with ctx.store.engine.connect() as conn:
            return list(stream_directory(conn, sensing.catalogue))

    from safecity.warning.targeted import TargetedAlerts

    streams = ForecastStreams(sensing, settings.forecast_interval_min * 60)
    # the forecast's warning aimed at the underpasses and semi-basement homes at risk (warning's public API)
    alerts = ctx.services.get(TargetedAlerts) if TargetedAlerts in ctx.services else None
    return FloodForecasts(
        ctx.store, ctx.bus, ctx.clock, settings, directory, streams, ctx.settings.data_dir, alerts
    )


def _on_observations(ctx: Context) -> Handler:
    from safecity.flood.service import FloodForecasts

    return ctx.services.get(FloodForecasts).on_events


def _worker(ctx: Context) -> Worker:
    from safecity.core.worker import Worker
    from safecity.flood.service import FloodForecasts

    svc = ctx.services.get(FloodForecasts)
    return Worker("flood-forecast", svc.run_due, interval_s=svc.settings.poll_s, wait_first=True)


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(f"safecity.flood.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'safecity.flood' has no attribute {name!r}")
