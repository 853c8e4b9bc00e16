# SPDX-License-Identifier: Apache-2.0
"""Web pages: the operations dashboard, the citizen page, the status page and the API documentation."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from safecity.capability import Capability


def setup() -> Capability:
    """The web capability (safecity.capability): its pages (they read the other capabilities' APIs)."""
    from safecity.capability import Capability
    from safecity.web.assets import cli as assets_cli

    return Capability(
        name="web",
        summary="The operations dashboard and the citizen page.",
        routers=("safecity.web.router:router",),
        cli_groups={"assets": assets_cli},
    )
