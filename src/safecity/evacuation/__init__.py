# SPDX-License-Identifier: Apache-2.0
"""Evacuation: shelters, hazard zones, road closures, routes and area evacuation plans."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from safecity.capability import Capability, Context, LayerQuery
    from safecity.evacuation.routing import EvacuationRouting


def _shelters() -> LayerQuery:
    from safecity.evacuation.layers import shelters_layer

    return shelters_layer()


def _hazard_zones() -> LayerQuery:
    from safecity.evacuation.layers import hazard_zones_layer

    return hazard_zones_layer()


def _routing(ctx: Context) -> EvacuationRouting:
    from safecity.evacuation.routing import EvacuationRouting

    return EvacuationRouting(ctx.store, ctx.settings.data_dir, ctx.clock)


def setup() -> Capability:
    """The evacuation capability (safecity.capability): shelters, zones, closures, routes, area plans, and
    its two public map layers. Routers are named, not imported, so ``safecity --help`` stays light."""
    from safecity.capability import Capability, Importer, Layer

    return Capability(
        name="evacuation",
        summary="Shelters, hazard zones, road closures, routes and area evacuation plans.",
        routers=("safecity.evacuation.router:router", "safecity.evacuation.route_api:router"),
        tables=("safecity.evacuation.tables",),
        build=_routing,
        layers=(
            Layer(
                "hazard-zones",
                "Active hazard zones",
                "Flood, landslide, collapse and fire zones in force, with their evacuation guidance.",
                _hazard_zones,
            ),
            Layer(
                "shelters",
                "Shelters (대피소)",
                "Shelters by type with capacity, occupancy, open state and accessibility.",
                _shelters,
            ),
        ),
        # safecity import layer FILE --as shelters|hazard-zones: geography reads the file, these write
        importers=(
            Importer(
                "shelters",
                "safecity.evacuation.importers:import_shelters",
                "Shelters, upserted on their code; the type from a type column or --shelter-kind.",
                check="safecity.evacuation.importers:check_shelter_options",
            ),
            Importer(
                "hazard-zones",
                "safecity.evacuation.importers:import_hazard_zones",
                "Active hazard zones (polygons) replacing those of an earlier import of the file; the "
                "hazard from a hazard/type/kind column or --hazard.",
                options=("hazard",),
            ),
        ),
    )
