# SPDX-License-Identifier: Apache-2.0
"""The official crisis alert level (위기경보: 관심·주의·경계·심각), set by a person, beside the platform's
risk level (위험 수준).

The platform computes a *risk level* per district and hazard from its sensors and rules: what the data
says. The official 위기경보 is a decision (the 재난 및 안전관리 기본법 gives it to the heads of the
responsible agencies and of local governments, after their own assessment), so the platform never sets
it: an operator records it here (``PUT /situation/official``) and the board shows it beside the computed
level, each labelled. Declarations are append-only (who, when, what it follows); the latest per (hazard,
area) is in force, level 0 lifts it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import func, insert, select
from sqlalchemy.engine import Connection

from safecity.core.errors import NotFound
from safecity.geo import areas as geo_areas
from safecity.situation.incident_inputs import _hazard
from safecity.situation.model import HAZARDS, Crisis
from safecity.situation.tables import official_levels as t_official

#: How the board labels its two levels (Korean and English say the same).
RISK_LEVEL = {"ko": "위험 수준(플랫폼 산정)", "en": "Risk level (computed by the platform)"}
OFFICIAL_LEVEL = {"ko": "위기경보(담당자 발령)", "en": "Crisis alert level (declared by a person)"}


class OfficialIn(BaseModel):
    """A declared 위기경보 for a hazard, city-wide or for one district or dong."""

    model_config = ConfigDict(extra="forbid")
    hazard: str = Field(description="heavy_rain, river_flood, earthquake, ...")
    level: int = Field(ge=0, le=4, description="0 lifts it; 1-4 관심/주의/경계/심각, or the name")
    area: str = Field(
        default="",
        pattern=r"^(\d{5}|\d{10})?$",
        description="district (5) or dong (10) code; empty: the city",
    )
    note: str | None = Field(default=None, max_length=2000, description="the decision it follows")

    _check_hazard = field_validator("hazard")(_hazard)

    @field_validator("level", mode="before")
    @classmethod
    def _level_name(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.strip().isdigit():
            for c in Crisis:
                if value.strip().lower() in (c.name, c.name_ko, c.name_en.lower()):
                    return int(c)
            raise ValueError("use 0-4 or none/attention/caution/alert/serious (평시/관심/주의/경계/심각)")
        return value


def declare(conn: Connection, data: OfficialIn, actor: str, now: datetime) -> None:
    """Record a declaration. NotFound (``area``) for an area code the loaded areas do not have."""
    if data.area and geo_areas.areas_of(conn, "district"):
        kind: Literal["district", "dong"] = "dong" if len(data.area) == 10 else "district"
        if geo_areas.area_by_code(conn, data.area, kind=kind) is None:
            raise NotFound(f"area: no {kind} has code {data.area}", where="area")
    conn.execute(
        insert(t_official).values(
            hazard=data.hazard, area=data.area, level=data.level, note=data.note, set_by=actor, set_at=now
        )
    )


def in_force(conn: Connection) -> list[dict[str, Any]]:
    """The declarations in force (level above 0), by hazard then area ("" = the whole city first)."""
    latest = (
        select(func.max(t_official.c.id).label("id"))
        .group_by(t_official.c.hazard, t_official.c.area)
        .subquery()
    )
    rows = conn.execute(
        select(t_official)
        .join(latest, t_official.c.id == latest.c.id)
        .order_by(t_official.c.hazard, t_official.c.area)
    ).mappings()
    out = []
    for r in rows:
        if r["level"] <= 0:
            continue
        h = HAZARDS[r["hazard"]]
        out.append(
            {
                "hazard": r["hazard"],
                "hazardKo": h.name_ko,
                "hazardEn": h.name_en,
                "area": r["area"] or None,
                "level": Crisis(r["level"]).to_json(),
                "note": r["note"],
                "setBy": r["set_by"],
                "setAt": r["set_at"].isoformat(),
                "labelKo": OFFICIAL_LEVEL["ko"],
                "labelEn": OFFICIAL_LEVEL["en"],
            }
        )
    return out
