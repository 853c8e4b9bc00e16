# SPDX-License-Identifier: Apache-2.0
"""The alert workflow: an incident change drafts a CAP alert; operators review, edit and approve it (or it
is issued at once for the levels and hazards configured as automatic); issuing targets the subscribers
of its area and queues one delivery per (alert, subscriber, channel); updates and cancellations follow
the incident's lifecycle.

Threads: incident events arrive on the bus dispatcher thread, operator actions on request threads; one
lock serialises drafting and issuing.
"""

from __future__ import annotations

import builtins
import threading
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import shapely
from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Connection

from safecity.bus import Bus
from safecity.core.clock import Clock
from safecity.core.errors import BadRequest, Conflict, NotFound
from safecity.core.logging import get_logger
from safecity.evacuation.shelters import suitable_shelters
from safecity.evacuation.zones import Hazard
from safecity.geo import areas as geo_areas
from safecity.situation import events as situation_events
from safecity.situation.incidents import Incidents
from safecity.situation.model import Crisis
from safecity.store import Store
from safecity.warning import drafting, korea
from safecity.warning import tables as t
from safecity.warning.cap.json import from_json, to_json
from safecity.warning.cap.model import Alert
from safecity.warning.cap.xml import from_xml, to_xml, validate
from safecity.warning.delivery import Delivery
from safecity.warning.events import ALERT_DRAFTED, ALERT_IMPORTED, ALERT_ISSUED
from safecity.warning.guides import guide_for
from safecity.warning.message import Message, MessageText, Recipient
from safecity.warning.wording import load_wordings

log = get_logger(__name__)

KST = timezone(timedelta(hours=9))
#: The evacuation capability's hazard for a situation hazard (which shelters are safe from it).
EVACUATION_HAZARD = {
    "heavy_rain": Hazard.flood,
    "river_flood": Hazard.flood,
    "landslide": Hazard.landslide,
    "fire": Hazard.fire,
    "gas": Hazard.chemical,
    "facility": Hazard.collapse,
    "strong_wind": Hazard.typhoon,
    "heat_wave": Hazard.heat,
    "cold_wave": Hazard.cold,
}


def _shelter_hazard(hazard: str | None) -> str | None:
    found = EVACUATION_HAZARD.get(hazard or "")
    return None if found is None else found.value


#: Audiences an action guide is written for (see warning/guides/).
AUDIENCES = ("general", "elderly", "children_parents", "disability", "foreigner")

RecipientsOf = Callable[[Alert, Sequence[str]], list[Recipient]]


class Warnings:
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
        xsd: Any = None,
        broadcast_channels: Sequence[str] = ("sse",),
        languages: Sequence[str] = ("ko", "en"),
        wording_dir: Path | None = None,
        guides_dir: Path | None = None,
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
        self.cb_max_chars = cb_max_chars
        self.xsd = xsd
        self.broadcast_channels = tuple(broadcast_channels)
        self.wordings = load_wordings(list(languages), wording_dir)
        self.guides_dir = guides_dir
        self.listeners: list[Callable[[dict[str, Any]], None]] = []
        self._lock = threading.RLock()

    # -- wiring ------------------------------------------------------------------------------------
    def start(self) -> None:
        for topic in (
            situation_events.INCIDENT_OPENED,
            situation_events.INCIDENT_UPDATED,  # areas joined: the alert must reach them too
            situation_events.CRISIS_LEVEL_CHANGED,
            situation_events.INCIDENT_CLOSED,
        ):
            self.bus.subscribe(
                topic, lambda es: self.on_incident_events([e.data.to_json() for e in es]), f"warning.{topic}"
            )

    def on_incident_events(self, events: Sequence[dict[str, Any]]) -> None:
        seen: set[int] = set()
        for e in events:
            if not isinstance(e, dict) or e.get("incidentId") is None:
                continue  # district-level changes: the incident's own event drafts
            if e.get("scope") == "district":
                continue
            seen.add(int(e["incidentId"]))
        for incident_id in sorted(seen):
            try:
                self.draft_for(incident_id)
            except Exception:  # one incident's draft must not stop the others
                log.exception("could not draft an alert", incident=incident_id)

    def _notify(self, event: dict[str, Any]) -> None:
        for listener in list(self.listeners):
            try:
                listener(event)
            except Exception:  # a listener's boundary
                log.exception("alert listener failed")

    # -- drafting ----------------------------------------------------------------------------------
    def draft_for(self, incident_id: int, actor: str = "system") -> dict[str, Any] | None:
        """Draft the alert the incident's current state calls for (Alert, Update or Cancel), replacing an
        older draft for it; issue it at once when its level or hazard is automatic. None when nothing
        needs saying (the level an alert already announced, a closed incident never announced)."""
        with self._lock:
            incident = self.incidents.get(incident_id)
            with self.store.engine.connect() as conn:
                issued = self._last_issued(conn, incident_id)
            closed = incident["status"] in ("closed", "dismissed")
            level = Crisis(int(incident["level"]))
            if closed:
                if issued is None or issued["msg_type"] == "Cancel":
                    self._supersede_drafts(incident_id, actor)
                    return None
                msg_type = "Cancel"
            elif issued is None:
                if level < Crisis.caution:
                    return None  # 관심 is for the situation room, not for citizens
                msg_type = "Alert"
            elif level == Crisis.none:
                return None  # every condition has cleared: the Cancel comes when the incident closes
            else:
                areas_now = sorted(a["code"] for a in incident["areas"])
                if issued["level"] == int(level) and sorted(issued["districts"] or []) == areas_now:
                    return None
                msg_type = "Update"
            with self.store.engine.connect() as conn:
                pending = conn.execute(
                    select(t.alerts.c.msg_type, t.alerts.c.level, t.alerts.c.districts)
                    .where(t.alerts.c.incident_id == incident_id, t.alerts.c.state == "draft")
                    .order_by(t.alerts.c.id.desc())
                    .limit(1)
                ).first()
            areas_now = sorted(a["code"] for a in incident["areas"])
            if pending is not None and (pending.msg_type, pending.level, sorted(pending.districts or [])) == (
                msg_type,
                int(level),
                areas_now,
            ):
                return None  # the draft waiting for approval already says this
            now = self.clock.now()
            facts = self._facts(incident)
            with self.store.write() as conn:
                n = int(conn.execute(select(func.count()).select_from(t.alerts)).scalar_one()) + 1
                ident = drafting.identifier(self.sender.split("@")[0], incident_id, now.astimezone(KST), n)
                cap = self._cap(facts, ident, now, msg_type, issued)
                from_json(cap)  # the draft must already be a valid CAP alert (raises naming the element)
                conn.execute(
                    update(t.alerts)
                    .where(t.alerts.c.incident_id == incident_id, t.alerts.c.state == "draft")
                    .values(state="superseded", updated_at=now)
                )
                alert_id = conn.execute(
                    insert(t.alerts)
                    .values(
                        identifier=ident,
                        sender=self.sender,
                        state="draft",
                        msg_type=msg_type,
                        origin="platform",
                        incident_id=incident_id,
                        hazard=facts.hazard,
                        level=int(facts.level),
                        auto=False,
                        cap=cap,
                        districts=[p.code for p in facts.places],
                        created_at=now,
                        updated_at=now,
                        created_by=actor,
                    )
                    .returning(t.alerts.c.id)
                ).scalar_one()
                self._log(conn, alert_id, now, actor, "drafted", {"msgType": msg_type, "level": int(level)})
                self.bus.publish(
                    conn,
                    ALERT_DRAFTED,
                    {
                        "identifier": ident,
                        "incidentId": incident_id,
                        "msgType": msg_type,
                        "level": int(level),
                    },
                )
            self.bus.notify()
            self._notify({"topic": ALERT_DRAFTED, "identifier": ident, "incidentId": incident_id})
            if self._automatic(facts, msg_type, issued):
                return self.issue(ident, "system", auto=True)
            return self.get(ident)

    def _automatic(self, facts: drafting.IncidentFacts, msg_type: str, issued: Any) -> bool:
        if msg_type in ("Update", "Cancel") and issued is not None and issued["auto"]:
            return True  # what was issued automatically is kept up to date automatically
        return int(facts.level) in self.auto_levels or facts.hazard in self.auto_hazards

    def _facts(self, incident: dict[str, Any]) -> drafting.IncidentFacts:
        places = []
        with self.store.engine.connect() as conn:
            for a in incident["areas"]:
                ref = geo_areas.area_by_code(conn, a["code"], kind="district")
                geom = geo_areas.geometry_of(conn, ref.id) if ref is not None else None
                places.append(
                    drafting.Place(
                        a["code"],
                        a.get("nameKo") or a["code"],
                        a.get("nameEn") or a.get("nameKo") or a["code"],
                        geom,
                    )
                )
        conditions = sorted(
            (c for c in incident.get("conditions", []) if c.get("level")),
            key=lambda c: -int(c["level"]),
        )
        top = conditions[0] if conditions else {}
        # the latest firing at the incident's own level says why it is at that level
        fired = [e for e in incident.get("timeline", []) if e.get("kind") == "fired"]
        top_fired = [e for e in fired if e.get("level") == int(incident["level"])] or fired
        detail_ko = top_fired[-1]["detailKo"] if top_fired else ""
        detail_en = top_fired[-1]["detailEn"] if top_fired else ""
        return drafting.IncidentFacts(
            incident_id=int(incident["id"]),
            hazard=incident["hazard"],
            level=Crisis(int(incident["level"])),
            status=incident["status"],
            stage_ko=top.get("stageKo") or incident.get("titleKo", ""),
            stage_en=top.get("stageEn") or incident.get("titleEn", ""),
            places=places,
            detail_ko=detail_ko,
            detail_en=detail_en,
            centre=_centre(incident),
        )

    def _shelters(self, facts: drafting.IncidentFacts, now: datetime) -> list[Any]:
        """The nearest suitable open shelters of the affected places (evacuation information)."""
        hazard = EVACUATION_HAZARD.get(facts.hazard)
        if drafting.response_for(facts.hazard, facts.level) != "Evacuate":
            return []
        found: dict[int, Any] = {}
        with self.store.engine.connect() as conn:
            for place in facts.places[:5]:
                if place.geometry is None:
                    continue
                c = place.geometry.representative_point()
                near = (float(c.coords[0][0]), float(c.coords[0][1]))
                for shelter in suitable_shelters(conn, hazard, now, near=near, within_m=3000)[:2]:
                    found.setdefault(shelter.id, shelter)
        return list(found.values())[:5]

    def _cap(
        self,
        facts: drafting.IncidentFacts,
        ident: str,
        now: datetime,
        msg_type: str,
        issued: Any,
    ) -> dict[str, Any]:
        infos = []
        shelters = self._shelters(facts, now) if msg_type != "Cancel" else []
        web = f"{self.public_url}/alerts/{ident}.xml" if self.public_url else None
        for lang, words in self.wordings.items():
            guide = guide_for(facts.hazard, "general", lang, self.guides_dir)
            names = [s.name_ko if words.place_names == "ko" else (s.name_en or s.name_ko) for s in shelters]
            infos.append(drafting.draft_info(facts, words, guide.lines(), web, msg_type, names))
        cap: dict[str, Any] = {
            "identifier": ident,
            "sender": self.sender,
            "sent": now.astimezone(KST).replace(microsecond=0).isoformat(),
            "status": "Actual",
            "msgType": msg_type,
            "scope": "Public",
            "info": infos,
        }
        if msg_type != "Alert" and issued is not None:
            cap["references"] = f"{issued['sender']},{issued['identifier']},{_cap_time(issued['sent'])}"
        return cap

    def _supersede_drafts(self, incident_id: int, actor: str) -> None:
        with self.store.write() as conn:
            conn.execute(
                update(t.alerts)
                .where(t.alerts.c.incident_id == incident_id, t.alerts.c.state == "draft")
                .values(state="superseded", updated_at=self.clock.now())
            )

    # -- operator actions --------------------------------------------------------------------------
    def edit(self, identifier: str, changes: dict[str, dict[str, str]], actor: str) -> dict[str, Any]:
        """Change a draft's texts: ``{"ko": {"headline": ..., "instruction": ...}, "en": {...}}``."""
        allowed = {"headline", "description", "instruction", "short"}
        with self._lock, self.store.write() as conn:
            row = self._row(conn, identifier)
            if row["state"] != "draft":
                raise Conflict(
                    f"alert {identifier} is {row['state']}: only a draft can be edited", where="state"
                )
            cap = dict(row["cap"])
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
                            f"{lang}.{k}: only {', '.join(sorted(allowed))} can be edited",
                            where=f"{lang}.{k}",
                        )
                    if not isinstance(v, str) or not v.strip():
                        raise BadRequest(f"{lang}.{k}: must be a non-empty text", where=f"{lang}.{k}")
                    if k == "short":
                        _set_short(target, " ".join(v.split()), self.cb_max_chars, f"{lang}.{k}")
                        continue
                    target[k] = v.strip()
            cap["info"] = infos
            from_json(cap)
            now = self.clock.now()
            conn.execute(update(t.alerts).where(t.alerts.c.id == row["id"]).values(cap=cap, updated_at=now))
            self._log(conn, row["id"], now, actor, "edited", {"fields": sorted(changes)})
        return self.get(identifier)

    def reject(self, identifier: str, actor: str, reason: str) -> dict[str, Any]:
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

    def issue(self, identifier: str, actor: str, *, auto: bool = False) -> dict[str, Any]:
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
            cap["sent"] = now.astimezone(KST).replace(microsecond=0).isoformat()
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
            codes = list(row["districts"] or [])
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
                    },
                )
            self.bus.notify()
            if self.delivery is not None:
                self.delivery.notify()
        log.info("alert issued", identifier=identifier, auto=auto, recipients=len(recipients), queued=queued)
        self._notify({"topic": ALERT_ISSUED, "identifier": identifier, "auto": auto, "actor": actor})
        return self.get(identifier)

    def _message(self, alert: Alert, xml: bytes, audience: str) -> Message:
        texts = {}
        for info in alert.infos:
            lang = (info.language or "ko").split("-")[0]
            hazard = next((p.value for p in info.parameters if p.value_name == "SAFECITY_HAZARD"), None)
            guide = guide_for(
                hazard or _hazard_of(alert), audience if audience in AUDIENCES else "general", lang
            )
            texts[lang] = MessageText(
                headline=info.headline or info.event,
                description=info.description or "",
                instruction=info.instruction or "",
                area_desc=", ".join(a.area_desc for a in info.areas),
                guide=tuple(guide.lines()),
                short_text=_edited_short(info)
                or korea.short_text(alert, lang=lang, max_chars=self.cb_max_chars),
            )
        first = alert.infos[0] if alert.infos else None
        category = (
            _category(first.severity, first.urgency, _hazard_of(alert)).name_ko
            if first is not None
            else "안전안내문자"
        )
        return Message(
            identifier=alert.identifier,
            msg_type=alert.msg_type.value,
            sent=alert.sent,
            category_ko=category,
            texts=texts,
            cap_xml=xml,
            cap_json=to_json(alert),
            link=f"{self.public_url}/alerts/{alert.identifier}.xml" if self.public_url else None,
        )

    # -- imports -----------------------------------------------------------------------------------
    def import_cap(self, data: bytes, actor: str) -> list[dict[str, Any]]:
        """Store CAP alerts of another agency (parsed safely, validated, nothing lost) for the board."""
        alert = from_xml(data)
        if self.xsd is not None:
            problems = validate(data, self.xsd)
            if problems:
                raise BadRequest(
                    "not a valid CAP 1.2 alert: " + "; ".join(problems[:5]), where="body", details=problems
                )
        now = self.clock.now()
        with self.store.write() as conn:
            exists = conn.execute(
                select(t.alerts.c.id).where(t.alerts.c.identifier == alert.identifier)
            ).scalar_one_or_none()
            if exists is not None:
                raise Conflict(f"alert {alert.identifier} is already here", where="identifier")
            codes = sorted(
                {
                    g.value
                    for i in alert.infos
                    for a in i.areas
                    for g in a.geocodes
                    if g.value_name in ("KR.SIG", "SIG_CD")
                }
            )
            alert_id = conn.execute(
                insert(t.alerts)
                .values(
                    identifier=alert.identifier,
                    sender=alert.sender,
                    state="issued",
                    msg_type=alert.msg_type.value,
                    origin="import",
                    cap=to_json(alert),
                    xml=data.decode("utf-8", errors="replace"),
                    districts=codes,
                    sent=alert.sent,
                    expires=min((i.expires for i in alert.infos if i.expires), default=None),
                    created_at=now,
                    updated_at=now,
                    created_by=actor,
                    decided_by=actor,
                    decided_at=now,
                )
                .returning(t.alerts.c.id)
            ).scalar_one()
            self._log(conn, alert_id, now, actor, "imported", {"sender": alert.sender})
            self.bus.publish(conn, ALERT_IMPORTED, {"identifier": alert.identifier, "sender": alert.sender})
        self.bus.notify()
        self._notify({"topic": ALERT_IMPORTED, "identifier": alert.identifier})
        return [self.get(alert.identifier)]

    # -- reading -----------------------------------------------------------------------------------
    def _row(self, conn: Connection, identifier: str) -> Any:
        row = conn.execute(select(t.alerts).where(t.alerts.c.identifier == identifier)).mappings().first()
        if row is None:
            raise NotFound(f"no alert {identifier!r}", where="identifier")
        return row

    def _last_issued(self, conn: Connection, incident_id: int) -> Any:
        return (
            conn.execute(
                select(t.alerts)
                .where(t.alerts.c.incident_id == incident_id, t.alerts.c.state == "issued")
                .order_by(t.alerts.c.sent.desc(), t.alerts.c.id.desc())
                .limit(1)
            )
            .mappings()
            .first()
        )

    def get(self, identifier: str) -> dict[str, Any]:
        with self.store.engine.connect() as conn:
            row = self._row(conn, identifier)
            log_rows = (
                conn.execute(
                    select(t.alert_log).where(t.alert_log.c.alert_id == row["id"]).order_by(t.alert_log.c.id)
                )
                .mappings()
                .all()
            )
        return {
            **_summary(row),
            "cap": row["cap"],
            "shortTexts": self.short_texts(row["cap"]),
            "cbMaxChars": self.cb_max_chars,
            "log": [
                {"at": r["at"].isoformat(), "actor": r["actor"], "action": r["action"], "detail": r["detail"]}
                for r in log_rows
            ],
        }

    def xml(self, identifier: str) -> bytes:
        with self.store.engine.connect() as conn:
            row = self._row(conn, identifier)
        if row["xml"] is None:
            # a draft: rendered on request so operators can inspect exactly what would be sent
            return to_xml(from_json(row["cap"]))
        return str(row["xml"]).encode("utf-8")

    def list(
        self,
        *,
        state: str | None = None,
        origin: str | None = None,
        district: str | None = None,
        limit: int = 100,
    ) -> list[dict[str, Any]]:
        q = select(t.alerts).order_by(t.alerts.c.id.desc()).limit(limit)
        if state:
            q = q.where(t.alerts.c.state == state)
        if origin:
            q = q.where(t.alerts.c.origin == origin)
        with self.store.engine.connect() as conn:
            rows = conn.execute(q).mappings().all()
        out = [_summary(r) for r in rows]
        if district:
            out = [a for a in out if district in a["districts"]]
        return out

    def current(
        self,
        *,
        lon: float | None = None,
        lat: float | None = None,
        district: str | None = None,
        lang: str = "ko",
        audience: str = "general",
    ) -> builtins.list[dict[str, Any]]:
        """The warnings in force for a place (a point, or a district code): for each incident, its latest
        issued alert unless that was a Cancel or has expired; in ``lang`` (falling back to Korean), with
        the action guide for ``audience``. Public: this is what the citizen page shows."""
        from safecity.warning.recipients import alert_area

        now = self.clock.now()
        codes: set[str] = set()
        point = None
        with self.store.engine.connect() as conn:
            if lon is not None and lat is not None:
                point = shapely.Point(lon, lat)
                found = geo_areas.area_at(conn, lon, lat, "district")
                if found is not None:
                    codes.add(found.code)
            if district:
                codes.add(district)
            rows = (
                conn.execute(
                    select(t.alerts)
                    .where(t.alerts.c.state == "issued", t.alerts.c.origin == "platform")
                    .order_by(t.alerts.c.sent.desc(), t.alerts.c.id.desc())
                    .limit(500)
                )
                .mappings()
                .all()
            )
        latest: dict[Any, Any] = {}
        for r in rows:
            latest.setdefault(r["incident_id"] or r["identifier"], r)
        out = []
        for r in latest.values():
            if r["msg_type"] == "Cancel" or (r["expires"] is not None and r["expires"] <= now):
                continue
            alert = from_json(r["cap"])
            inside = bool(codes & set(r["districts"] or []))
            if not inside and point is not None:
                area = alert_area(alert)
                inside = area is not None and area.covers(point)
            if not inside:
                continue
            info = next((i for i in alert.infos if (i.language or "").startswith(lang)), None) or next(
                (i for i in alert.infos if (i.language or "ko").startswith("ko")), alert.infos[0]
            )
            used = (info.language or "ko").split("-")[0]
            profile = audience if audience in AUDIENCES else "general"
            guide = guide_for(r["hazard"] or _hazard_of(alert), profile, used, self.guides_dir)
            category = _category(info.severity, info.urgency, r["hazard"] or _hazard_of(alert))
            out.append(
                {
                    "identifier": r["identifier"],
                    "msgType": r["msg_type"],
                    "sent": r["sent"].isoformat() if r["sent"] else None,
                    "hazard": r["hazard"],
                    # which shelters are safe from it (the citizen page's route and shelter list)
                    "shelterHazard": _shelter_hazard(r["hazard"]),
                    "level": r["level"],
                    "language": info.language,
                    "category": category.name_ko if used == "ko" else category.name_en,
                    "severity": info.severity.value,
                    "urgency": info.urgency.value,
                    "headline": info.headline,
                    "description": info.description,
                    "instruction": info.instruction,
                    "areaDesc": ", ".join(a.area_desc for a in info.areas),
                    "districts": list(r["districts"] or []),
                    "guide": {"title": guide.title, "lines": list(guide.lines()), "audience": guide.audience},
                    "cap": f"/alerts/{r['identifier']}.xml",
                }
            )
        return out

    def short_texts(self, cap: dict[str, Any]) -> dict[str, dict[str, Any]]:
        """Per language, the cell-broadcast text the alert would go out with (the operator's edit, else
        the one rendered from headline, area and instruction), its length, the limit and its problems."""
        alert = from_json(cap)
        out = {}
        for info in alert.infos:
            lang = (info.language or "ko").split("-")[0]
            edited = _edited_short(info)
            text = edited or korea.short_text(alert, lang=lang, max_chars=self.cb_max_chars)
            out[lang] = {
                "text": text,
                "chars": len(text),
                "max": self.cb_max_chars,
                "edited": edited is not None,
                "problems": korea.check_short_text(text, self.cb_max_chars),
            }
        return out

    def cancel(self, identifier: str, actor: str, reason: str) -> dict[str, Any]:
        """Withdraw an issued alert: draft a CAP Cancel referencing it (the incident's places, the
        operator's reason as <note>) and issue it at once. Only the latest issued alert of an incident
        can be cancelled, and not a Cancel; raises Conflict naming what stands in the way."""
        if not reason.strip():
            raise BadRequest("say why the alert is cancelled", where="reason")
        with self._lock:
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
                latest = self._last_issued(conn, int(row["incident_id"]))
            if latest is not None and latest["identifier"] != identifier:
                raise Conflict(
                    f"alert {latest['identifier']} has replaced {identifier}: cancel that one",
                    where="identifier",
                )
            incident_id = int(row["incident_id"])
            facts = self._facts(self.incidents.get(incident_id))
            now = self.clock.now()
            with self.store.write() as conn:
                n = int(conn.execute(select(func.count()).select_from(t.alerts)).scalar_one()) + 1
                ident = drafting.identifier(self.sender.split("@")[0], incident_id, now.astimezone(KST), n)
                cap = self._cap(facts, ident, now, "Cancel", row)
                cap["note"] = reason.strip()
                from_json(cap)
                conn.execute(
                    update(t.alerts)
                    .where(t.alerts.c.incident_id == incident_id, t.alerts.c.state == "draft")
                    .values(state="superseded", updated_at=now)
                )
                alert_id = conn.execute(
                    insert(t.alerts)
                    .values(
                        identifier=ident,
                        sender=self.sender,
                        state="draft",
                        msg_type="Cancel",
                        origin="platform",
                        incident_id=incident_id,
                        hazard=facts.hazard,
                        level=row["level"],
                        auto=False,
                        cap=cap,
                        districts=list(row["districts"] or []),
                        created_at=now,
                        updated_at=now,
                        created_by=actor,
                    )
                    .returning(t.alerts.c.id)
                ).scalar_one()
                self._log(conn, alert_id, now, actor, "drafted", {"msgType": "Cancel", "cancels": identifier})
        return self.issue(ident, actor)

    def _log(
        self, conn: Connection, alert_id: int, at: datetime, actor: str, action: str, detail: dict[str, Any]
    ) -> None:
        conn.execute(
            insert(t.alert_log).values(alert_id=alert_id, at=at, actor=actor, action=action, detail=detail)
        )


def _summary(row: Any) -> dict[str, Any]:
    cap = row["cap"] or {}
    infos = cap.get("info") or []
    first = infos[0] if infos else {}
    return {
        "identifier": row["identifier"],
        "sender": row["sender"],
        "state": row["state"],
        "msgType": row["msg_type"],
        "origin": row["origin"],
        "incidentId": row["incident_id"],
        "hazard": row["hazard"],
        "level": row["level"],
        "auto": bool(row["auto"]),
        "districts": list(row["districts"] or []),
        "sent": row["sent"].isoformat() if row["sent"] else None,
        "headlines": {(i.get("language") or "").split("-")[0]: i.get("headline") for i in infos},
        "severity": first.get("severity"),
        "urgency": first.get("urgency"),
        "references": cap.get("references"),
        "createdAt": row["created_at"].isoformat(),
        "decidedBy": row["decided_by"],
    }


#: CAP <parameter> holding an operator's own cell-broadcast text for that <info>.
CB_TEXT = "SAFECITY_CB_TEXT"


def _edited_short(info: Any) -> str | None:
    return next((p.value for p in info.parameters if p.value_name == CB_TEXT and p.value), None)


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


def _category(severity: Any, urgency: Any, hazard: str) -> korea.KoreanCategory:
    """The emergency text category; 위급재난문자 is reserved for war, air raids and strong earthquakes
    (행정안전부 재난문자방송 기준), so the platform's own hazards go out at most as 긴급재난문자."""
    category = korea.category_for(severity, urgency)
    if category is korea.KoreanCategory.EMERGENCY and hazard not in ("earthquake", "air_raid"):
        return korea.KoreanCategory.URGENT
    return category


def _centre(incident: dict[str, Any]) -> tuple[float, float] | None:
    loc = incident.get("location")
    if isinstance(loc, dict) and loc.get("lon") is not None and loc.get("lat") is not None:
        return (float(loc["lon"]), float(loc["lat"]))
    return None


def _hazard_of(alert: Alert) -> str:
    for info in alert.infos:
        for p in info.parameters:
            if p.value_name == "SAFECITY_HAZARD":
                return p.value
    return "other"


def _cap_time(value: datetime | None) -> str:
    if value is None:
        return ""
    return value.astimezone(KST).replace(microsecond=0).isoformat()
