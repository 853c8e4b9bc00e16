# SPDX-License-Identifier: Apache-2.0
"""A city's own sensors: an administrator maps a foreign ObservedProperty (its definition URI, or its
name) to a catalogue key, so the rules read datastreams the catalogue did not know (``Water Level`` of
``http://vocab.nerc.ac.uk/...`` → ``water_level``). Stored in ``sensing_property_mappings``, applied to
the shared :class:`~safecity.sensing.catalogue.Catalogue` at once (ingest's checks, the rule engine's
bindings and sensor health all match through it), announced as an ObservedProperty change so the rule
engine re-plans. Every change is a write the audit log records (who, when, what)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import delete, insert, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from safecity.core.errors import BadRequest, Conflict, NotFound
from safecity.sensing.catalogue import Catalogue, normalise
from safecity.sensing.tables import property_mappings as pm


class MappingIn(BaseModel):
    """Map one foreign ObservedProperty, by ``definition`` or by ``name`` (exactly one), to ``key``."""

    model_config = ConfigDict(extra="forbid")
    definition: str | None = Field(default=None, min_length=1, max_length=500)
    name: str | None = Field(default=None, min_length=1, max_length=200)
    key: str = Field(min_length=1, max_length=100)

    @model_validator(mode="after")
    def _one(self) -> MappingIn:
        if (self.definition is None) == (self.name is None):
            raise ValueError("give the foreign ObservedProperty's definition or its name (one of them)")
        return self

    @property
    def kind(self) -> Literal["definition", "name"]:
        return "definition" if self.definition is not None else "name"

    @property
    def value(self) -> str:
        return self.definition if self.definition is not None else str(self.name)


@dataclass(frozen=True)
class Mapping:
    id: int
    kind: str
    value: str
    key: str
    created_by: str
    created_at: datetime

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            self.kind: self.value,
            "key": self.key,
            "createdBy": self.created_by,
            "createdAt": self.created_at.isoformat(),
        }


def list_mappings(conn: Connection) -> list[Mapping]:
    rows = conn.execute(select(pm).order_by(pm.c.id)).mappings()
    return [
        Mapping(r["id"], r["match_kind"], r["match_value"], r["key"], r["created_by"], r["created_at"])
        for r in rows
    ]


def add_mapping(
    conn: Connection, catalogue: Catalogue, body: MappingIn, actor: str, now: datetime
) -> Mapping:
    """Store a mapping. 400 naming ``key`` for a key the catalogue lacks or ``definition`` for one the
    catalogue already defines; 409 when the same definition or name is mapped already."""
    if catalogue.get(body.key) is None:
        known = ", ".join(s.key for s in catalogue)
        raise BadRequest(f"key: '{body.key}' is not in the catalogue; known keys: {known}", where="key")
    value = normalise(body.kind, body.value)
    taken = conn.execute(
        select(pm.c.key).where(pm.c.match_kind == body.kind, pm.c.match_value == value)
    ).first()
    if taken is not None:
        raise Conflict(
            f"{body.kind}: '{body.value}' is mapped to '{taken.key}' already; delete that mapping first",
            where=body.kind,
        )
    own = catalogue.match(body.definition, None, None) if body.kind == "definition" else None
    if own is None and body.kind == "name":
        own = catalogue.match(None, body.name, None)
    if own is not None:
        raise BadRequest(
            f"{body.kind}: '{body.value}' is already the catalogue's '{own.key}'; nothing to map",
            where=body.kind,
        )
    try:
        new_id = conn.execute(
            insert(pm)
            .values(match_kind=body.kind, match_value=value, key=body.key, created_by=actor, created_at=now)
            .returning(pm.c.id)
        ).scalar_one()
    except IntegrityError:
        raise Conflict(
            f"{body.kind}: '{body.value}' is mapped already; delete that mapping first", where=body.kind
        ) from None
    return Mapping(int(new_id), body.kind, value, body.key, actor, now)


def delete_mapping(conn: Connection, mapping_id: int) -> None:
    if conn.execute(delete(pm).where(pm.c.id == mapping_id)).rowcount == 0:
        raise NotFound(f"no property mapping {mapping_id}", where="mapping_id")


def apply(conn: Connection, catalogue: Catalogue) -> int:
    """Load every stored mapping into ``catalogue``; returns how many."""
    found = list_mappings(conn)
    catalogue.set_mappings((m.kind, m.value, m.key) for m in found)
    return len(found)
