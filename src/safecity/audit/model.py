# SPDX-License-Identifier: Apache-2.0
"""Audit entries and the hash that chains them.

An entry's ``hash`` is SHA-256 over its ``prev_hash``, a newline and the canonical JSON of the entry
(sorted keys, no whitespace, time as UTC ISO 8601 with microseconds, ``details`` as the exact stored
text). Changing, deleting or reordering any entry changes a hash that a later entry, or the
recomputation, depends on; :func:`entry_hash` is the single definition both the writer and
``safecity audit verify`` use.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

#: ``prev_hash`` of the first entry.
GENESIS = "0" * 64


class ActorKind:
    user = "user"
    device = "device"
    anonymous = "anonymous"
    system = "system"
    #: credentials were presented but not accepted (the name is the one claimed)
    rejected = "rejected"


@dataclass(frozen=True)
class AuditEvent:
    """What happened, before the log gives it a place (``seq``) in the chain."""

    action: str  # http.POST, auth.login, auth.login_failed, alert.issued, alert.cancelled, personal.read ...
    target: str  # a path or an entity id
    actor: str
    actor_kind: str
    outcome: str  # an HTTP status, or ok / failed
    client: str | None = None
    request_id: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    at: datetime | None = None  # default: now, when written


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    at: datetime
    actor: str
    actor_kind: str
    action: str
    target: str
    outcome: str
    client: str | None
    request_id: str | None
    details: str  # canonical JSON text, exactly as hashed
    prev_hash: str
    hash: str

    def public(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "at": self.at.isoformat(),
            "actor": self.actor,
            "actorKind": self.actor_kind,
            "action": self.action,
            "target": self.target,
            "outcome": self.outcome,
            "client": self.client,
            "requestId": self.request_id,
            "details": orjson.loads(self.details),
            "prevHash": self.prev_hash,
            "hash": self.hash,
        }


def canonical_details(details: dict[str, Any]) -> str:
    return orjson.dumps(details, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS).decode()


def entry_hash(
    prev_hash: str,
    *,
    seq: int,
    at: datetime,
    actor: str,
    actor_kind: str,
    action: str,
    target: str,
    outcome: str,
    client: str | None,
    request_id: str | None,
    details: str,
) -> str:
    """SHA-256 (hex) chaining an entry to ``prev_hash``."""
    body = orjson.dumps(
        {
            "seq": seq,
            "at": at.astimezone(UTC).isoformat(timespec="microseconds"),
            "actor": actor,
            "actorKind": actor_kind,
            "action": action,
            "target": target,
            "outcome": outcome,
            "client": client,
            "requestId": request_id,
            "details": details,
        },
        option=orjson.OPT_SORT_KEYS,
    )
    return hashlib.sha256(prev_hash.encode("ascii") + b"\n" + body).hexdigest()


def hash_of(entry: AuditEntry) -> str:
    """The hash ``entry`` should carry given its own ``prev_hash``."""
    return entry_hash(
        entry.prev_hash,
        seq=entry.seq,
        at=entry.at,
        actor=entry.actor,
        actor_kind=entry.actor_kind,
        action=entry.action,
        target=entry.target,
        outcome=entry.outcome,
        client=entry.client,
        request_id=entry.request_id,
        details=entry.details,
    )


@dataclass(frozen=True)
class Verification:
    """The result of checking the whole chain."""

    entries: int
    head: str  # hash of the last entry (GENESIS when empty): record it elsewhere to detect a cut tail
    broken_seq: int | None = None
    reason: str | None = None

    @property
    def intact(self) -> bool:
        return self.broken_seq is None
