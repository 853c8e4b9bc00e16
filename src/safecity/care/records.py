# SPDX-License-Identifier: Apache-2.0
"""The access record (위치정보법 §16②), notices of provision (§19③④) and retention.

Each function runs inside the caller's transaction, so a record exists exactly when the act does.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from safecity.bus.port import Bus
from safecity.care.events import ProvisionNotified
from safecity.care.law import articles
from safecity.care.model import Basis, NotifyMode, Position, Purpose
from safecity.care.tables import access, consents, notices, people, positions

COLLECT_PURPOSE = "보호 대상자 위치 수집 / tracking for protection"
_INSERT_ACCESS = insert(access)


def _batch_limits() -> tuple[int, int]:
    """(days, provisions) after which a batched notice is sent (§19④ and its decree, data/law.toml)."""
    extra = articles()["LIA-19"].extra
    return int(extra["batch_days"]), int(extra["batch_count"])


def collect(
    conn: Connection, person_id: int, now: datetime, count: int, first: datetime, last: datetime
) -> None:
    """A collection: one record per stored batch (the fixes' count and time span), not per fix."""
    conn.execute(
        insert(access).values(
            person_id=person_id,
            at=now,
            action="collect",
            actor="tracker",
            recipient=None,
            purpose=COLLECT_PURPOSE,
            count=count,
            first_at=first,
            last_at=last,
        )
    )


def collect_many(conn: Connection, now: datetime, spans: dict[int, tuple[int, datetime, datetime]]) -> None:
    """Collections of several people at once: person id → (count, first fix, last fix)."""
    conn.execute(
        _INSERT_ACCESS,
        [
            {
                "person_id": pid,
                "at": now,
                "action": "collect",
                "actor": "tracker",
                "recipient": None,
                "purpose": COLLECT_PURPOSE,
                "count": count,
                "first_at": first,
                "last_at": last,
            }
            for pid, (count, first, last) in spans.items()
        ],
    )


def read(
    conn: Connection,
    bus: Bus,
    person_id: int,
    now: datetime,
    action: str,
    reader: str,
    purpose: str,
    found: Sequence[Position],
) -> int | None:
    """Record a read: ``use`` (an operator) or ``provide`` (to a guardian). A provision is notified to
    the person, or to the 보호의무자 who consented for them, unless that is who received it. Returns the
    notice's id when one was written or extended."""
    first = min((p.at for p in found), default=None)
    last = max((p.at for p in found), default=None)
    access_id = conn.execute(
        insert(access)
        .values(
            person_id=person_id,
            at=now,
            action=action,
            actor=reader,
            recipient=reader if action == "provide" else None,
            purpose=purpose[:300],
            count=len(found),
            first_at=first,
            last_at=last,
        )
        .returning(access.c.id)
    ).scalar_one()
    if action != "provide":
        return None
    addressee = _addressee(conn, person_id)
    if addressee == reader:
        return None  # the guardian who consented for the person received it: nobody else to tell
    notice_id = _notify(
        conn, bus, person_id, addressee, now, {"recipient": reader, "at": now.isoformat(), "purpose": purpose}
    )
    conn.execute(update(access).where(access.c.id == access_id).values(notice_id=notice_id))
    return notice_id


def _addressee(conn: Connection, person_id: int) -> str:
    row = conn.execute(
        select(consents.c.basis, consents.c.given_by).where(
            consents.c.person_id == person_id,
            consents.c.purpose == Purpose.location.value,
            consents.c.withdrawn_at.is_(None),
        )
    ).first()
    if row is None or row[0] == Basis.self_.value:
        return "self"
    return str(row[1])


def _text(provisions: list[dict[str, Any]]) -> dict[str, str]:
    who = ", ".join(sorted({p["recipient"] for p in provisions}))
    return {
        "ko": f"개인위치정보 제공 통보: {who}에게 {len(provisions)}회 제공되었습니다 (위치정보법 제19조).",
        "en": f"Notice of provision: your location was provided to {who}, {len(provisions)} time(s) "
        "(Location Information Act Article 19).",
    }


def _notify(
    conn: Connection, bus: Bus, person_id: int, addressee: str, now: datetime, provision: dict[str, Any]
) -> int:
    mode = conn.execute(select(people.c.notify_mode).where(people.c.id == person_id)).scalar_one()
    days, most = _batch_limits()
    if mode == NotifyMode.batched.value:
        row = (
            conn.execute(select(notices).where(notices.c.person_id == person_id, notices.c.sent_at.is_(None)))
            .mappings()
            .first()
        )
        if row is not None:
            listed = [*row["body"]["provisions"], provision]
            due = len(listed) >= most or now - row["opened_at"] >= timedelta(days=days)
            conn.execute(
                update(notices)
                .where(notices.c.id == row["id"])
                .values(
                    provisions=len(listed),
                    body={"provisions": listed, **_text(listed)},
                    sent_at=now if due else None,
                )
            )
            if due:
                _announce(bus, conn, person_id, int(row["id"]), addressee, len(listed))
            return int(row["id"])
    body = {"provisions": [provision], **_text([provision])}
    sent = now if mode != NotifyMode.batched.value else None
    notice_id = int(
        conn.execute(
            insert(notices)
            .values(
                person_id=person_id,
                addressed_to=addressee,
                opened_at=now,
                sent_at=sent,
                provisions=1,
                body=body,
            )
            .returning(notices.c.id)
        ).scalar_one()
    )
    if sent is not None:
        _announce(bus, conn, person_id, notice_id, addressee, 1)
    return notice_id


def _announce(bus: Bus, conn: Connection, person_id: int, notice_id: int, addressee: str, n: int) -> None:
    bus.publish(
        conn,
        ProvisionNotified(person_id=person_id, notice_id=notice_id, addressed_to=addressee, provisions=n),
    )


def flush_due(conn: Connection, bus: Bus, now: datetime) -> int:
    """Send the batched notices that have waited their 30 days."""
    days, _ = _batch_limits()
    due = conn.execute(
        select(notices.c.id, notices.c.person_id, notices.c.addressed_to, notices.c.provisions).where(
            notices.c.sent_at.is_(None), notices.c.opened_at <= now - timedelta(days=days)
        )
    ).all()
    for nid, pid, who, n in due:
        conn.execute(update(notices).where(notices.c.id == nid).values(sent_at=now))
        _announce(bus, conn, int(pid), int(nid), str(who), int(n))
    return len(due)


def purge(conn: Connection, now: datetime, position_days: int, access_days: int) -> dict[str, int]:
    """Delete positions and access records past their retention."""
    gone = conn.execute(
        delete(positions).where(positions.c.at < now - timedelta(days=position_days))
    ).rowcount
    old = conn.execute(delete(access).where(access.c.at < now - timedelta(days=access_days))).rowcount
    return {"positionsPurged": int(gone), "accessRecordsPurged": int(old)}


def access_rows(conn: Connection, person_id: int) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(access).where(access.c.person_id == person_id).order_by(access.c.id)
    ).mappings()
    return [
        {
            "id": r["id"],
            "at": r["at"].isoformat(),
            "action": r["action"],
            "actor": r["actor"],
            "recipient": r["recipient"],
            "purpose": r["purpose"],
            "count": r["count"],
            "firstAt": r["first_at"].isoformat() if r["first_at"] else None,
            "lastAt": r["last_at"].isoformat() if r["last_at"] else None,
            "noticeId": r["notice_id"],
        }
        for r in rows
    ]


def notice_rows(conn: Connection, person_id: int) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(notices).where(notices.c.person_id == person_id).order_by(notices.c.id)
    ).mappings()
    return [
        {
            "id": r["id"],
            "addressedTo": r["addressed_to"],
            "openedAt": r["opened_at"].isoformat(),
            "sentAt": r["sent_at"].isoformat() if r["sent_at"] else None,
            "provisions": r["provisions"],
            "ko": r["body"]["ko"],
            "en": r["body"]["en"],
        }
        for r in rows
    ]
