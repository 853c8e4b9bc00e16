# SPDX-License-Identifier: Apache-2.0
"""Who consents for whom, as the location-information law names them (data/law.toml):

* 위치정보법 §15/§18: the person themselves (14 or older, not a ward);
* §25: the legal representative of a child under 14;
* §26: the 보호의무자 of a child aged 8 or under or of an adult ward, in writing, with proof;
* PIPA §23: a dementia diagnosis (health information) needs its own consent.

Functions over an open connection, so that a consent is checked and written in the caller's
transaction (:class:`safecity.care.service.Care` holds the operations)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, bindparam, insert, select

from safecity.care.law import cite
from safecity.care.model import Basis, Consent, ConsentIn, Person, PersonKind, Purpose
from safecity.care.tables import consents, guardians
from safecity.core.errors import BadRequest

SEOUL = ZoneInfo("Asia/Seoul")
#: 위치정보법 §26: the protector consents for a child of this age or younger (data/law.toml LIA-26).
PROTECTOR_AGE_MAX = 8
#: §25: a child under this age is consented for by the legal representative.
LEGAL_REP_AGE_BELOW = 14


def age_on(birth: date, day: date) -> int:
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def check_basis(conn: Connection, person: Person, purpose: Purpose, c: ConsentIn, now: datetime) -> None:
    """The consent must come from whom the law names for this person (§15/§25/§26, PIPA §23).
    Raises BadRequest naming the field to fix."""
    today = now.astimezone(SEOUL).date()
    age = age_on(person.birth_date, today) if person.birth_date else None
    if person.kind == PersonKind.child and age is None:
        raise BadRequest(
            "birthDate: a child's age decides who may consent (위치정보법 §25/§26)", where="birthDate"
        )
    if person.ward or (age is not None and age <= PROTECTOR_AGE_MAX):
        required, article = Basis.protector, "LIA-26"
    elif age is not None and age < LEGAL_REP_AGE_BELOW:
        required, article = Basis.legal_representative, "LIA-25"
    else:
        required, article = Basis.self_, "LIA-15"
    if c.basis != required:
        raise BadRequest(
            f"basis: this person's {purpose.value} consent is given as '{required.value}' ({cite(article)})",
            where="basis",
            message_ko=f"basis: 이 사람의 동의는 '{required.value}' 방식으로 받아야 합니다 ({cite(article)})",
        )
    if required == Basis.self_:
        return
    legal = conn.execute(
        select(guardians.c.id).where(
            guardians.c.person_id == person.id,
            guardians.c.username == c.given_by,
            guardians.c.legal.is_(True),
        )
    ).first()
    if legal is None:
        raise BadRequest(
            f"givenBy: {c.given_by} is not registered as this person's 보호의무자/법정대리인 (legal guardian)",
            where="givenBy",
            message_ko=f"givenBy: {c.given_by}은(는) 이 사람의 보호의무자/법정대리인으로 등록되어 있지 않습니다",
        )
    if required == Basis.protector and not (c.written and c.document_ref):
        raise BadRequest(
            f"documentRef: the protector consents in writing with proof of being the protector ({cite('LIA-26')})",
            where="documentRef",
            message_ko="documentRef: 보호의무자는 서면으로 동의하고 보호의무자임을 증명하는 서면을 첨부해야 합니다 (위치정보법 제26조)",
        )


def record(
    conn: Connection, person_id: int, purpose: Purpose, c: ConsentIn, now: datetime, recorded_by: str
) -> int:
    """Write a consent received; returns its id (the caller checked it with :func:`check_basis`)."""
    return int(
        conn.execute(
            insert(consents)
            .values(
                person_id=person_id,
                purpose=purpose.value,
                basis=c.basis.value,
                given_by=c.given_by,
                written=c.written,
                document_ref=c.document_ref,
                given_at=c.given_at or now,
                recorded_by=recorded_by,
            )
            .returning(consents.c.id)
        ).scalar_one()
    )


def active(conn: Connection, person_id: int, purpose: Purpose) -> Consent | None:
    row = (
        conn.execute(
            select(consents).where(
                consents.c.person_id == person_id,
                consents.c.purpose == purpose.value,
                consents.c.withdrawn_at.is_(None),
            )
        )
        .mappings()
        .first()
    )
    return None if row is None else from_row(row)


def with_location(conn: Connection, person_ids: Iterable[int], dialect: str) -> set[int]:
    """Which of these people have an active location consent, read in the caller's (writing)
    transaction. On PostgreSQL the consent rows are locked ``FOR SHARE``: a withdrawal waits for this
    transaction, whose positions its DELETE then sees, or this one waits for the withdrawal and finds no
    consent (SQLite's single writer already orders them)."""
    q = _LOCATION_LOCKED if dialect == "postgresql" else _LOCATION
    return {int(r[0]) for r in conn.execute(q, {"ids": sorted(set(person_ids))})}


#: built once: their compiled form is cached, and building them per batch cost more than running them
_LOCATION = select(consents.c.person_id).where(
    consents.c.person_id.in_(bindparam("ids", expanding=True)),
    consents.c.purpose == Purpose.location.value,
    consents.c.withdrawn_at.is_(None),
)
_LOCATION_LOCKED = _LOCATION.with_for_update(read=True)


def from_row(r: Any) -> Consent:
    return Consent(
        r["id"],
        r["person_id"],
        Purpose(r["purpose"]),
        Basis(r["basis"]),
        r["given_by"],
        bool(r["written"]),
        r["document_ref"],
        r["given_at"],
        r["withdrawn_at"],
    )
