# SPDX-License-Identifier: Apache-2.0
"""Golden-time KPIs per district, month and call type, from the calls as they were worked.

Definitions (following the NFA's 119 statistics; the wording of each is ours):

* call handling time (접수~출동지령): from the call's receipt to the first unit's dispatch;
* travel time (출동~현장도착): from the first dispatch to the first unit on scene;
* response time (현장도착시간): from the call's receipt to the first unit on scene; the NFA's golden-time
  goal counts arrivals within 7 minutes of the call (2 to handle, 5 to drive), 4 for cardiac arrest;
* share within 4/5/7 minutes: of the calls with a unit on scene, those whose response time is at most that.

Sources: 소방청 (National Fire Agency) 119 구급활동 통계 and the golden-time goal (7분 이내 현장 도착);
the precise statistical definitions of the NFA yearbook (e.g. whether handling starts at ring or at
answer) are UNCONFIRMED: here it starts when the call is taken into the system.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import or_, select

from safecity.core.errors import BadRequest
from safecity.dispatch.model import call_types
from safecity.dispatch.roadtime import KST
from safecity.dispatch.tables import calls
from safecity.store import Store

THRESHOLDS_MIN = (4, 5, 7)


@dataclass(frozen=True)
class KpiRow:
    district: str
    month: str  # YYYY-MM, KST
    call_type: str
    calls: int
    arrived: int
    handling_mean_s: float | None
    travel_mean_s: float | None
    response_mean_s: float | None
    response_p90_s: float | None
    within: dict[int, float | None]  # minutes -> share of arrived calls
    within_golden: float | None  # share within the type's own golden time (4 or 7 min)

    def public(self) -> dict[str, Any]:
        t = call_types().get(self.call_type)
        return {
            "district": self.district,
            "month": self.month,
            "callType": self.call_type,
            "callTypeKo": t.name_ko if t else self.call_type,
            "callTypeEn": t.name_en if t else self.call_type,
            "calls": self.calls,
            "arrived": self.arrived,
            "handlingMeanS": self.handling_mean_s,
            "travelMeanS": self.travel_mean_s,
            "responseMeanS": self.response_mean_s,
            "responseP90S": self.response_p90_s,
            **{f"within{m}min": v for m, v in self.within.items()},
            "withinGolden": self.within_golden,
        }


def _month(value: str | None) -> tuple[datetime, datetime] | None:
    if not value:
        return None
    try:
        start = datetime.strptime(value, "%Y-%m").replace(tzinfo=KST)
    except ValueError:
        raise BadRequest(
            f"month: '{value}' is not YYYY-MM",
            where="month",
            message_ko=f"month: '{value}'은(는) YYYY-MM 형식이 아닙니다",
        ) from None
    end = (
        start.replace(year=start.year + 1, month=1)
        if start.month == 12
        else start.replace(month=start.month + 1)
    )
    return start, end


def _mean(xs: list[float]) -> float | None:
    return round(float(np.mean(xs)), 1) if xs else None


def kpis(store: Store, *, month: str | None = None, district: str | None = None) -> list[KpiRow]:
    """One row per (district, month, call type) that had calls, oldest month first."""
    # a suggestion nobody acted on (a predicted collapse) was never a call
    q = select(calls).where(or_(calls.c.source != "quake", calls.c.dispatched_at.is_not(None)))
    span = _month(month)
    if span is not None:
        q = q.where(calls.c.received_at >= span[0], calls.c.received_at < span[1])
    if district is not None:
        q = q.where(calls.c.district == district)
    groups: dict[tuple[str, str, str], list[Any]] = defaultdict(list)
    with store.engine.connect() as conn:
        for r in conn.execute(q).mappings():
            key = (r["district"] or "", r["received_at"].astimezone(KST).strftime("%Y-%m"), r["type"])
            groups[key].append(r)
    out = []
    for (d, m, t), rows in sorted(groups.items(), key=lambda kv: (kv[0][1], kv[0][0], kv[0][2])):
        handling = [
            (r["dispatched_at"] - r["received_at"]).total_seconds() for r in rows if r["dispatched_at"]
        ]
        travel = [
            (r["arrived_at"] - r["dispatched_at"]).total_seconds()
            for r in rows
            if r["arrived_at"] and r["dispatched_at"]
        ]
        response = [(r["arrived_at"] - r["received_at"]).total_seconds() for r in rows if r["arrived_at"]]
        golden = (call_types()[t].golden_min if t in call_types() else 7) * 60
        arr = np.asarray(response)
        out.append(
            KpiRow(
                district=d,
                month=m,
                call_type=t,
                calls=len(rows),
                arrived=len(response),
                handling_mean_s=_mean(handling),
                travel_mean_s=_mean(travel),
                response_mean_s=_mean(response),
                response_p90_s=round(float(np.percentile(arr, 90)), 1) if response else None,
                within={m_: (float((arr <= m_ * 60).mean()) if response else None) for m_ in THRESHOLDS_MIN},
                within_golden=float((arr <= golden).mean()) if response else None,
            )
        )
    return out


def to_csv(rows: list[KpiRow]) -> str:
    """The KPIs as CSV (UTF-8 with a header row; Korean and English call-type names)."""
    buf = io.StringIO()
    fields = list(
        KpiRow("", "", "", 0, 0, None, None, None, None, dict.fromkeys(THRESHOLDS_MIN), None).public()
    )
    w = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: ("" if v is None else v) for k, v in r.public().items()})
    return buf.getvalue()
