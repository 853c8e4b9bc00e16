# SPDX-License-Identifier: Apache-2.0
"""What clients send about incidents (API bodies, CLI input). Cross-field rules that must name their
field in the error (at least one title, lon with lat, somewhere to be) are checked by
:func:`check_manual` and :func:`attachment_ref`, which raise BadRequest with ``where``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from safecity.core.errors import BadRequest
from safecity.core.text import NOT_XML_CHAR as _NOT_XML_CHAR
from safecity.situation.lifecycle import Status
from safecity.situation.model import HAZARDS, Crisis

#: Attachment kinds that name a SensorThings entity by id (checked with sensing.service.existing_ids).
SENSING_KINDS: dict[str, Literal["observation", "datastream", "thing"]] = {
    "observation": "observation",
    "datastream": "datastream",
    "thing": "thing",
}
MAX_URL = 2000

DistrictCode = Annotated[str, Field(pattern=r"^\d{5}$", description="5-digit sigungu code, e.g. 11590")]


def _hazard(value: str) -> str:
    if value not in HAZARDS:
        raise ValueError(f"unknown hazard '{value}'; use one of {', '.join(HAZARDS)}")
    return value


class ManualIncidentIn(BaseModel):
    """An incident reported by a person (a phone call, a news item), not detected by a rule."""

    model_config = ConfigDict(extra="forbid")
    hazard: str = Field(description="heavy_rain, river_flood, landslide, facility, fire, gas, ...")
    level: int = Field(ge=1, le=4, description="crisis level 1-4 (관심/주의/경계/심각) or its name")
    title_ko: str | None = Field(default=None, min_length=1, max_length=300)
    title_en: str | None = Field(default=None, min_length=1, max_length=300)
    description: str | None = Field(default=None, max_length=10_000)
    districts: list[DistrictCode] = Field(default_factory=list, max_length=100)
    district_levels: dict[DistrictCode, Annotated[int, Field(ge=1, le=4)]] = Field(
        default_factory=dict,
        max_length=100,
        description="each district's own level (1-4) when the districts differ, e.g. an earthquake's shaking "
        "per district; these districts join `districts`, the others are at `level` (the incident's, which "
        "no district's may exceed)",
    )
    lon: float | None = Field(default=None, ge=-180, le=180)
    lat: float | None = Field(default=None, ge=-90, le=90)
    source_note: str | None = Field(default=None, max_length=2000, description="who reported it, how")
    at: datetime | None = Field(default=None, description="when it happened (default: now); with a zone")

    _check_hazard = field_validator("hazard")(_hazard)

    @field_validator("title_ko", "title_en", "description", "source_note")
    @classmethod
    def _printable(cls, value: str | None) -> str | None:
        # The title and description become an alert's CAP text, and XML cannot carry control characters:
        # refused here, they would otherwise fail later inside the drafting of the alert.
        if value is not None and (bad := _NOT_XML_CHAR.search(value)):
            raise ValueError(
                f"character U+{ord(bad.group()):04X} at position {bad.start() + 1} is a control character; "
                "only tab and line breaks are allowed"
            )
        return value

    @field_validator("level", mode="before")
    @classmethod
    def _level_name(cls, value: Any) -> Any:
        # Operators say "경계" or "alert" as often as 3.
        if isinstance(value, str) and not value.isdigit():
            for c in Crisis:
                if value.strip().lower() in (c.name, c.name_ko, c.name_en.lower()) and c > Crisis.none:
                    return int(c)
            raise ValueError("use 1-4 or attention/caution/alert/serious (관심/주의/경계/심각)")
        return value

    @field_validator("at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("needs a time zone, e.g. 2026-08-08T21:00:00+09:00")
        return value


class AttachmentIn(BaseModel):
    """Something an operator adds to an incident.

    ``observation``, ``datastream``, ``thing``: ``ref`` is the SensorThings id. ``link``: ``ref`` is an
    http(s) URL (a news article, a CCTV still). ``note``: the text is in ``note``. ``note`` may comment
    any kind.
    """

    model_config = ConfigDict(extra="forbid")
    kind: Literal["observation", "datastream", "thing", "note", "link"]
    ref: int | str | None = None
    note: str | None = Field(default=None, min_length=1, max_length=10_000)


class StatusIn(BaseModel):
    """A lifecycle step. ``reason`` is required to dismiss (why it was a false alarm)."""

    model_config = ConfigDict(extra="forbid")
    status: Status
    reason: str | None = Field(default=None, max_length=2000)
    note: str | None = Field(default=None, max_length=2000)


def check_manual(data: ManualIncidentIn) -> tuple[str, str]:
    """The rules a report's fields must meet together; returns (title_ko, title_en), each language
    falling back to the other. BadRequest names the field to fix."""
    if not (data.title_ko or data.title_en):
        raise BadRequest(
            "title_ko: give a title in Korean or English (or both)",
            where="title_ko",
            message_ko="title_ko: 제목(한국어 또는 영어)이 필요합니다",
        )
    if (data.lon is None) != (data.lat is None):
        where = "lat" if data.lat is None else "lon"
        raise BadRequest(f"{where}: lon and lat go together", where=where)
    for code, own in data.district_levels.items():
        if own > data.level:
            raise BadRequest(
                f"district_levels[{code}]: {own} is above the incident's level {data.level}",
                where=f"district_levels[{code}]",
                message_ko=f"district_levels[{code}]: 사건의 위험 수준({data.level})보다 높을 수 없습니다",
            )
    if not data.districts and not data.district_levels and data.lon is None:
        raise BadRequest(
            'districts: say where: district codes (e.g. ["11590"]) and/or lon and lat',
            where="districts",
            message_ko="districts: 위치(자치구 코드 또는 경위도)가 필요합니다",
        )
    return data.title_ko or data.title_en or "", data.title_en or data.title_ko or ""


def attachment_ref(data: AttachmentIn) -> str | None:
    """The link's ``ref`` as stored (an id as decimal text, a URL), or None for a note.
    BadRequest names ``ref`` or ``note``; whether the id exists is checked against the store later."""
    if data.kind in SENSING_KINDS:
        value = data.ref
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value.strip())
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise BadRequest(f"ref: a {data.kind} attachment needs the {data.kind}'s id", where="ref")
        return str(value)
    if data.kind == "link":
        url = str(data.ref or "").strip()
        if not url.startswith(("http://", "https://")) or len(url) > MAX_URL:
            raise BadRequest("ref: a link attachment needs an http(s) URL", where="ref")
        return url
    if data.ref is not None:
        raise BadRequest("ref: a note has no ref; put its text in note", where="ref")
    if not data.note:
        raise BadRequest("note: a note attachment needs its text", where="note")
    return None
