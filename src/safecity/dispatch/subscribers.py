# SPDX-License-Identifier: Apache-2.0
"""Incidents detected by the situation capability's rules (a fire, a collapse, a flood) create a call
for the dispatcher, through the situation events only (never its tables)."""

from __future__ import annotations

from collections.abc import Sequence

from safecity.bus.port import Handler
from safecity.capability import Context
from safecity.core.errors import SafecityError
from safecity.core.events import Envelope
from safecity.core.logging import get_logger
from safecity.dispatch.model import CallIn
from safecity.dispatch.service import Dispatch
from safecity.geo.seoul import districts

log = get_logger(__name__)

#: Which call a situation hazard becomes (the situation capability's hazard keys).
CALL_FOR_HAZARD = {
    "fire": "fire_building",
    "facility": "rescue_collapse",
    "river_flood": "rescue_water",
    "landslide": "rescue_collapse",
    "gas": "fire_other",
}


def _district_point(code: str) -> dict[str, float]:
    for d in districts():
        if d.code == code:
            p = d.polygon.representative_point()
            return {"lon": float(p.x), "lat": float(p.y)}
    return {}


def on_incident_opened(ctx: Context) -> Handler:
    dispatch = ctx.services.get(Dispatch)

    def handle(batch: Sequence[Envelope]) -> None:
        for envelope in batch:
            data = envelope.data.to_json()
            hazard = str(data.get("hazard") or "")
            kind = CALL_FOR_HAZARD.get(hazard)
            if kind is None or hazard not in dispatch.settings.rule_hazards:
                continue
            incident = int(data["incidentId"])
            areas = [str(a) for a in data.get("areas") or []]
            dong = next((a for a in areas if len(a) == 10 and a.isdigit()), None)
            district = next((a for a in areas if len(a) == 5 and a.isdigit()), None)
            if dong is None and district is None:
                log.info("rule incident without a dong or district: no call", incident=incident)
                continue
            body = CallIn.model_validate(
                {
                    "type": kind,
                    "situationIncident": incident,
                    "note": f"{data.get('titleKo') or ''} / {data.get('titleEn') or ''} (situation incident {incident})",
                    **({"dong": dong} if dong else _district_point(district or "")),
                }
            )
            try:
                dispatch.receive_call(body, "system", source="rule")
            except SafecityError as e:  # a repeat (the incident already has its call) or an unplaceable area
                log.info("no call for rule incident", incident=incident, reason=e.message)

    return handle
