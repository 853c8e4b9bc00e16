# SPDX-License-Identifier: Apache-2.0
"""Fence, wandering and trip alerts to the person's guardians, through the warning chain's delivery.

Each ``care.FenceAlert``, ``care.WanderingSuspected`` and ``care.TripAlert`` becomes a message in the
warning capability's delivery queue (:meth:`safecity.warning.delivery.Delivery.enqueue`) for every
guardian (not carer: carers see no positions) who gave an e-mail address or a webhook, so it is sent,
retried, and given up on like an issued alert, and shows on the operators' delivery board (so does a
``care.CheckInEscalated``). Operators get the incidents the trips and check-ins open
(``Incidents.open_manual``) and the one a wandering detection asks for (``incident_report`` on its
event, opened by the situation capability); a guardian's message says
what happened, to whom and when, and links to the guardian page, **without a position**: reading where
the person is stays a recorded, notified provision (위치정보법 §16②/§19) on the page.

The message identifier is ``care-<event id>-g<guardian id>``: a repeated delivery of the event (the bus
is at-least-once) queues nothing twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from safecity.care.tables import guardians, people
from safecity.core.events import Envelope
from safecity.core.logging import get_logger
from safecity.store import Store

if TYPE_CHECKING:
    from safecity.warning.delivery import Delivery

log = get_logger(__name__)
SEOUL = ZoneInfo("Asia/Seoul")
KINDS = ("care.FenceAlert", "care.WanderingSuspected", "care.TripAlert", "care.CheckInEscalated")

#: What happened, by event kind: (Korean, English); {fence} is the fence's name.
TEXT: dict[str, tuple[str, str]] = {
    "enter": ("'{fence}' 구역에 들어갔습니다", "entered '{fence}'"),
    "exit": ("'{fence}' 구역에서 나갔습니다", "left '{fence}'"),
    "dwell": ("'{fence}' 구역에 오래 머물고 있습니다", "has stayed in '{fence}' for long"),
    "crossed": ("'{fence}' 구역을 지나갔습니다", "passed through '{fence}'"),
    "violation": ("있어야 할 곳('{fence}')에 없습니다", "is not where they should be ('{fence}')"),
    "wandering": ("배회가 의심됩니다", "may be wandering"),
    "deviation": ("귀가 경로를 벗어났습니다", "left the route home"),
    "stopped": ("귀가 중 오래 멈춰 있습니다", "has stopped on the way home"),
    "late": ("귀가 도착이 늦어지고 있습니다", "is late getting home"),
    "signal_lost": ("귀가 중 신호가 끊겼습니다", "lost signal on the way home"),
    "arrived": ("목적지에 도착했습니다", "arrived"),
    "sos": ("긴급 호출(SOS)을 눌렀습니다", "pressed SOS"),
    "escalated": ("관제센터에 전달되었습니다", "was passed to the control room"),
    # a heat/cold check-in passed to the operators (care.CheckInEscalated's reason)
    "checkin_need_help": (
        "안부 확인에서 도움이 필요하다고 하여 관제센터에 전달되었습니다",
        "needs help (check-in call); the control room was told",
    ),
    "checkin_no_answer": (
        "안부 전화를 두 번 받지 않아 관제센터에 전달되었습니다",
        "did not answer two check-in calls; the control room was told",
    ),
    "checkin_unanswered": (
        "제시간에 안부 확인이 되지 않아 관제센터에 전달되었습니다",
        "was not checked on in time; the control room was told",
    ),
}


def _kind(envelope: Envelope) -> str:
    data = envelope.data.to_json()
    if envelope.type == "care.WanderingSuspected":
        return "wandering"
    if envelope.type == "care.CheckInEscalated":
        return f"checkin_{data.get('reason')}"
    return str(data.get("kind") or "")


class GuardianNotices:
    """The bus handler (one durable subscription per event kind)."""

    def __init__(self, store: Store, delivery: Delivery, public_url: str | None) -> None:
        self.store = store
        self.delivery = delivery
        self.link = (public_url or "").rstrip("/") + "/care/guardian"

    def __call__(self, batch: Sequence[Envelope]) -> None:
        from safecity.warning.message import Message, MessageText, Recipient

        queued = 0
        with self.store.write() as conn:
            for envelope in batch:
                data = envelope.data.to_json()
                kind = _kind(envelope)
                if kind not in TEXT:
                    continue
                pid = int(data["personId"])
                name = conn.execute(select(people.c.name).where(people.c.id == pid)).scalar()
                if name is None:
                    continue  # the person was removed since
                rows = conn.execute(
                    select(guardians).where(guardians.c.person_id == pid, guardians.c.kind == "guardian")
                ).mappings()
                # a check-in's escalation has no fix time: when it was escalated
                at = (
                    datetime.fromisoformat(str(data["at"])) if data.get("at") else envelope.time
                ).astimezone(SEOUL)
                ko, en = (t.format(fence=data.get("fence") or "") for t in TEXT[kind])
                texts = {
                    "ko": MessageText(
                        headline=f"[안심 알림] {name}: {ko}",
                        description=f"{at:%m월 %d일 %H:%M} {name}님이 {ko}.",
                        instruction="위치는 보호자 페이지에서 확인하십시오 (열람은 기록됩니다).",
                        short_text=f"[안심] {name} {ko} {at:%H:%M}",
                    ),
                    "en": MessageText(
                        headline=f"[Care alert] {name} {en}",
                        description=f"{name} {en} at {at:%H:%M} on {at:%d %b} (Seoul time).",
                        instruction="See where they are on the guardian page (each look is recorded).",
                        short_text=f"[Care] {name} {en} {at:%H:%M}",
                    ),
                }
                for g in rows:
                    recipients = [
                        Recipient(None, channel, address, language=g["language"], audience="guardian")
                        for channel, address in (("email", g["email"]), ("webhook", g["webhook_url"]))
                        if address
                    ]
                    if not recipients:
                        continue
                    message = Message(
                        identifier=f"care-{envelope.id}-g{g['id']}",
                        msg_type="Alert",
                        sent=envelope.time,
                        category_ko="안심 알림",
                        texts=texts,
                        link=self.link,
                    )
                    queued += self.delivery.enqueue(conn, message, recipients)
        if queued:
            self.delivery.notify()
            log.info("care alerts queued for guardians", deliveries=queued)


def handler_for(services: Any, store: Store, public_url: str | None) -> GuardianNotices | None:
    """The handler, when this platform has the warning capability's delivery (else guardians see the
    alerts on their page only)."""
    from safecity.warning.delivery import Delivery

    if Delivery not in services:
        return None
    return GuardianNotices(store, services.get(Delivery), public_url)
