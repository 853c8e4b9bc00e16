# SPDX-License-Identifier: Apache-2.0
"""Who may see what of a protected person: operators everything (a reason to read positions, 위치정보법
§16 *use*), the person's guardians their own people (a *provision*, notified under §19), carers the
person but never positions. Shared by every care operation that touches a person."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select

from safecity.care.model import Actor, GuardianKind, NotifyMode, Person, PersonKind
from safecity.care.tables import guardians, people
from safecity.core.errors import BadRequest, Forbidden, NotFound


def is_operator(actor: Actor) -> bool:
    return bool({"operator", "admin"} & actor.roles)


def load_person(conn: Connection, person_id: int) -> Person:
    row = conn.execute(select(people).where(people.c.id == person_id)).mappings().first()
    if row is None:
        raise NotFound(f"person {person_id} is not registered", where="person_id")
    return person_from_row(row)


def person_from_row(r: Any) -> Person:
    return Person(
        r["id"],
        r["name"],
        PersonKind(r["kind"]),
        r["birth_date"],
        bool(r["ward"]),
        r["home_lon"],
        r["home_lat"],
        NotifyMode(r["notify_mode"]),
        r["created_at"],
    )


def entitled(
    conn: Connection,
    person_id: int,
    actor: Actor,
    reason_min_chars: int,
    *,
    positions: bool,
    withdraw: bool = False,
) -> str:
    """``use`` for an operator (with a reason of at least ``reason_min_chars`` to read positions),
    ``provide`` for the person's guardian; Forbidden for anyone else. Carers see the person but not
    positions, and may not withdraw or draw. NotFound when there is no such person."""
    load_person(conn, person_id)
    if actor.kind == "system":
        return "use"
    if is_operator(actor):
        if positions and len((actor.reason or "").strip()) < reason_min_chars:
            raise BadRequest(
                "reason: an operator states why they read a person's positions (위치정보법 §16, audited)",
                where="reason",
                message_ko="reason: 개인위치정보를 열람하는 사유를 적어 주십시오 (감사 기록에 남습니다)",
            )
        return "use"
    link = conn.execute(
        select(guardians.c.kind).where(guardians.c.person_id == person_id, guardians.c.username == actor.name)
    ).first()
    if (
        link is None
        or (positions and link[0] != GuardianKind.guardian.value)
        or (withdraw and link[0] != GuardianKind.guardian.value)
    ):
        raise Forbidden(
            f"{actor.name} does not look after person {person_id}",
            message_ko=f"{actor.name}님은 이 사람의 보호자가 아닙니다",
        )
    return "provide"
