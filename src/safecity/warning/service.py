# SPDX-License-Identifier: Apache-2.0
"""The alert workflow: an incident change drafts a CAP alert; operators review, edit and approve it (or it
is issued at once for the levels and hazards configured as automatic); issuing targets the subscribers
of its area and queues one delivery per (alert, subscriber, channel); updates and cancellations follow
the incident's lifecycle.

Threads: incident events arrive on the bus dispatcher thread, operator actions on request threads; one
lock serialises drafting and issuing.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection

from safecity.bus import Bus
from safecity.core.clock import Clock
from safecity.core.errors import BadRequest, Conflict
from safecity.core.logging import get_logger
from safecity.core.worker import Worker
from safecity.situation import events as situation_events
from safecity.situation.incidents import Incidents
from safecity.store import Store
from safecity.warning import bands, korea, texts
from safecity.warning import tables as t
from safecity.warning.cap.json import from_json, to_json
from safecity.warning.cap.model import Alert
from safecity.warning.cap.xml import to_xml, validate
from safecity.warning.delivery import Delivery
from safecity.warning.events import ALERT_ISSUED
from safecity.warning.guides import guide_for
from safecity.warning.imports import AlertImporter
from safecity.warning.incident_view import view_of
from safecity.warning.message import Message, MessageText, Recipient
from safecity.warning.model import AlertDetail, AlertPreview
from safecity.warning.planning import AlertPlanner
from safecity.warning.policy import Policy, default_policy
from safecity.warning.reading import (
    AUDIENCES,
    CB_TEXT,
    AlertReader,
    cap_time,
    category_of,
    hazard_of,
    is_point,
    thread_of,
)
from safecity.warning.wording import load_wordings

log = get_logger(__name__)

#: The short texts' sender per language (configurable: SAFECITY_WARNING__SHORT_SENDER).
SHORT_SENDER = {"ko": "[서울특별시]", "en": "[Seoul]"}

RecipientsOf = Callable[[Alert, Sequence[str]], list[Recipient]]


class Warnings(AlertPlanner, AlertReader, AlertImporter):
    def __init__(
        self,
        store: Store,
        bus: Bus,
        clock: Clock,
        incidents: Incidents,
        delivery: Delivery | None,
        recipients_of: RecipientsOf,
        *,
        sender: str = "safecity@seoul.go.kr",
        public_url: str | None = None,
        auto_levels: Sequence[int] = (),
        auto_hazards: Sequence[str] = (),
        cb_max_chars: int = 90,
        cb_safety_max_chars: int = 90,
        short_sender: dict[str, str] | None = None,
        auto_evacuate: bool = False,
        xsd: Any = None,
        broadcast_channels: Sequence[str] = ("sse",),
        languages: Sequence[str] = ("ko", "en"),
        wording_dir: Path | None = None,
        guides_dir: Path | None = None,
        auto_lower: bool = True,
        policy: Policy | None = None,
        renew_every_s: float = 60.0,
    ) -> None:
        self.store = store
        self.bus = bus
        self.clock = clock
        self.incidents = incidents
        self.delivery = delivery
        self.recipients_of = recipients_of
        self.sender = sender
        self.public_url = public_url.rstrip("/") if public_url else None
        self.auto_levels = set(auto_levels)
        self.auto_hazards = set(auto_hazards)
        self.limits = texts.Limits(urgent=cb_max_chars, safety=cb_safety_max_chars)
        self.short_sender = dict(short_sender if short_sender is not None else SHORT_SENDER)
        #: evacuation orders are the district head's decision: drafted for an operator unless a city
        #: enables issuing them automatically
        self.auto_evacuate = auto_evacuate
        self.xsd = xsd
        self.broadcast_channels = tuple(broadcast_channels)
        self.wordings = load_wordings(list(languages), wording_dir)
        self.guides_dir = guides_dir
        #: lowering and ending alerts in force follows the levels at once (see :meth:`_automatic`)
        self.auto_lower = auto_lower
        self.policy = policy or default_policy()
        self._lock = threading.RLock()
        #: renews the alerts in force whose ``<expires>`` nears while their condition lasts (:meth:`renew`)
        #: once a minute of wall time; the due times themselves are on the platform clock
        self.renew_worker = Worker(
            "warning-renew", self._renew_step, interval_s=renew_every_s, wait_first=True
        )

    # -- wiring ------------------------------------------------------------------------------------
    def start(self, *, ticker: bool = False) -> None:
        """Subscribe to the incident events; with ``ticker``, also start :attr:`renew_worker`."""
        if ticker:
            self.renew_worker.start()
        for topic in (
            situation_events.INCIDENT_OPENED,
            situation_events.INCIDENT_UPDATED,  # areas joined: the alert must reach them too
            situation_events.CRISIS_LEVEL_CHANGED,
            situation_events.INCIDENT_CLOSED,
        ):
            self.bus.subscribe(
                topic, lambda es: self.on_incident_events([e.data.to_json() for e in es]), f"warning.{topic}"
            )

    def stop(self) -> None:
        self.renew_worker.stop()

    def _renew_step(self) -> int:
        # a failing round is logged and counted by the worker (its health); the next one retries
        self.renew()
        return 0  # a timer: after a round it always waits for the next interval

    def on_incident_events(self, events: Sequence[dict[str, Any]]) -> None:
        seen: set[int] = set()
        for e in events:
            if not isinstance(e, dict):
                continue
            if e.get("scope") == "district":
                # one district changed level inside its incidents (no incident-level event when the
                # incident's own level stays): its band, so its incidents' alerts, may have to change
                seen.update(int(i) for i in e.get("incidents") or [])
            elif e.get("incidentId") is not None:
                seen.add(int(e["incidentId"]))
        for incident_id in sorted(seen):
            try:
                self.draft_for(incident_id)
            except Exception:  # one incident's draft must not stop the others
                log.exception("could not draft an alert", incident=incident_id)

    # -- operator actions --------------------------------------------------------------------------
    def edit(self, identifier: str, changes: dict[str, dict[str, str]], actor: str) -> AlertDetail:
        """Change a draft's texts: ``{"ko": {"headline": ..., "instruction": ...}, "en": {...}}``."""
        with self._lock, self.store.write() as conn:
            row = self._row(conn, identifier)
            if row["state"] != "draft":
                raise Conflict(
                    f"alert {identifier} is {row['state']}: only a draft can be edited", where="state"
                )
            cap = self._edited(row["cap"], changes)
            now = self.clock.now()
            conn.execute(update(t.alerts).where(t.alerts.c.id == row["id"]).values(cap=cap, updated_at=now))
            self._log(conn, row["id"], now, actor, "edited", {"fields": sorted(changes)})
        return self.get(identifier)

    def preview(self, identifier: str, changes: dict[str, dict[str, str]]) -> AlertPreview:
        """What the composer shows while an operator edits, nothing saved: the short texts the alert would
        go out with after ``changes``, their problems and where the languages disagree."""
        with self.store.engine.connect() as conn:
            row = self._row(conn, identifier)
        cap = self._edited(row["cap"], changes)
        shorts = self.short_texts(cap)
        return AlertPreview(identifier, shorts, self.check_texts(cap, shorts))

    def _edited(self, original: dict[str, Any], changes: dict[str, dict[str, str]]) -> dict[str, Any]:
        """A copy of the CAP alert with ``changes`` applied; BadRequest names a field that cannot be."""
        allowed = {"headline", "description", "instruction", "short"}
        cap = dict(original)
        infos = [dict(i) for i in cap["info"]]
        for lang, fields in changes.items():
            words = self.wordings.get(lang)
            code = words.language if words else None
            target = next((i for i in infos if i.get("language") == code), None)
            if target is None:
                raise BadRequest(
                    f"the alert has no {lang!r} text; languages: {', '.join(self.wordings)}", where=lang
                )
            for k, v in fields.items():
                if k not in allowed:
                    raise BadRequest(
                        f"{lang}.{k}: only {', '.join(sorted(allowed))} can be edited", where=f"{lang}.{k}"
                    )
                if not isinstance(v, str) or not v.strip():
                    raise BadRequest(f"{lang}.{k}: must be a non-empty text", where=f"{lang}.{k}")
                if k == "short":
                    info = from_json({**cap, "info": [target]}).infos[0]
                    limit = self.limits.of(category_of(info, self.policy))
                    _set_short(target, " ".join(v.split()), limit, f"{lang}.{k}")
                    continue
                target[k] = v.strip()
        cap["info"] = infos
        from_json(cap)
        return cap

    def reject(self, identifier: str, actor: str, reason: str) -> AlertDetail:
        if not reason.strip():
            raise BadRequest("say why the draft is rejected", where="reason")
        with self._lock, self.store.write() as conn:
            row = self._row(conn, identifier)
            if row["state"] != "draft":
                raise Conflict(
                    f"alert {identifier} is {row['state']}: only a draft can be rejected", where="state"
                )
            now = self.clock.now()
            conn.execute(
                update(t.alerts)
                .where(t.alerts.c.id == row["id"])
                .values(state="rejected", decided_by=actor, decided_at=now, updated_at=now)
            )
            self._log(conn, row["id"], now, actor, "rejected", {"reason": reason})
        return self.get(identifier)

    def issue(self, identifier: str, actor: str, *, auto: bool = False) -> AlertDetail:
        """Approve and issue a draft: stamp it, validate it, queue its deliveries, announce it."""
        with self._lock:
            now = self.clock.now()
            with self.store.engine.connect() as conn:
                row = self._row(conn, identifier)
            if row["state"] != "draft":
                raise Conflict(
                    f"alert {identifier} is {row['state']}: only a draft can be issued", where="state"
                )
            cap = dict(row["cap"])
            cap["sent"] = cap_time(now)
            # valid from the moment it goes out (a draft may have waited for approval)
            expires = now + self.policy.of(row["hazard"] or "other").expires_after
            cap["info"] = [{**i, "expires": cap_time(expires)} for i in cap.get("info") or []]
            alert = from_json(cap)
            xml = to_xml(alert)
            if self.xsd is not None:
                problems = validate(xml, self.xsd)
                if problems:
                    raise BadRequest(
                        "the alert does not validate against CAP 1.2: " + "; ".join(problems[:5]),
                        where="cap",
                        details=problems,
                    )
            # a point alert reaches its circle only, never its districts by code
            codes = [] if is_point(alert) else list(row["districts"] or [])
            recipients = self.recipients_of(alert, codes)
            recipients += [Recipient.broadcast(ch) for ch in self.broadcast_channels]
            queued = 0
            with self.store.write() as conn:
                result = conn.execute(
                    update(t.alerts)
                    .where(t.alerts.c.id == row["id"], t.alerts.c.state == "draft")
                    .values(
                        state="issued",
                        cap=to_json(alert),
                        xml=xml.decode("utf-8"),
                        sent=now,
                        expires=expires,
                        auto=auto,
                        decided_by=actor,
                        decided_at=now,
                        updated_at=now,
                    )
                )
                if result.rowcount != 1:
                    raise Conflict(f"alert {identifier} was decided meanwhile", where="state")
                self._log(
                    conn,
                    row["id"],
                    now,
                    actor,
                    "auto-issued" if auto else "issued",
                    {"recipients": len(recipients)},
                )
                if self.delivery is not None:
                    for audience, group in _by_audience(recipients).items():
                        queued += self.delivery.enqueue(conn, self._message(alert, xml, audience), group)
                self.bus.publish(
                    conn,
                    ALERT_ISSUED,
                    {
                        "identifier": identifier,
                        "incidentId": row["incident_id"],
                        "msgType": alert.msg_type.value,
                        "auto": auto,
                        "recipients": len(recipients),
                        "queued": queued,
                        "actor": actor,
                        "references": cap.get("references"),
                        "districts": codes,
                    },
                )
            self.bus.notify()
            if self.delivery is not None:
                self.delivery.notify()
        log.info("alert issued", identifier=identifier, auto=auto, recipients=len(recipients), queued=queued)
        return self.get(identifier)

    def _message(self, alert: Alert, xml: bytes, audience: str) -> Message:
        shorts = self.short_texts(to_json(alert))
        by_lang = {}
        for info in alert.infos:
            lang = (info.language or "ko").split("-")[0]
            hazard = next((p.value for p in info.parameters if p.value_name == "SAFECITY_HAZARD"), None)
            guide = guide_for(
                hazard or hazard_of(alert), audience if audience in AUDIENCES else "general", lang
            )
            by_lang[lang] = MessageText(
                headline=info.headline or info.event,
                description=info.description or "",
                instruction=info.instruction or "",
                area_desc=", ".join(a.area_desc for a in info.areas),
                guide=guide.after
                if alert.msg_type.value == "Cancel"
                else guide.active_lines(self.policy.of(hazard or hazard_of(alert)).guide_phase),
                short_text=shorts[lang].text if lang in shorts else "",
            )
        first = alert.infos[0] if alert.infos else None
        category = category_of(first, self.policy).name_ko if first is not None else "안전안내문자"
        return Message(
            identifier=alert.identifier,
            msg_type=alert.msg_type.value,
            sent=alert.sent,
            category_ko=category,
            texts=by_lang,
            cap_xml=xml,
            cap_json=to_json(alert),
            link=f"{self.public_url}/alerts/{alert.identifier}.xml" if self.public_url else None,
        )

    def public_message(self, identifier: str) -> Message | None:
        """An issued alert as the public stream shows it (every language, the general audience's
        guide); None when it is not issued or this platform does not broadcast on the stream."""
        if "sse" not in self.broadcast_channels:
            return None
        with self.store.engine.connect() as conn:
            row = conn.execute(
                select(t.alerts.c.cap, t.alerts.c.xml).where(
                    t.alerts.c.identifier == identifier, t.alerts.c.sent.is_not(None)
                )
            ).first()
        if row is None or row.xml is None:
            return None
        return self._message(from_json(row.cap), row.xml.encode("utf-8"), "general")

    def cancel(self, identifier: str, actor: str, reason: str) -> AlertDetail:
        """Withdraw an issued alert: draft a CAP Cancel referencing it (its areas, the operator's reason
        as <note>) and issue it at once. Only the latest issued alert of a thread can be cancelled, and
        not a Cancel; raises Conflict naming what stands in the way."""
        if not reason.strip():
            raise BadRequest("say why the alert is cancelled", where="reason")
        with self._lock:
            now = self.clock.now()
            with self.store.engine.connect() as conn:
                row = self._row(conn, identifier)
                if row["state"] != "issued" or row["origin"] != "platform" or row["msg_type"] == "Cancel":
                    raise Conflict(
                        f"alert {identifier} is {row['state']} {row['msg_type']} ({row['origin']}): only an "
                        "issued alert of this platform can be cancelled",
                        where="state",
                    )
                if row["incident_id"] is None:
                    raise Conflict(f"alert {identifier} belongs to no incident", where="identifier")
                threads, _ = self._threads(conn, int(row["incident_id"]), now)
            thread = next((th for th in threads if th.key == thread_of(row)), None)
            if thread is None or thread.identifier != identifier:
                latest = thread.identifier if thread is not None else "a Cancel"
                raise Conflict(
                    f"alert {latest} has replaced {identifier}: cancel that one", where="identifier"
                )
            view = view_of(self.incidents.get(int(row["incident_id"])))
            step = bands.Step("Cancel", thread.level, tuple(sorted(thread.codes)), thread, lowering=False)
            ident = self._draft(view, step, actor, now, note=reason.strip())
            self._supersede_thread_drafts(view.id, thread, ident, now)
        return self.issue(ident, actor)

    def _supersede_thread_drafts(
        self, incident_id: int, thread: bands.Thread, keep: str, now: datetime
    ) -> None:
        """Drafts continuing ``thread`` other than ``keep``: an operator's Cancel replaces them."""
        with self.store.write() as conn:
            rows = (
                conn.execute(
                    select(t.alerts).where(t.alerts.c.incident_id == incident_id, t.alerts.c.state == "draft")
                )
                .mappings()
                .all()
            )
            ids = [r["id"] for r in rows if r["identifier"] != keep and thread_of(r) == thread.key]
            if ids:
                conn.execute(
                    update(t.alerts).where(t.alerts.c.id.in_(ids)).values(state="superseded", updated_at=now)
                )

    def _log(
        self, conn: Connection, alert_id: int, at: datetime, actor: str, action: str, detail: dict[str, Any]
    ) -> None:
        conn.execute(
            insert(t.alert_log).values(alert_id=alert_id, at=at, actor=actor, action=action, detail=detail)
        )


def _set_short(info: dict[str, Any], text: str, max_chars: int, where: str) -> None:
    problems = korea.check_short_text(text, max_chars)
    if problems:
        raise BadRequest(f"{where}: " + "; ".join(problems), where=where, details=problems)
    params = [p for p in info.get("parameter") or [] if p.get("valueName") != CB_TEXT]
    info["parameter"] = [*params, {"valueName": CB_TEXT, "value": text}]


def _by_audience(recipients: Sequence[Recipient]) -> dict[str, list[Recipient]]:
    out: dict[str, list[Recipient]] = defaultdict(list)
    for r in recipients:
        out[r.audience].append(r)
    return out
