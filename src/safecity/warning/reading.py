# SPDX-License-Identifier: Apache-2.0
"""Reading alerts: one alert with its log and short texts, the lists the board shows, the warnings in
force for a place (the citizen page), and the CAP renditions. A base of :class:`~safecity.warning.service.
Warnings`, which holds the state these methods read."""

from __future__ import annotations

import builtins
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import shapely
from sqlalchemy import select
from sqlalchemy.engine import Connection

from safecity.core.clock import Clock
from safecity.core.errors import NotFound
from safecity.evacuation.zones import Hazard
from safecity.geo import areas as geo_areas
from safecity.situation.model import Crisis
from safecity.store import Store
from safecity.warning import bands, korea, texts
from safecity.warning import tables as t
from safecity.warning.cap.json import from_json
from safecity.warning.cap.model import Alert, Info
from safecity.warning.cap.xml import to_xml
from safecity.warning.guides import guide_for
from safecity.warning.model import (
    AlertDetail,
    AlertLogEntry,
    AlertSummary,
    GuideText,
    ShortText,
    TextCheck,
    WarningInForce,
)
from safecity.warning.policy import Policy
from safecity.warning.wording import Wording

KST = timezone(timedelta(hours=9))


def shelter_hazard(hazard: str | None) -> str | None:
    """The evacuation capability's hazard a situation hazard's shelters must be safe from (its value)."""
    found = EVACUATION_HAZARD.get(hazard or "")
    return None if found is None else found.value


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


#: CAP <parameter> holding the 재난문자 category an alert was drafted for (policy.toml).
CATEGORY_PARAM = "SAFECITY_KR_CATEGORY"
#: Audiences an action guide is written for (see warning/guides/).
AUDIENCES = ("general", "elderly", "children_parents", "disability", "foreigner")


class AlertReader:
    store: Store
    clock: Clock
    guides_dir: Path | None
    wordings: dict[str, Wording]
    policy: Policy
    limits: texts.Limits
    short_sender: dict[str, str]

    def _row(self, conn: Connection, identifier: str) -> Any:
        row = conn.execute(select(t.alerts).where(t.alerts.c.identifier == identifier)).mappings().first()
        if row is None:
            raise NotFound(f"no alert {identifier!r}", where="identifier")
        return row

    def get(self, identifier: str) -> AlertDetail:
        with self.store.engine.connect() as conn:
            row = self._row(conn, identifier)
            log_rows = (
                conn.execute(
                    select(t.alert_log).where(t.alert_log.c.alert_id == row["id"]).order_by(t.alert_log.c.id)
                )
                .mappings()
                .all()
            )
        shorts = self.short_texts(row["cap"])
        return AlertDetail.of_row(
            row,
            short_texts=shorts,
            cb_max_chars=self.limits.urgent,
            # problems block automatic issue; disagreements between languages are warnings
            check=self.check_texts(row["cap"], shorts),
            log=tuple(AlertLogEntry(r["at"], r["actor"], r["action"], r["detail"]) for r in log_rows),
        )

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
    ) -> list[AlertSummary]:
        """The newest alerts first, at most ``limit``; ``district`` keeps those naming it (a dong's code
        also keeps its district's alerts)."""
        q = select(t.alerts).order_by(t.alerts.c.id.desc()).limit(limit)
        if state:
            q = q.where(t.alerts.c.state == state)
        if origin:
            q = q.where(t.alerts.c.origin == origin)
        with self.store.engine.connect() as conn:
            rows = conn.execute(q).mappings().all()
        out = [AlertSummary.of(r) for r in rows]
        if district:
            # a dong's feed has its district's alerts too (MOIS codes nest: the dong's first 5 digits)
            wanted = {district, district[:5]} if len(district) == 10 else {district}
            out = [a for a in out if wanted & set(a.districts)]
        return out

    def current(
        self,
        *,
        lon: float | None = None,
        lat: float | None = None,
        district: str | None = None,
        lang: str = "ko",
        audience: str = "general",
    ) -> builtins.list[WarningInForce]:
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
                for kind in ("district", "dong"):
                    found = geo_areas.area_at(conn, lon, lat, kind)
                    if found is not None:
                        codes.add(found.code)
            if district:
                codes.add(district)
                if len(district) == 10:
                    codes.add(district[:5])  # a dong is in its district's alerts (MOIS codes nest)
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
            latest.setdefault(thread_of(r), r)  # one thread per level band of an incident
        out = []
        for r in latest.values():
            if r["msg_type"] == "Cancel" or (r["expires"] is not None and r["expires"] <= now):
                continue
            alert = from_json(r["cap"])
            inside = not is_point(alert) and bool(codes & set(r["districts"] or []))
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
            guide = guide_for(r["hazard"] or hazard_of(alert), profile, used, self.guides_dir)
            category = category_of(info, self.policy)
            out.append(
                WarningInForce(
                    identifier=r["identifier"],
                    msg_type=r["msg_type"],
                    sent=r["sent"],
                    hazard=r["hazard"],
                    shelter_hazard=shelter_hazard(r["hazard"]),
                    level=r["level"],
                    language=info.language,
                    category=category.name_ko if used == "ko" else category.name_en,
                    severity=info.severity.value,
                    urgency=info.urgency.value,
                    headline=info.headline,
                    description=info.description,
                    instruction=info.instruction,
                    area_desc=", ".join(a.area_desc for a in info.areas),
                    districts=tuple(r["districts"] or ()),
                    guide=GuideText(
                        title=guide.title,
                        lines=tuple(guide.active_lines(self.policy.of(r["hazard"] or "other").guide_phase)),
                        audience=guide.audience,
                    ),
                    cap=f"/alerts/{r['identifier']}.xml",
                )
            )
        return out

    def short_texts(self, cap: dict[str, Any]) -> dict[str, ShortText]:
        """Per language, the short text (재난문자/cell broadcast/SMS) the alert would go out with (the
        operator's edit, else :func:`safecity.warning.texts.compose`), its length, its category's limit
        and its problems (:func:`safecity.warning.texts.problems`)."""
        alert = from_json(cap)
        out = {}
        for info in alert.infos:
            lang = (info.language or "ko").split("-")[0]
            words = self.wordings.get(lang) or self.wordings["ko"]
            category = category_of(info, self.policy)
            limit = self.limits.of(category)
            edited = edited_short(info)
            text = edited or texts.compose(
                info, words, category, limit, self.policy, self.short_sender.get(lang, "")
            )
            out[lang] = ShortText(
                text=text,
                chars=len(text),
                max=limit,
                category=category.value,
                edited=edited is not None,
                problems=tuple(texts.problems(text, texts.essentials(info, words), limit)),
            )
        return out

    def text_check(self, cap: dict[str, Any]) -> TextCheck:
        """What the operator must see before issuing: every short text's problems (they block automatic
        issue) and where the languages disagree (warnings)."""
        return self.check_texts(cap, self.short_texts(cap))

    def check_texts(self, cap: dict[str, Any], shorts: dict[str, ShortText]) -> TextCheck:
        """:meth:`text_check` with the :meth:`short_texts` of ``cap`` already at hand."""
        alert = from_json(cap)
        ess = {}
        for info in alert.infos:
            lang = (info.language or "ko").split("-")[0]
            ess[lang] = texts.essentials(info, self.wordings.get(lang) or self.wordings["ko"])
        return TextCheck(
            problems=tuple(f"{lang}: {p}" for lang, s in shorts.items() for p in s.problems),
            disagreements=tuple(texts.disagreements({k: v.text for k, v in shorts.items()}, ess)),
        )


#: CAP <parameter> holding an operator's own cell-broadcast text for that <info>.
CB_TEXT = "SAFECITY_CB_TEXT"


def edited_short(info: Any) -> str | None:
    return next((p.value for p in info.parameters if p.value_name == CB_TEXT and p.value), None)


def category_of(info: Info, policy: Policy) -> korea.KoreanCategory:
    """The 재난문자 category of a platform alert's <info>: the one drafted with it (policy.toml), else
    (an alert drafted before categories were stored) the policy's for its hazard, level and response.
    Never 위급재난문자: the platform's own sensors do not send it (policy.toml [R5])."""
    given = next((p.value for p in info.parameters if p.value_name == CATEGORY_PARAM), None)
    if given in {c.value for c in korea.KoreanCategory}:
        category = korea.KoreanCategory(given)
    else:
        hazard = next((p.value for p in info.parameters if p.value_name == "SAFECITY_HAZARD"), "other")
        level = next((p.value for p in info.parameters if p.value_name == "SAFECITY_CRISIS_LEVEL"), "none")
        response = info.response_types[0].value if info.response_types else "Monitor"
        category = policy.category(
            hazard, Crisis[level] if level in Crisis.__members__ else Crisis.none, response
        )
    if category is korea.KoreanCategory.EMERGENCY and not policy.emergency_allowed:
        return korea.KoreanCategory.URGENT
    return category


def thread_of(row: Any) -> str:
    """The thread an alert row belongs to (:data:`bands.THREAD_PARAM`); an alert from before threads
    existed belongs to its incident's one thread."""
    for info in (row["cap"] or {}).get("info") or []:
        for p in info.get("parameter") or []:
            if p.get("valueName") == bands.THREAD_PARAM:
                return str(p.get("value"))
    return f"incident-{row['incident_id']}" if row["incident_id"] is not None else str(row["identifier"])


def hazard_of(alert: Alert) -> str:
    for info in alert.infos:
        for p in info.parameters:
            if p.value_name == "SAFECITY_HAZARD":
                return p.value
    return "other"


def cap_time(value: datetime | None) -> str:
    if value is None:
        return ""
    return value.astimezone(KST).replace(microsecond=0).isoformat()


def is_point(alert: Alert) -> bool:
    """A point alert (a fire, a leak, a cordon): its area is a circle, and only the circle is warned."""
    return any(a.circles for i in alert.infos for a in i.areas)
