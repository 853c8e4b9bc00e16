# SPDX-License-Identifier: Apache-2.0
"""Sensing: the OGC SensorThings API, ingest (HTTP, MQTT, bulk files), quality control."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from safecity.capability import Capability, Context, LayerQuery
    from safecity.sensing.service import Sensing


def _sensors() -> LayerQuery:
    from safecity.sensing.layers import sensors_layer

    return sensors_layer()


def _sensing(ctx: Context) -> Sensing:
    from safecity.auth.service import AuthService
    from safecity.sensing import mappings
    from safecity.sensing.catalogue import load_catalogue
    from safecity.sensing.events import OBSERVATIONS_ACCEPTED, decode_v1
    from safecity.sensing.ingest import Ingest
    from safecity.sensing.quality import QCConfig, QualityControl
    from safecity.sensing.service import Sensing, thing_exists

    settings = ctx.settings
    ctx.bus.register_decoder(OBSERVATIONS_ACCEPTED, decode_v1, version=1)
    catalogue = load_catalogue()
    with ctx.store.engine.connect() as conn:
        mappings.apply(conn, catalogue)  # the city's own ObservedProperties (sensing/mappings.py)
    qc = QualityControl(
        QCConfig(future_tolerance_s=settings.future_tolerance_s, late_after_s=settings.late_after_s)
    )
    ingest = Ingest(ctx.store, ctx.bus, qc, catalogue, ctx.clock)
    ingest.on_batch = ctx.metrics.count_batch
    # auth (below sensing) asks whether a Thing exists before it makes a device key for it
    ctx.services.get(AuthService).thing_exists = thing_exists
    return Sensing(ctx.store, ctx.bus, ctx.clock, catalogue, ingest)


def setup() -> Capability:
    """The sensing capability (safecity.capability): SensorThings and its own routes, the service, and its
    public map layer of sensors. Its MQTT extension is started by safecity.app with the server."""
    from safecity.capability import Capability, Layer
    from safecity.sensing.cli import import_app

    return Capability(
        name="sensing",
        summary="OGC SensorThings API, ingest and quality control.",
        routers=("safecity.sensing.sta.router:router", "safecity.sensing.router:router"),
        cli_groups={"import": import_app},
        tables=("safecity.sensing.tables",),
        build=_sensing,
        layers=(
            Layer(
                "sensors",
                "Sensors",
                "SensorThings Things at their Location; observations are at /sta/v1.1.",
                _sensors,
            ),
        ),
    )
