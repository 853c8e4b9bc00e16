# SPDX-License-Identifier: Apache-2.0
"""What the warning service returns: typed alerts (a summary for the lists, the full alert with its
short texts, checks and approval log), a composer's preview, and a warning in force for the citizen
page. Routers serialise them with ``to_json()``, whose keys and their order are the HTTP API's."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class AlertSummary:
    """One alert as the lists show it (``GET /alerts``, the board's drafts and other agencies' alerts,
    the Atom feed): its state and its first <info>'s headline per language, without the CAP document."""

    identifier: str
    sender: str
    state: str  # draft, issued, rejected, superseded
    msg_type: str  # CAP msgType: Alert, Update, Cancel...
    origin: str  # platform (drafted here) or import (another agency's)
    incident_id: int | None
    hazard: str | None
    level: int | None  # crisis level 1..4 of the band it warns about
    auto: bool  # issued without an operator
    districts: tuple[str, ...]  # sigungu (or dong) codes of its areas
    sent: datetime | None  # None while a draft
    expires: datetime | None
    #: the headline per language ("ko", "en"...), from each <info>
    headlines: dict[str, str | None]
    severity: str | None
    urgency: str | None
    references: str | None  # CAP <references>: the alerts an Update or Cancel follows
    created_at: datetime
    decided_by: str | None  # who approved or rejected it

    @classmethod
    def of(cls, row: Any) -> AlertSummary:
        """From a row of the alerts table."""
        return cls(**_summary_fields(row))

    def to_json(self) -> dict[str, Any]:
        """The JSON of the HTTP API (camelCase; times in ISO 8601 as stored, with their offset)."""
        return {
            "identifier": self.identifier,
            "sender": self.sender,
            "state": self.state,
            "msgType": self.msg_type,
            "origin": self.origin,
            "incidentId": self.incident_id,
            "hazard": self.hazard,
            "level": self.level,
            "auto": self.auto,
            "districts": list(self.districts),
            "sent": self.sent.isoformat() if self.sent else None,
            "expires": self.expires.isoformat() if self.expires else None,
            "headlines": dict(self.headlines),
            "severity": self.severity,
            "urgency": self.urgency,
            "references": self.references,
            "createdAt": self.created_at.isoformat(),
            "decidedBy": self.decided_by,
        }


def _summary_fields(row: Any) -> dict[str, Any]:
    cap = row["cap"] or {}
    infos = cap.get("info") or []
    first = infos[0] if infos else {}
    return {
        "identifier": row["identifier"],
        "sender": row["sender"],
        "state": row["state"],
        "msg_type": row["msg_type"],
        "origin": row["origin"],
        "incident_id": row["incident_id"],
        "hazard": row["hazard"],
        "level": row["level"],
        "auto": bool(row["auto"]),
        "districts": tuple(row["districts"] or ()),
        "sent": row["sent"],
        "expires": row["expires"],
        "headlines": {(i.get("language") or "").split("-")[0]: i.get("headline") for i in infos},
        "severity": first.get("severity"),
        "urgency": first.get("urgency"),
        "references": cap.get("references"),
        "created_at": row["created_at"],
        "decided_by": row["decided_by"],
    }


@dataclass(frozen=True, slots=True)
class ShortText:
    """The short text (재난문자, cell broadcast, SMS) an alert goes out with in one language."""

    text: str
    chars: int
    max: int  # its category's limit
    category: str  # the 재난문자 category's value
    edited: bool  # the operator's own text, not the rendered one
    problems: tuple[str, ...]  # what stops it going out automatically

    def to_json(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "chars": self.chars,
            "max": self.max,
            "category": self.category,
            "edited": self.edited,
            "problems": list(self.problems),
        }


@dataclass(frozen=True, slots=True)
class TextCheck:
    """What the operator must see before issuing: every short text's problems (they block automatic
    issue) and where the languages disagree (warnings)."""

    problems: tuple[str, ...]
    disagreements: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {"problems": list(self.problems), "disagreements": list(self.disagreements)}


def short_texts_json(shorts: dict[str, ShortText]) -> dict[str, Any]:
    return {lang: s.to_json() for lang, s in shorts.items()}


@dataclass(frozen=True, slots=True)
class AlertLogEntry:
    """One step of an alert's approval log (drafted, edited, issued, rejected, imported...)."""

    at: datetime
    actor: str
    action: str
    detail: dict[str, Any]  # what the step recorded (JSON as stored: fields edited, a reason...)

    def to_json(self) -> dict[str, Any]:
        return {"at": self.at.isoformat(), "actor": self.actor, "action": self.action, "detail": self.detail}


@dataclass(frozen=True, slots=True)
class AlertDetail(AlertSummary):
    """One alert in full (``GET /alerts/{identifier}``, and what drafting, editing, issuing, rejecting
    and cancelling answer): its summary, the CAP document (CAP JSON), its short texts per language, their
    check and the approval log."""

    cap: dict[str, Any]  # the CAP 1.2 alert as CAP JSON (safecity.warning.cap.json)
    short_texts: dict[str, ShortText]
    cb_max_chars: int  # the cell-broadcast limit of urgent messages
    check: TextCheck
    log: tuple[AlertLogEntry, ...]

    @classmethod
    def of_row(
        cls,
        row: Any,
        *,
        short_texts: dict[str, ShortText],
        cb_max_chars: int,
        check: TextCheck,
        log: tuple[AlertLogEntry, ...],
    ) -> AlertDetail:
        return cls(
            **_summary_fields(row),
            cap=row["cap"],
            short_texts=short_texts,
            cb_max_chars=cb_max_chars,
            check=check,
            log=log,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            **AlertSummary.to_json(self),
            "cap": self.cap,
            "shortTexts": short_texts_json(self.short_texts),
            "cbMaxChars": self.cb_max_chars,
            **self.check.to_json(),
            "log": [e.to_json() for e in self.log],
        }


@dataclass(frozen=True, slots=True)
class AlertPreview:
    """What the composer shows while an operator edits a draft, nothing saved."""

    identifier: str
    short_texts: dict[str, ShortText]
    check: TextCheck

    def to_json(self) -> dict[str, Any]:
        return {
            "identifier": self.identifier,
            "shortTexts": short_texts_json(self.short_texts),
            **self.check.to_json(),
        }


@dataclass(frozen=True, slots=True)
class GuideText:
    """The action guide a warning in force shows, for one audience and language."""

    title: str
    lines: tuple[str, ...]
    audience: str

    def to_json(self) -> dict[str, Any]:
        return {"title": self.title, "lines": list(self.lines), "audience": self.audience}


@dataclass(frozen=True, slots=True)
class WarningInForce:
    """A warning in force for a place, as the citizen page shows it (``GET /alerts/current``)."""

    identifier: str
    msg_type: str
    sent: datetime | None
    hazard: str | None
    shelter_hazard: str | None  # which shelters are safe from it (the evacuation capability's hazard)
    level: int | None
    language: str | None
    category: str  # the 재난문자 category's name in the language shown
    severity: str
    urgency: str
    headline: str | None
    description: str | None
    instruction: str | None
    area_desc: str
    districts: tuple[str, ...]
    guide: GuideText
    cap: str  # the path of its CAP XML

    def to_json(self) -> dict[str, Any]:
        return {
            "identifier": self.identifier,
            "msgType": self.msg_type,
            "sent": self.sent.isoformat() if self.sent else None,
            "hazard": self.hazard,
            "shelterHazard": self.shelter_hazard,
            "level": self.level,
            "language": self.language,
            "category": self.category,
            "severity": self.severity,
            "urgency": self.urgency,
            "headline": self.headline,
            "description": self.description,
            "instruction": self.instruction,
            "areaDesc": self.area_desc,
            "districts": list(self.districts),
            "guide": self.guide.to_json(),
            "cap": self.cap,
        }
