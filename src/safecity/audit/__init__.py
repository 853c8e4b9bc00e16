# SPDX-License-Identifier: Apache-2.0
"""Audit capability: an append-only, hash-chained log of who did what, when and from where."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from safecity.audit.service import AuditLog
    from safecity.capability import Capability, Context
    from safecity.core.worker import Worker


def _audit(ctx: Context) -> AuditLog:
    from safecity.audit import subscribers
    from safecity.audit.record import RequestAudit
    from safecity.audit.service import AuditLog
    from safecity.auth.access_log import AccessLog
    from safecity.core.events import audited_types

    audit = AuditLog(ctx.store)
    ctx.services.add(RequestAudit(audit), AccessLog)  # what auth audits (logins, keys) goes through it
    # what the log keeps of other capabilities' acts (alerts issued, dead letters replayed) comes from the
    # bus, in the process of the role ``audit``; the capabilities registered before this one have imported
    # their events modules by now
    ctx.subscribe("audit", audited_types(), subscribers.event_recorder(audit), subscribers.SUBSCRIBER)
    return audit


def _close(ctx: Context) -> None:
    from safecity.audit.service import AuditLog

    ctx.services.get(AuditLog).close()  # writes the device entries still queued


def _writer(ctx: Context) -> Worker:
    from safecity.audit.service import AuditLog

    return ctx.services.get(AuditLog).worker


def setup() -> Capability:
    """The audit capability (safecity.capability): the log, its routes and its writer. Its HTTP
    middleware wraps every route, so safecity.app installs it."""
    from safecity.audit.cli import audit_app
    from safecity.capability import Capability

    return Capability(
        name="audit",
        # also the help of ``safecity audit``
        summary="The tamper-evident audit log.",
        routers=("safecity.audit.router:router",),
        cli=audit_app,
        tables=("safecity.audit.tables",),
        build=_audit,
        stop=_close,
        tasks=(_writer,),
    )
