# SPDX-License-Identifier: Apache-2.0
"""Geography: administrative areas, imported layers, the road network, OGC API - Features."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from safecity.capability import Capability, Context
    from safecity.geo.collections import Collections


def _collections(ctx: Context) -> Collections:
    from safecity.geo.collections import GEO_LAYERS, Collections

    # geography's own layers first, then every registered capability's (shelters, sensors...)
    return Collections([*GEO_LAYERS, *(layer for cap in ctx.capabilities for layer in cap.layers)])


def setup() -> Capability:
    """The geography capability (safecity.capability): OGC API - Features over every capability's layers."""
    from safecity.capability import Capability
    from safecity.geo.cli import import_app

    return Capability(
        name="geo",
        summary="Areas, imported layers and the road network; OGC API - Features.",
        routers=("safecity.geo.ogcapi:router",),
        cli_groups={"import": import_app},
        tables=("safecity.geo.tables",),
        build=_collections,
    )
