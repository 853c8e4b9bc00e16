# SPDX-License-Identifier: Apache-2.0
"""Planning an incident's alerts: from the incident's areas and their own levels to the drafts (one
alert thread per level band, :mod:`safecity.warning.bands`), their CAP content, which of them go out
without an operator, and the renewal of alerts whose ``<expires>`` nears. A base of
:class:`~safecity.warning.service.Warnings`, which holds the state these methods use."""

from __future__ import annotations

import builtins
import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Connection

from safecity.bus import Bus
from safecity.core.clock import Clock
from safecity.core.logging import get_logger
from safecity.evacuation.shelters import suitable_shelters
from safecity.geo import areas as geo_areas
from safecity.situation.incidents import Incidents
from safecity.situation.model import Crisis
from safecity.store import Store
from safecity.warning import bands, drafting
from safecity.warning import tables as t
from safecity.warning.cap.json import from_json
from safecity.warning.events import ALERT_DRAFTED
from safecity.warning.guides import guide_for
from safecity.warning.incident_view import IncidentView, view_of
from safecity.warning.korea import KoreanCategory
from safecity.warning.model import AlertDetail, TextCheck
from safecity.warning.policy import Policy
from safecity.warning.reading import CATEGORY_PARAM, EVACUATION_HAZARD, KST, cap_time, thread_of
from safecity.warning.wording import Wording

log = get_logger(__name__)


class AlertPlanner:
    store: Store
    bus: Bus
    clock: Clock
    incidents: Incidents
    sender: str
    public_url: str | None
    auto_levels: set[int]
    auto_hazards: set[str]
    auto_lower: bool
    wordings: dict[str, Wording]
    guides_dir: Path | None
    policy: Policy
    _lock: threading.RLock
    issue: Callable[..., AlertDetail]
    get: Callable[[str], AlertDetail]
    _log: Callable[[Connection, int, datetime, str, str, dict[str, Any]], None]
    auto_evacuate: bool
    text_check: Callable[[dict[str, Any]], TextCheck]
    _total: int | None = None  # the city's districts, counted once

    def renew(self, now: datetime | None = None) -> builtins.list[AlertDetail]:
        """Re-plan the incidents that have an alert in force within half its validity of ``<expires>``:
        an alert whose condition lasts is renewed (an Update), one whose incident ended is cancelled."""
        now = now or self.clock.now()
        longest = max(p.expires_after for p in self.policy.hazards.values())
        with self.store.engine.connect() as conn:
            rows = conn.execute(
                select(t.alerts.c.incident_id, t.alerts.c.hazard, t.alerts.c.expires).where(
                    t.alerts.c.state == "issued",
                    t.alerts.c.origin == "platform",
                    t.alerts.c.msg_type != "Cancel",
                    t.alerts.c.incident_id.is_not(None),
                    t.alerts.c.expires.is_not(None),
                    t.alerts.c.expires < now + longest,
                    t.alerts.c.expires > now - 2 * longest,
                )
            ).all()
        due = sorted(
            {
                int(r.incident_id)
                for r in rows
                if r.expires - now < self.policy.of(r.hazard or "other").expires_after / 2
            }
        )
        out = []
        for incident_id in due:
            try:
                out += self.plan_for(incident_id)
            except Exception:  # one incident's renewal must not stop the others
                log.exception("could not renew the alerts", incident=incident_id)
        return out

    def draft_for(self, incident_id: int, actor: str = "system") -> AlertDetail | None:
        """Re-plan the incident's alerts (one thread per level band, see :mod:`safecity.warning.bands`):
        draft the Alerts, Updates and Cancels that make the alerts in force match each area's own level,
        replacing older drafts that no longer fit; issue at once the ones that are automatic. Returns the
        first alert drafted or issued (the highest band), None when nothing needs saying; every one is in
        :meth:`plan_for`'s answer."""
        done = self.plan_for(incident_id, actor)
        return done[0] if done else None

    def plan_for(self, incident_id: int, actor: str = "system") -> builtins.list[AlertDetail]:
        with self._lock:
            view = view_of(self.incidents.get(incident_id))
            now = self.clock.now()
            with self.store.engine.connect() as conn:
                threads, expiring = self._threads(conn, incident_id, now)
                pending = (
                    conn.execute(
                        select(t.alerts).where(
                            t.alerts.c.incident_id == incident_id, t.alerts.c.state == "draft"
                        )
                    )
                    .mappings()
                    .all()
                )
            levels = {} if view.closed else self._levels(view)
            steps = bands.plan(levels, threads, renew=expiring)
            wanted = {s.key: s for s in steps}
            kept = {_draft_key(p): p for p in pending if _draft_key(p) in wanted}
            stale = [p["id"] for p in pending if _draft_key(p) not in kept]
            if stale:
                with self.store.write() as conn:
                    conn.execute(
                        update(t.alerts)
                        .where(t.alerts.c.id.in_(stale))
                        .values(state="superseded", updated_at=now)
                    )
            out = []
            for step in steps:
                if step.key in kept:
                    continue  # the draft waiting for approval already says this
                ident = self._draft(view, step, actor, now)
                if self._automatic(view, step, ident):
                    out.append(self.issue(ident, "system", auto=True))
                else:
                    out.append(self.get(ident))
            return out

    def _radius(self, view: IncidentView) -> float | None:
        """The circle of a point incident's alert: the cordon situation drew, else the hazard's default
        (policy.toml); None for an incident that is not a point hazard (it warns its areas)."""
        if view.site is None:
            return None
        return view.site.radius_km or self.policy.of(view.hazard).radius_km

    def _levels(self, view: IncidentView) -> dict[str, Crisis]:
        """Each area's level; a point incident's circle is one area at the incident's level (its alert
        names the districts the circle lies in but targets the circle only)."""
        if self._radius(view) is not None:
            codes = [a.code for a in view.areas] or ["site"]
            return dict.fromkeys(codes, view.level)
        return view.levels()

    def _districts_total(self) -> int:
        if self._total is None:
            with self.store.engine.connect() as conn:
                self._total = len({a.code for a in geo_areas.areas_of(conn, "district")})
        return self._total

    def _threads(
        self, conn: Connection, incident_id: int, now: datetime
    ) -> tuple[builtins.list[bands.Thread], set[str]]:
        """The incident's alert threads in force (latest issued message not a Cancel), and the keys of
        those whose ``<expires>`` is less than half its validity away (to be renewed)."""
        rows = (
            conn.execute(
                select(t.alerts)
                .where(t.alerts.c.incident_id == incident_id, t.alerts.c.state == "issued")
                .order_by(t.alerts.c.sent, t.alerts.c.id)
            )
            .mappings()
            .all()
        )
        latest: dict[str, Any] = {}
        for r in rows:
            latest[thread_of(r)] = r
        threads, expiring = [], set()
        for key, r in latest.items():
            if r["msg_type"] == "Cancel":
                continue
            threads.append(
                bands.Thread(
                    key,
                    r["identifier"],
                    f"{r['sender']},{r['identifier']},{cap_time(r['sent'])}",
                    Crisis(int(r["level"] or 0)),
                    frozenset(r["districts"] or []),
                    bool(r["auto"]),
                )
            )
            valid = self.policy.of(r["hazard"] or "other").expires_after
            if r["expires"] is not None and r["expires"] - now < valid / 2:
                expiring.add(key)
        return threads, expiring

    def _automatic(self, view: IncidentView, step: bands.Step, ident: str) -> bool:
        """Whether the step is issued without an operator. What only lowers or ends alerts in force
        follows the levels at once (``auto_lower``; a stale alert must not wait), except when an operator
        closed the incident (the operator then approves the Cancel). Otherwise: never a text with a
        problem (missing hazard or action, over its limit: the operator must see it); never an evacuation
        order unless the city enabled it (the district head's decision); what an automatic alert started
        is kept up to date automatically; else the configured levels and hazards."""
        if step.lowering and self.auto_lower and not view.closed:
            return True
        if self.text_check(self.get(ident).cap).problems:
            return False
        response = drafting.response_for(view.hazard, step.level)
        if step.msg_type != "Cancel" and response == "Evacuate" and not self.auto_evacuate:
            return False
        if step.thread is not None and step.thread.auto and step.msg_type != "Alert":
            return True
        return int(step.level) in self.auto_levels or view.hazard in self.auto_hazards

    def _draft(
        self, view: IncidentView, step: bands.Step, actor: str, now: datetime, note: str | None = None
    ) -> str:
        """Insert the draft of one step (replacing nothing: the caller superseded what no longer fits)."""
        facts = self._facts(view, step)
        with self.store.write() as conn:
            n = int(conn.execute(select(func.count()).select_from(t.alerts)).scalar_one()) + 1
            ident = drafting.identifier(self.sender.split("@")[0], view.id, now.astimezone(KST), n)
            thread = step.thread.key if step.thread is not None else ident
            cap = self._cap(facts, ident, now, step.msg_type, step.thread, thread, step.lowered)
            if note:
                cap["note"] = note
            from_json(cap)  # the draft must already be a valid CAP alert (raises naming the element)
            alert_id = conn.execute(
                insert(t.alerts)
                .values(
                    identifier=ident,
                    sender=self.sender,
                    state="draft",
                    msg_type=step.msg_type,
                    origin="platform",
                    incident_id=view.id,
                    hazard=view.hazard,
                    level=int(step.level),
                    auto=False,
                    cap=cap,
                    districts=list(step.codes),
                    created_at=now,
                    updated_at=now,
                    created_by=actor,
                )
                .returning(t.alerts.c.id)
            ).scalar_one()
            detail = {"msgType": step.msg_type, "level": int(step.level), "thread": thread}
            self._log(conn, alert_id, now, actor, "drafted", detail)
            self.bus.publish(
                conn,
                ALERT_DRAFTED,
                {
                    "identifier": ident,
                    "incidentId": view.id,
                    "msgType": step.msg_type,
                    "level": int(step.level),
                },
            )
        self.bus.notify()
        return ident

    def _facts(self, view: IncidentView, step: bands.Step) -> drafting.IncidentFacts:
        places = []
        by_code = {a.code: a for a in view.areas}
        with self.store.engine.connect() as conn:
            for code in step.codes:
                a = by_code.get(code)
                ref = geo_areas.area_by_code(conn, code, kind="dong" if len(code) == 10 else "district")
                geom = geo_areas.geometry_of(conn, ref.id) if ref is not None else None
                name_ko = a.name_ko if a else ((ref.name_ko if ref is not None else None) or code)
                name_en = a.name_en if a else ((ref.name_en if ref is not None else None) or name_ko)
                places.append(drafting.Place(code, name_ko, name_en, geom))
        stage_ko, stage_en = view.stage_for(step.level, frozenset(step.codes))
        detail_ko, detail_en = view.detail_for(step.level)
        site = view.site
        return drafting.IncidentFacts(
            incident_id=view.id,
            hazard=view.hazard,
            level=step.level,
            status=view.status,
            stage_ko=stage_ko or view.title_ko,
            stage_en=stage_en or view.title_en,
            places=places,
            detail_ko=detail_ko,
            detail_en=detail_en,
            centre=(site.lon, site.lat) if site is not None else None,
            radius_km=self._radius(view),
            site_ko=site.name_ko if site is not None else "",
            site_en=site.name_en if site is not None else "",
            districts_total=self._districts_total(),
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
        previous: bands.Thread | None,
        thread: str,
        lowered: bool = False,
    ) -> dict[str, Any]:
        infos = []
        shelters = self._shelters(facts, now) if msg_type != "Cancel" else []
        web = f"{self.public_url}/alerts/{ident}.xml" if self.public_url else None
        expires = cap_time(now + self.policy.of(facts.hazard).expires_after)
        phase = self.policy.of(facts.hazard).guide_phase
        category = (
            KoreanCategory.SAFETY  # an all-clear or a lowering rings no alarm
            if msg_type == "Cancel"
            else self.policy.category(
                facts.hazard, facts.level, drafting.response_for(facts.hazard, facts.level)
            )
        )
        for lang, words in self.wordings.items():
            guide = guide_for(facts.hazard, "general", lang, self.guides_dir)
            names = [s.name_ko if words.place_names == "ko" else (s.name_en or s.name_ko) for s in shelters]
            info = drafting.draft_info(facts, words, guide.active_lines(phase), web, msg_type, names, lowered)
            info["expires"] = expires
            info["parameter"].append({"valueName": bands.THREAD_PARAM, "value": thread})
            info["parameter"].append({"valueName": CATEGORY_PARAM, "value": category.value})
            infos.append(info)
        cap: dict[str, Any] = {
            "identifier": ident,
            "sender": self.sender,
            "sent": cap_time(now),
            "status": "Actual",
            "msgType": msg_type,
            "scope": "Public",
            "info": infos,
        }
        if msg_type != "Alert" and previous is not None:
            cap["references"] = previous.references
        return cap


def _draft_key(row: Any) -> tuple[str, int, tuple[str, ...], str]:
    """What a pending draft says, comparable to :attr:`bands.Step.key`."""
    refs = str((row["cap"] or {}).get("references") or "")
    previous = refs.split(",")[1] if refs.count(",") >= 2 else ""
    return (row["msg_type"], int(row["level"] or 0), tuple(sorted(row["districts"] or [])), previous)
