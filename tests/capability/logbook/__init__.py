# SPDX-License-Identifier: Apache-2.0
"""A tiny capability that lives entirely in this folder: the situation room's logbook.

It proves the capability contract (docs/architecture.md): enabled with the setting
``SAFECITY_CAPABILITIES='["tests.capability.logbook"]'`` it is served (``/logbook``), migrated (its own
Alembic branch), configured (``SAFECITY_LOGBOOK__SHIFT_NAME``), subscribed (an entry for every incident
opened), shown on the situation board (its shift and entry count) and commanded (``safecity logbook
list``) with no edit anywhere else.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from safecity.capability import BoardPart, Capability, Services, Subscription
from tests.capability.logbook.cli import cli
from tests.capability.logbook.events import on_incident_opened
from tests.capability.logbook.router import router
from tests.capability.logbook.service import Logbook, shift_worker
from tests.capability.logbook.settings import LogbookSettings

__all__ = ["Logbook", "LogbookSettings", "setup"]


def _board(services: Services) -> dict[str, Any]:
    logbook = services.get(Logbook)
    return {"logbook": {"shift": logbook.settings.shift_name, "entries": logbook.count()}}


def setup() -> Capability:
    return Capability(
        name="logbook",
        summary="The situation room's shift logbook.",
        settings=LogbookSettings,
        routers=(router,),
        cli=cli,
        tables=("tests.capability.logbook.tables",),
        migrations=Path(__file__).with_name("migrations"),
        build=lambda ctx: Logbook(ctx.store, ctx.clock, ctx.settings_of("logbook", LogbookSettings)),
        subscriptions=(Subscription("situation.IncidentOpened", "logbook.incidents", on_incident_opened),),
        workers=(lambda ctx: shift_worker(ctx.services.get(Logbook)),),
        board=(BoardPart(("logbook",), _board),),
    )
