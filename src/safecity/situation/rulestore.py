# SPDX-License-Identifier: Apache-2.0
"""Rules saved through the API: every change is a new version row (nothing is overwritten), and the
newest version of an id is the one that runs. A deleted rule is a newest version with ``active`` false,
which also silences a shipped or file rule of the same id."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.engine import Connection

from safecity.core.errors import BadRequest, Conflict
from safecity.situation import tables as t
from safecity.situation.rule_model import RuleVersion
from safecity.situation.rules import LoadedRule, RuleSet, validate_rule


@dataclass
class Saved:
    rules: RuleSet
    ids: set[str]  # every id with a saved version, deleted ones included


def saved(conn: Connection) -> Saved:
    r = t.rules
    newest = select(r.c.rule_id, func.max(r.c.version).label("version")).group_by(r.c.rule_id).subquery()
    rows = conn.execute(
        select(r.c.rule_id, r.c.version, r.c.body, r.c.active).join(
            newest, (newest.c.rule_id == r.c.rule_id) & (newest.c.version == r.c.version)
        )
    ).all()
    out = RuleSet()
    for row in rows:
        if not row.active:
            continue
        rule, errors = validate_rule(row.body, f"api:{row.rule_id}@{row.version}")
        if rule is None:
            out.errors.extend(errors)
        else:
            out.rules.append(LoadedRule(rule, "api", row.body))
    return Saved(out, {row.rule_id for row in rows})


def versions(conn: Connection, rule_id: str) -> list[RuleVersion]:
    r = t.rules
    rows = conn.execute(select(r).where(r.c.rule_id == rule_id).order_by(r.c.version)).mappings().all()
    return [
        RuleVersion(
            version=row["version"],
            active=bool(row["active"]),
            created_by=row["created_by"],
            created_at=row["created_at"],
            body=row["body"],
        )
        for row in rows
    ]


def _current_version(conn: Connection, rule_id: str, file_version: int | None) -> int:
    r = t.rules
    v = conn.execute(select(func.max(r.c.version)).where(r.c.rule_id == rule_id)).scalar_one_or_none()
    return max(int(v or 0), file_version or 0)


def save(
    conn: Connection, rule_id: str, body: dict[str, Any], actor: str, now: datetime, file_version: int | None
) -> LoadedRule:
    """Validate and store a new version; the version must rise (omit it to take the next one)."""
    if "id" in body and body["id"] != rule_id:
        raise BadRequest(f"the body's id {body['id']!r} differs from the path's {rule_id!r}", where="id")
    current = _current_version(conn, rule_id, file_version)
    body = {**body, "id": rule_id}
    if body.get("version") is None:
        body["version"] = current + 1
    elif (
        isinstance(body["version"], int)
        and not isinstance(body["version"], bool)
        and body["version"] <= current
    ):
        raise Conflict(
            f"version {body['version']} is not newer than the current version {current}; "
            f"send version {current + 1} or leave it out",
            where="version",
        )
    rule, errors = validate_rule(body, f"api:{rule_id}")
    if rule is None:
        first = errors[0]
        raise BadRequest(
            "; ".join(f"{e.where}: {e.message}" if e.where else e.message for e in errors),
            where=first.where or None,
            message_ko="규칙이 올바르지 않습니다: " + "; ".join(f"{e.where}: {e.message}" for e in errors),
            details=[e.to_json() for e in errors],
        )
    conn.execute(
        insert(t.rules).values(
            rule_id=rule_id,
            version=rule.version,
            body=body,
            source="api",
            created_by=actor,
            created_at=now,
            active=True,
        )
    )
    return LoadedRule(rule, "api", body)


def delete(conn: Connection, rule_id: str, actor: str, now: datetime, file_version: int | None) -> int:
    version = _current_version(conn, rule_id, file_version) + 1
    conn.execute(
        insert(t.rules).values(
            rule_id=rule_id,
            version=version,
            body={"id": rule_id, "deleted": True},
            source="api",
            created_by=actor,
            created_at=now,
            active=False,
        )
    )
    return version
