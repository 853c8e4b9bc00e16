# SPDX-License-Identifier: Apache-2.0
"""MQTT publishes in the audit log: one entry per publisher per ingest batch, not one per message.

A device may publish thousands of readings a second; an entry per message would cost the ingest path
about a sixth of a core (25 µs each). The batch is the unit the platform commits, so one entry per
publisher and batch still says who wrote what, when, from where and whether it was stored.

It lives in sensing, which owns the MQTT pipeline, and writes through audit's public API (audit sits
below sensing in the layers; from audit it was an upward import).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from safecity.audit.model import ActorKind, AuditEvent
from safecity.audit.service import AuditLog
from safecity.core.errors import SafecityError
from safecity.sensing.mqtt_port import Incoming

MAX_TOPICS = 5  # topics named in an entry; the count says how many messages there were


def batch_recorder(audit: AuditLog) -> Callable[[Sequence[Incoming], bool, frozenset[int]], None]:
    """A ``Pipeline.on_batch`` hook that defers one entry per (publisher, outcome) of each batch: a
    message refused whole says "refused", not "stored" (issue 13)."""

    def record(batch: Sequence[Incoming], stored: bool, refused: frozenset[int] = frozenset()) -> None:
        groups: dict[tuple[str, str, str | None, str], list[Incoming]] = {}
        for msg in batch:
            if msg.principal is not None:
                actor, kind = msg.principal.name, msg.principal.kind
            elif msg.trusted:
                actor, kind = "external broker", ActorKind.system
            else:
                actor, kind = "anonymous", ActorKind.anonymous
            outcome = "stored" if stored and id(msg) not in refused else "refused"
            groups.setdefault((actor, str(kind), msg.client_id, outcome), []).append(msg)
        for (actor, kind, client_id, outcome), msgs in groups.items():
            topics = sorted({m.topic for m in msgs})
            audit.defer(
                AuditEvent(
                    action="mqtt.PUBLISH",
                    target=topics[0] if len(topics) == 1 else "v1.1/…",
                    actor=actor,
                    actor_kind=kind,
                    outcome=outcome,
                    client=client_id,
                    details={"messages": len(msgs), "topics": topics[:MAX_TOPICS]},
                )
            )

    return record


def refusal_recorder(audit: AuditLog) -> Callable[[str | None, str | None, str | None, SafecityError], None]:
    """An ``EmbeddedBroker.on_refused`` hook: one entry per refused MQTT connection (password guessing
    over MQTT is audited like over HTTP, issue 13). The name is as given (bounded), never the password."""

    def record(
        username: str | None, client_id: str | None, address: str | None, error: SafecityError
    ) -> None:
        audit.defer(
            AuditEvent(
                action="mqtt.CONNECT",
                target=f"client:{(client_id or '')[:64]}",
                actor=(username or "")[:64] or "anonymous",
                actor_kind=ActorKind.rejected,
                outcome=str(error.status),
                client=address,
                details={"reason": error.message[:200]},
            )
        )

    return record
