# SPDX-License-Identifier: Apache-2.0
"""Sensing: the OGC SensorThings API, ingest (HTTP, MQTT, bulk files), quality control."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from safecity.capability import Capability, LayerQuery


def _sensors() -> LayerQuery:
    from safecity.sensing.layers import sensors_layer

    return sensors_layer()


def setup() -> Capability:
    """The sensing capability (safecity.capability): its public map layer of sensors. Its service, routes
    and MQTT are still wired in safecity.app (moving them here is open work, docs/architecture.md)."""
    from safecity.capability import Capability, Layer

    return Capability(
        name="sensing",
        summary="OGC SensorThings API, ingest and quality control.",
        tables=("safecity.sensing.tables",),
        layers=(
            Layer(
                "sensors",
                "Sensors",
                "SensorThings Things at their Location; observations are at /sta/v1.1.",
                _sensors,
            ),
        ),
    )
