# SPDX-License-Identifier: Apache-2.0
"""What the situation service answers about its rules: the loaded rules with their state
(:class:`RulesSummary`, ``GET /situation/rules`` and what saving, deleting and reloading answer) and one
rule with its stored versions (:class:`RuleDetail`). Routers serialise them with ``to_json()``, whose keys
and their order are the HTTP API's."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from safecity.situation.rules import RuleError


@dataclass(frozen=True, slots=True)
class RuleState:
    """One loaded rule and how it runs: the subjects it binds, what it skipped, why it failed."""

    id: str
    version: int
    hazard: str
    name_ko: str
    name_en: str
    scope: str
    enabled: bool
    source: str  # "file:<path>" or "api"
    subjects: int
    skipped: tuple[str, ...]  # the first 50 subjects left out, with why
    error: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "version": self.version,
            "hazard": self.hazard,
            "nameKo": self.name_ko,
            "nameEn": self.name_en,
            "scope": self.scope,
            "enabled": self.enabled,
            "source": self.source,
            "subjects": self.subjects,
            "skipped": list(self.skipped),
            "error": self.error,
        }


@dataclass(frozen=True, slots=True)
class RulesSummary:
    """The rules the engine runs, when they were loaded, and the rules (or files) that could not be."""

    loaded_at: datetime | None
    rules: tuple[RuleState, ...]
    errors: tuple[RuleError, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "loadedAt": self.loaded_at.isoformat() if self.loaded_at else None,
            "rules": [r.to_json() for r in self.rules],
            "errors": [e.to_json() for e in self.errors],
        }


@dataclass(frozen=True, slots=True)
class RuleVersion:
    """One version of a rule saved through the API."""

    version: int
    active: bool
    created_by: str
    created_at: datetime
    body: dict[str, Any]  # the rule as written (TOML's table as JSON)

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "active": self.active,
            "createdBy": self.created_by,
            "createdAt": self.created_at.isoformat(),
            "body": self.body,
        }


@dataclass(frozen=True, slots=True)
class RuleDetail:
    """One rule: the version running (None when it is not loaded), its state, and its saved versions."""

    id: str
    active: dict[str, Any] | None  # the running version's body
    source: str | None
    subjects: int
    skipped: tuple[str, ...]
    error: str | None
    versions: tuple[RuleVersion, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "active": self.active,
            "source": self.source,
            "subjects": self.subjects,
            "skipped": list(self.skipped),
            "error": self.error,
            "versions": [v.to_json() for v in self.versions],
        }
