# SPDX-License-Identifier: Apache-2.0
"""Targeted warnings: one alert aimed at many small places at once (the underpasses and semi-basement
homes a flood forecast puts at risk), not at districts.

An incident's alert warns its districts or the circle around its site (:mod:`safecity.warning.planning`).
A forecast predicts risk at hundreds of scattered spots; warning their districts would send 안전안내문자 to
a whole 구 for a few streets, so :class:`TargetedAlerts` drafts one CAP alert whose ``<info>`` carries
several ``<area>`` blocks (one per district, each naming what is at risk there) and, in each, several
``<circle>``s (CAP 1.2 §3.2.4 allows any number of both). Whoever is inside any of the circles is in the
alert: delivery targets the union of the circles (:func:`safecity.warning.recipients.alert_area`), the
citizen page shows it for a place inside any of them, and nobody is reached by district code (a receiver
targeting by code would warn the whole district).

A caller names its warning's *thread* (e.g. ``"flood-forecast"``) and calls :meth:`TargetedAlerts.warn`
with what is at risk now, every time it knows more (each forecast run), and :meth:`TargetedAlerts.end`
when nothing is. The thread's messages follow CAP: an Alert, Updates referencing the message before, and
a Cancel. So that a citizen is not messaged every five minutes, an Update is drafted only when a spot at
risk lies outside the alert in force, or when the alert nears its ``<expires>`` (half its validity, as the
renewal of incident alerts); spots that dropped out stay covered until then (never a message saying
"less risk" while the risk lasts). Whether a message goes out without an operator follows the warning
policy of incident alerts: the configured automatic levels and hazards, never a text with a problem,
never an evacuation order unless enabled, an Update of an automatic thread automatically, a Cancel at once
when ``auto_lower`` (a stale alert must not wait).

An operator stays in charge: a draft they rejected is not drafted again while the spots at risk stay
within it (only a wider set or another level makes a new draft), and an alert they cancelled
(:meth:`TargetedAlerts.cancel`, ``POST /alerts/{id}/cancel``) is followed by drafts for an operator only,
never an automatic Alert, until an operator issues the thread's next Alert.

Circles are merged so that an alert has at most :data:`MAX_CIRCLES` (neighbouring spots' circles become
one circle enclosing them): cell-broadcast centres and CAP consumers choke on hundreds of shapes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely
from sqlalchemy import func, insert, select, update

from safecity.core.errors import BadRequest
from safecity.core.logging import get_logger
from safecity.situation.model import Crisis
from safecity.warning import bands, drafting
from safecity.warning import tables as t
from safecity.warning.cap.json import from_json
from safecity.warning.circles import MAX_CIRCLES, TargetSpot, merge_circles

__all__ = ["MAX_CIRCLES", "TargetArea", "TargetSpot", "TargetedAlerts", "TargetedWarning", "merge_circles"]
from safecity.warning.events import ALERT_DRAFTED
from safecity.warning.guides import guide_for
from safecity.warning.korea import KoreanCategory
from safecity.warning.reading import CATEGORY_PARAM, KST, cap_time, thread_of
from safecity.warning.recipients import alert_area

if TYPE_CHECKING:
    from safecity.warning.service import Warnings

log = get_logger(__name__)

#: CAP <parameter> naming the caller's thread of a targeted warning (e.g. "flood-forecast").
TARGETED_PARAM = "SAFECITY_TARGETED"
#: Languages every targeted warning must give its texts in (the platform's alerts are bilingual).
REQUIRED_LANGUAGES = ("ko", "en")
_THREAD_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,40}$")


@dataclass(frozen=True)
class TargetArea:
    """One CAP ``<area>``: what it names per language (``{"ko": ..., "en": ...}``) and its spots."""

    desc: Mapping[str, str]
    spots: tuple[TargetSpot, ...]
    district: str | None = None  # the 시군구 code it lies in (for the per-district feeds, never targeting)


@dataclass(frozen=True)
class TargetedWarning:
    """What a targeted warning says, per language (ko and en required; other languages fall back to en).

    ``stage`` leads the short text and must name the hazard ("호우 침수 예측"); ``place`` is where, as a
    short text says it ("지하차도 3곳·반지하 주택 240세대"); ``detail`` why (the forecast's figures);
    ``instruction`` what to do, most important line first (the short text keeps what fits, in order); the
    hazard's action guide follows it in the full text."""

    hazard: str
    level: Crisis
    areas: tuple[TargetArea, ...]
    stage: Mapping[str, str]
    place: Mapping[str, str]
    detail: Mapping[str, str]
    instruction: Mapping[str, tuple[str, ...]]
    #: CAP certainty: a forecast is "Likely", not "Observed"
    certainty: str = "Likely"
    web: str | None = None
    extra: Mapping[str, str] = field(default_factory=dict)  # more CAP parameters (valueName: value)

    def spots(self) -> list[TargetSpot]:
        return [s for a in self.areas for s in a.spots]

    def text(self, part: Mapping[str, Any], lang: str) -> Any:
        return part.get(lang) or part.get("en") or part.get("ko")


@dataclass(frozen=True)
class _InForce:
    """The latest issued message of a targeted thread (not a Cancel, not expired)."""

    identifier: str
    key: str  # the thread key (THREAD_PARAM)
    references: str
    hazard: str
    level: Crisis
    expires: datetime | None
    auto: bool
    cap: dict[str, Any]


class TargetedAlerts:
    """Targeted warnings of one platform (the warning capability builds it beside
    :class:`~safecity.warning.service.Warnings`, whose store, policy, wording and issuing it uses)."""

    def __init__(self, warnings: Warnings) -> None:
        self.w = warnings

    # -- the public operations -----------------------------------------------------------------------
    def warn(self, thread: str, warning: TargetedWarning, actor: str = "system") -> list[str]:
        """Bring the thread up to date with what is at risk now: draft (and, per policy, issue) an Alert
        when none is in force, an Update when a spot lies outside the alert in force or it nears its
        ``<expires>``; nothing otherwise. Returns the identifiers drafted or issued. Raises BadRequest
        naming the field for a bad thread name, a missing language or no spot at all."""
        _check(thread, warning)
        w = self.w
        with w._lock:
            now = w.clock.now()
            in_force = self.in_force(thread, now)
            pending = self._pending(thread)
            spots = warning.spots()
            if (
                in_force is not None
                and in_force.level == warning.level
                and not self._expiring(in_force, now)
                and _covers(in_force.cap, spots)
            ):
                self._supersede([p["id"] for p in pending], now)
                return []
            rejected = self._rejected_since(thread, now)
            if (
                rejected is not None
                and rejected["level"] == int(warning.level)
                and _covers(rejected["cap"], spots)
            ):
                self._supersede([p["id"] for p in pending], now)
                return []  # an operator said no to this: only a wider set or another level asks again
            kept = [
                p
                for p in pending
                if p["msg_type"] != "Cancel" and p["level"] == int(warning.level) and _covers(p["cap"], spots)
            ]
            if kept and (in_force is None or kept[0]["msg_type"] == "Update"):
                self._supersede([p["id"] for p in pending if p["id"] != kept[0]["id"]], now)
                return []  # the draft waiting for an operator already covers them
            self._supersede([p["id"] for p in pending], now)
            msg_type = "Alert" if in_force is None else "Update"
            ident = self._draft(thread, warning, msg_type, in_force, actor, now)
            return [self._maybe_issue(thread, ident, warning.hazard, warning.level, msg_type, in_force)]

    def end(self, thread: str, actor: str = "system") -> list[str]:
        """Nothing is at risk any more: cancel the alert in force (a Cancel to the same circles) and
        supersede drafts waiting for an operator. Returns the identifiers drafted or issued."""
        if not _THREAD_NAME.match(thread):
            raise BadRequest(f"thread {thread!r}: lower-case letters, digits and '-'", where="thread")
        w = self.w
        with w._lock:
            now = w.clock.now()
            pending = self._pending(thread)
            self._supersede([p["id"] for p in pending if p["msg_type"] != "Cancel"], now)
            in_force = self.in_force(thread, now)
            if in_force is None or any(p["msg_type"] == "Cancel" for p in pending):
                return []
            ident = self._draft_cancel(thread, in_force, actor, now)
            return [self._maybe_issue(thread, ident, in_force.hazard, in_force.level, "Cancel", in_force)]

    def in_force(self, thread: str, now: datetime | None = None) -> _InForce | None:
        """The thread's alert in force: its latest issued message, unless a Cancel or expired."""
        now = now or self.w.clock.now()
        r = self._latest_issued(thread)
        if r is None or r["msg_type"] == "Cancel" or (r["expires"] is not None and r["expires"] <= now):
            return None
        return _InForce(
            identifier=r["identifier"],
            key=thread_of(r),
            references=f"{r['sender']},{r['identifier']},{cap_time(r['sent'])}",
            hazard=r["hazard"] or "other",
            level=Crisis(int(r["level"] or 0)),
            expires=r["expires"],
            auto=bool(r["auto"]),
            cap=dict(r["cap"]),
        )

    def owns(self, identifier: str) -> str | None:
        """The targeted thread an alert belongs to, None when it is not a targeted alert."""
        with self.w.store.engine.connect() as conn:
            cap = conn.execute(select(t.alerts.c.cap).where(t.alerts.c.identifier == identifier)).scalar()
        return _thread_name(cap) if cap is not None else None

    def cancel(self, identifier: str, actor: str, reason: str) -> str:
        """An operator withdraws the targeted alert in force (``identifier`` must be it): a Cancel to its
        circles with the reason as its <note>, issued at once; the next forecasts then only draft for an
        operator (until one issues the thread's next Alert). Returns the Cancel's identifier; BadRequest/Conflict name what
        stands in the way."""
        from safecity.core.errors import Conflict

        if not reason.strip():
            raise BadRequest("say why the alert is cancelled", where="reason")
        thread = self.owns(identifier)
        if thread is None:
            raise Conflict(f"alert {identifier} is not a targeted alert", where="identifier")
        w = self.w
        with w._lock:
            now = w.clock.now()
            in_force = self.in_force(thread, now)
            if in_force is None or in_force.identifier != identifier:
                latest = in_force.identifier if in_force is not None else "none"
                raise Conflict(
                    f"alert {identifier} is not the targeted alert in force (that is {latest})",
                    where="identifier",
                )
            self._supersede([p["id"] for p in self._pending(thread)], now)
            ident = self._draft_cancel(thread, in_force, actor, now, note=reason.strip())
            w.issue(ident, actor)
            return ident

    def _rejected_since(self, thread: str, now: datetime) -> Any | None:
        """The thread's latest rejected draft, if it came after the thread's latest issued message and
        within the hazard's alert validity (an old "no" does not silence a new storm)."""
        with self.w.store.engine.connect() as conn:
            rows = (
                conn.execute(
                    select(t.alerts)
                    .where(
                        t.alerts.c.state.in_(("rejected", "issued")),
                        t.alerts.c.origin == "platform",
                        t.alerts.c.incident_id.is_(None),
                    )
                    .order_by(t.alerts.c.id.desc())
                    .limit(200)
                )
                .mappings()
                .all()
            )
        latest = next((r for r in rows if _thread_name(r["cap"]) == thread), None)
        if latest is None or latest["state"] != "rejected" or latest["msg_type"] == "Cancel":
            return None
        valid = self.w.policy.of(latest["hazard"] or "other").expires_after
        decided = latest["decided_at"] or latest["updated_at"]
        return latest if decided is not None and now - decided < valid else None

    def _operator_cancelled(self, thread: str) -> bool:
        """Whether the thread's latest issued message is a Cancel an operator issued (not the platform)."""
        r = self._latest_issued(thread)
        return r is not None and r["msg_type"] == "Cancel" and r["decided_by"] != "system"

    # -- helpers ---------------------------------------------------------------------------------------
    def _latest_issued(self, thread: str) -> Any:
        """The row of the thread's latest issued message (None: it has none among the newest 200 issued
        messages without an incident, the targeted ones)."""
        with self.w.store.engine.connect() as conn:
            rows = (
                conn.execute(
                    select(t.alerts)
                    .where(
                        t.alerts.c.state == "issued",
                        t.alerts.c.origin == "platform",
                        t.alerts.c.incident_id.is_(None),
                    )
                    .order_by(t.alerts.c.sent.desc(), t.alerts.c.id.desc())
                    .limit(200)
                )
                .mappings()
                .all()
            )
        return next((r for r in rows if _thread_name(r["cap"]) == thread), None)

    def _pending(self, thread: str) -> list[Any]:
        with self.w.store.engine.connect() as conn:
            rows = (
                conn.execute(
                    select(t.alerts)
                    .where(t.alerts.c.state == "draft", t.alerts.c.incident_id.is_(None))
                    .order_by(t.alerts.c.id.desc())
                )
                .mappings()
                .all()
            )
        return [r for r in rows if _thread_name(r["cap"]) == thread]

    def _supersede(self, ids: Sequence[int], now: datetime) -> None:
        if not ids:
            return
        with self.w.store.write() as conn:
            conn.execute(
                update(t.alerts)
                .where(t.alerts.c.id.in_(list(ids)))
                .values(state="superseded", updated_at=now)
            )

    def _expiring(self, in_force: _InForce, now: datetime) -> bool:
        valid = self.w.policy.of(in_force.hazard).expires_after
        return in_force.expires is not None and in_force.expires - now < valid / 2

    def _maybe_issue(
        self, thread: str, ident: str, hazard: str, level: Crisis, msg_type: str, in_force: _InForce | None
    ) -> str:
        """Issue at once what the policy makes automatic (see the module doc); else leave the draft."""
        w = self.w
        if msg_type == "Cancel":
            automatic = w.auto_lower
        else:
            with w.store.engine.connect() as conn:
                cap = conn.execute(select(t.alerts.c.cap).where(t.alerts.c.identifier == ident)).scalar_one()
            response = drafting.response_for(hazard, level)
            if w.text_check(dict(cap)).problems or (response == "Evacuate" and not w.auto_evacuate):
                automatic = False
            elif in_force is not None and in_force.auto:
                automatic = True
            elif in_force is None and self._operator_cancelled(thread):
                automatic = False  # an operator withdrew the last one: they decide on the next
            else:
                automatic = int(level) in w.auto_levels or hazard in w.auto_hazards
        if automatic:
            w.issue(ident, "system", auto=True)
        return ident

    def _insert(
        self,
        thread: str,
        msg_type: str,
        hazard: str,
        level: Crisis,
        districts: Sequence[str],
        build: Any,
        actor: str,
        now: datetime,
    ) -> str:
        w = self.w
        with w.store.write() as conn:
            n = int(conn.execute(select(func.count()).select_from(t.alerts)).scalar_one()) + 1
            ident = f"{w.sender.split('@')[0]}-{now.astimezone(KST):%Y%m%dT%H%M%S}-{thread}-{n}"
            cap = build(ident)
            from_json(cap)  # a valid CAP alert already as a draft (raises naming the element)
            alert_id = conn.execute(
                insert(t.alerts)
                .values(
                    identifier=ident,
                    sender=w.sender,
                    state="draft",
                    msg_type=msg_type,
                    origin="platform",
                    incident_id=None,
                    hazard=hazard,
                    level=int(level),
                    auto=False,
                    cap=cap,
                    districts=sorted(set(districts)),
                    created_at=now,
                    updated_at=now,
                    created_by=actor,
                )
                .returning(t.alerts.c.id)
            ).scalar_one()
            w._log(conn, alert_id, now, actor, "drafted", {"msgType": msg_type, "targeted": thread})
            w.bus.publish(
                conn,
                ALERT_DRAFTED,
                {"identifier": ident, "incidentId": None, "msgType": msg_type, "level": int(level)},
            )
        w.bus.notify()
        log.info("targeted alert drafted", identifier=ident, thread=thread, msg_type=msg_type)
        return ident

    def _draft(
        self,
        thread: str,
        warning: TargetedWarning,
        msg_type: str,
        in_force: _InForce | None,
        actor: str,
        now: datetime,
    ) -> str:
        w = self.w
        response = drafting.response_for(warning.hazard, warning.level)
        category = w.policy.category(warning.hazard, warning.level, response)
        merged = _merged_areas(warning.areas)
        districts = [a.district for a in warning.areas if a.district]

        def build(ident: str) -> dict[str, Any]:
            key = in_force.key if in_force is not None else ident
            infos = [
                self._info(warning, lang, merged, response, category, key, thread, now) for lang in w.wordings
            ]
            cap = _envelope(w.sender, ident, now, msg_type, infos)
            if in_force is not None:
                cap["references"] = in_force.references
            return cap

        return self._insert(thread, msg_type, warning.hazard, warning.level, districts, build, actor, now)

    def _info(
        self,
        tw: TargetedWarning,
        lang: str,
        areas: Sequence[tuple[TargetArea, list[TargetSpot]]],
        response: str,
        category: KoreanCategory,
        key: str,
        thread: str,
        now: datetime,
    ) -> dict[str, Any]:
        words = self.w.wordings[lang]
        urgency, severity, _ = drafting.LEVEL_CAP.get(tw.level, ("Unknown", "Unknown", "Unknown"))
        hazard = words.hazard(tw.hazard)
        stage, place, detail = tw.text(tw.stage, lang), tw.text(tw.place, lang), tw.text(tw.detail, lang)
        level = words.levels.get(tw.level.name, tw.level.name)
        fields = {"places": place, "stage": stage, "hazard": hazard, "level": level, "detail": detail}
        phase = self.w.policy.of(tw.hazard).guide_phase
        guide = guide_for(tw.hazard, "general", lang, self.w.guides_dir)
        lines = [*tw.text(tw.instruction, lang), *guide.active_lines(phase)]
        expires = now + self.w.policy.of(tw.hazard).expires_after
        info: dict[str, Any] = {
            "language": words.language,
            "category": [drafting.CATEGORY.get(tw.hazard, "Other")],
            "event": hazard[:1].upper() + hazard[1:],
            "responseType": [response],
            "urgency": urgency,
            "severity": severity,
            "certainty": tw.certainty,
            "expires": cap_time(expires),
            "senderName": words.sender_name,
            "headline": words.headline.format(**fields, action=words.actions[response]),
            # the warning's own actions also close its description: pages that show the description and
            # the hazard's general guide (the citizen page) would otherwise never show them
            "description": " ".join(
                [words.description.format(**fields).strip(), *tw.text(tw.instruction, lang)]
            ),
            "instruction": "\n".join(dict.fromkeys(lines)),
            "parameter": [
                {"valueName": "SAFECITY_HAZARD", "value": tw.hazard},
                {"valueName": "SAFECITY_CRISIS_LEVEL", "value": tw.level.name},
                {"valueName": "SAFECITY_STAGE", "value": stage},
                {"valueName": "SAFECITY_PLACE", "value": place},
                {"valueName": bands.THREAD_PARAM, "value": key},
                {"valueName": TARGETED_PARAM, "value": thread},
                {"valueName": CATEGORY_PARAM, "value": category.value},
                *({"valueName": k, "value": v} for k, v in tw.extra.items()),
            ],
            "area": [
                {
                    "areaDesc": tw.text(a.desc, lang),
                    "circle": [f"{s.lat:.5f},{s.lon:.5f} {s.radius_km:g}" for s in circles],
                }
                for a, circles in areas
            ],
        }
        if tw.web:
            info["web"] = tw.web
        return info

    def _draft_cancel(
        self, thread: str, in_force: _InForce, actor: str, now: datetime, note: str | None = None
    ) -> str:
        w = self.w
        before = {(i.get("language") or "ko").split("-")[0]: i for i in in_force.cap.get("info") or []}
        first: dict[str, Any] = next(iter(before.values()), {})

        def build(ident: str) -> dict[str, Any]:
            infos = []
            for lang, words in w.wordings.items():
                old = before.get(lang) or before.get("en") or first
                params = {p["valueName"]: p["value"] for p in old.get("parameter") or []}
                fields = {
                    "places": params.get("SAFECITY_PLACE", ""),
                    "stage": params.get("SAFECITY_STAGE", ""),
                    "hazard": words.hazard(in_force.hazard),
                }
                infos.append(
                    {
                        "language": words.language,
                        "category": old.get("category") or ["Other"],
                        "event": old.get("event") or fields["hazard"],
                        "responseType": ["AllClear"],
                        "urgency": "Past",
                        "severity": "Minor",
                        "certainty": "Observed",
                        "senderName": words.sender_name,
                        "headline": words.cancel_headline.format(**fields),
                        "description": words.cancel_description.format(**fields),
                        "instruction": words.cancel_instruction,
                        "parameter": [
                            *(
                                {"valueName": k, "value": v}
                                for k, v in params.items()
                                if k not in (CATEGORY_PARAM,)
                            ),
                            {"valueName": CATEGORY_PARAM, "value": KoreanCategory.SAFETY.value},
                        ],
                        "area": old.get("area") or [],
                    }
                )
            cap = _envelope(w.sender, ident, now, "Cancel", infos)
            cap["references"] = in_force.references
            if note:
                cap["note"] = note
            return cap

        with w.store.engine.connect() as conn:
            districts = conn.execute(
                select(t.alerts.c.districts).where(t.alerts.c.identifier == in_force.identifier)
            ).scalar_one()
        return self._insert(
            thread, "Cancel", in_force.hazard, in_force.level, districts or [], build, actor, now
        )


def _envelope(sender: str, ident: str, now: datetime, msg_type: str, infos: list[Any]) -> dict[str, Any]:
    return {
        "identifier": ident,
        "sender": sender,
        "sent": cap_time(now),
        "status": "Actual",
        "msgType": msg_type,
        "scope": "Public",
        "info": infos,
    }


def _merged_areas(areas: Sequence[TargetArea]) -> list[tuple[TargetArea, list[TargetSpot]]]:
    """Each area with its spots' circles merged, the budget of :data:`MAX_CIRCLES` shared among the
    areas in proportion to their spots (at least one circle each)."""
    total = sum(len(a.spots) for a in areas)
    out = []
    for a in areas:
        budget = max(1, (MAX_CIRCLES * len(a.spots)) // max(1, total))
        out.append((a, merge_circles(a.spots, budget)))
    return out


def _thread_name(cap: Mapping[str, Any] | None) -> str | None:
    for info in (cap or {}).get("info") or []:
        for p in info.get("parameter") or []:
            if p.get("valueName") == TARGETED_PARAM:
                return str(p.get("value"))
    return None


def _covers(cap: Mapping[str, Any], spots: Sequence[TargetSpot]) -> bool:
    """Whether the alert's circles cover every spot's centre."""
    area = alert_area(from_json(dict(cap)))
    if area is None:
        return False
    return bool(np.all(shapely.covers(area, shapely.points([s.lon for s in spots], [s.lat for s in spots]))))


def _check(thread: str, w: TargetedWarning) -> None:
    if not _THREAD_NAME.match(thread):
        raise BadRequest(f"thread {thread!r}: lower-case letters, digits and '-'", where="thread")
    if not w.areas or not any(a.spots for a in w.areas):
        raise BadRequest("a targeted warning needs at least one spot (else end the thread)", where="areas")
    for name, part in (
        ("stage", w.stage),
        ("place", w.place),
        ("detail", w.detail),
        ("instruction", w.instruction),
    ):
        for lang in REQUIRED_LANGUAGES:
            if not part.get(lang):
                raise BadRequest(
                    f"{name}.{lang}: required (the platform's alerts are bilingual)", where=f"{name}.{lang}"
                )
    for i, a in enumerate(w.areas):
        for lang in REQUIRED_LANGUAGES:
            if not a.desc.get(lang):
                raise BadRequest(f"areas[{i}].desc.{lang}: required", where=f"areas[{i}].desc.{lang}")
        for j, s in enumerate(a.spots):
            if not (-180 <= s.lon <= 180 and -90 <= s.lat <= 90) or not 0 < s.radius_km <= 50:
                raise BadRequest(
                    f"areas[{i}].spots[{j}]: lon/lat in degrees and 0 < radius ≤ 50 km",
                    where=f"areas[{i}].spots[{j}]",
                )
