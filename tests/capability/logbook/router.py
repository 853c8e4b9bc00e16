# SPDX-License-Identifier: Apache-2.0
from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from safecity.auth.deps import allow, resolve_principal
from safecity.auth.model import Principal, Role
from safecity.capability import provider
from tests.capability.logbook.service import Logbook

router = APIRouter(prefix="/logbook", tags=["logbook"])


class NewEntry(BaseModel):
    text: str


@router.get("", dependencies=[allow(Role.operator)], summary="The shift's entries")
def list_entries(logbook: Annotated[Logbook, Depends(provider(Logbook))]) -> list[dict[str, Any]]:
    return [
        {"id": e.id, "shift": e.shift, "text": e.text, "author": e.author, "incidentId": e.incident_id}
        for e in logbook.entries()
    ]


@router.post("", status_code=201, dependencies=[allow(Role.operator)], summary="Write an entry")
def write_entry(
    body: NewEntry,
    logbook: Annotated[Logbook, Depends(provider(Logbook))],
    who: Annotated[Principal, Depends(resolve_principal)],
) -> dict[str, Any]:
    entry = logbook.write(body.text, who.name)
    assert entry is not None  # only incident entries can repeat
    return {"id": entry.id, "shift": entry.shift, "text": entry.text, "author": entry.author}
