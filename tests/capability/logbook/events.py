# SPDX-License-Identifier: Apache-2.0
"""The logbook follows the situation capability through its events only (never its tables)."""

from __future__ import annotations

from collections.abc import Sequence

from safecity.bus.port import Handler
from safecity.capability import Context
from safecity.core.events import Envelope
from tests.capability.logbook.service import Logbook


def on_incident_opened(ctx: Context) -> Handler:
    logbook = ctx.services.get(Logbook)

    def handle(batch: Sequence[Envelope]) -> None:
        for envelope in batch:
            data = envelope.data.to_json()
            logbook.write(
                f"incident opened: {data.get('titleKo') or data.get('hazard')}",
                "system",
                incident_id=int(data["incidentId"]),
            )

    return handle
