# SPDX-License-Identifier: Apache-2.0
"""Roles and the authenticated principal."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Role(StrEnum):
    public = "public"  # anyone, no credentials: read-only public data
    device = "device"  # a sensor or gateway, by its Thing's API key: posts observations
    operator = "operator"  # situation-room staff: manage sensors, incidents, alerts
    dispatcher = "dispatcher"  # 119 dispatchers: calls, units, dispatches (safecity.dispatch)
    guardian = "guardian"  # a protected person's guardian or carer (safecity.care): their own only
    admin = "admin"  # everything, including users and keys


@dataclass(frozen=True)
class Principal:
    name: str
    roles: frozenset[Role] = field(default_factory=frozenset)
    kind: str = "anonymous"  # "anonymous" | "user" | "device"
    thing_id: int | None = None  # devices: the Thing whose key authenticated
    key_id: int | None = None  # devices: which key, so a revoked one is refused on a live connection

    @property
    def authenticated(self) -> bool:
        return self.kind != "anonymous"

    def has_any(self, roles: frozenset[Role]) -> bool:
        if Role.public in roles:
            return True
        return bool(self.roles & roles) or Role.admin in self.roles


ANONYMOUS = Principal("anonymous", frozenset({Role.public}))
