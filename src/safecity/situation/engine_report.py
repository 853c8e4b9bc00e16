# SPDX-License-Identifier: Apache-2.0
"""The engine's output: a binding's or an area group's level change as a :class:`ConditionChange`
(with the deciding value and its words), and the conditions in force for the situation board.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from safecity.sensing.directory import StreamInfo
from safecity.situation.binding import AreaGroup, Binding, to_datetime
from safecity.situation.model import HAZARDS, ConditionChange, Crisis, Site


def change_of(
    b: Binding,
    new: int,
    t: float,
    obs: tuple[int, ...],
    *,
    previous: int | None = None,
    late: bool = False,
    note: str | None = None,
) -> ConditionChange:
    prev = b.cur if previous is None else previous
    shown = new if new >= 0 else prev
    value, signal = b.describe(shown, t) if shown >= 0 else (None, "")
    lv = b.rule.level[new] if new >= 0 else None
    w = b.where
    return ConditionChange(
        rule_id=b.rule.id,
        rule_version=b.rule.version,
        hazard=b.rule.hazard,
        subject=b.subject,
        level=b.level_of(new),
        previous=b.level_of(prev),
        stage_ko=lv.name_ko if lv else "",
        stage_en=lv.name_en if lv else "",
        at=to_datetime(t),
        value=value,
        signal=signal,
        datastream_ids=b.stream_ids,
        thing_ids=b.thing_ids,
        observation_ids=obs,
        district_codes=(w.district,) if w.district else (),
        dong_codes=(w.dong,) if w.dong else (),
        lon=w.info.lon,
        lat=w.info.lat,
        late=late,
        detail={**b.words(shown, signal, w.info.unit), **({"note": note} if note else {})},
        official=b.rule.official,
        lift_within_s=b.rule.lift_within_s,
        site=site_of(w.info),
    )


def site_of(info: StreamInfo) -> Site:
    """The facility a stream's Thing stands for: its ``name_ko``/``name_en``/``address_ko``/``address_en``
    properties (strings), else the Thing's name."""

    def text(key: str) -> str:
        v = info.thing_properties.get(key)
        return v.strip() if isinstance(v, str) else ""

    return Site(
        text("name_ko") or info.thing_name,
        text("name_en") or text("name_ko") or info.thing_name,
        text("address_ko"),
        text("address_en") or text("address_ko"),
    )


def group_change(
    g: AreaGroup, level: Crisis, t: float, obs: tuple[int, ...], late: bool = False
) -> ConditionChange:
    prev = g.level
    g.level = level
    g.entered = t if level > Crisis.none else None
    lv = next((x for x in g.rule.level if x.level == level), None)
    at_level = [b for b in g.members.values() if b.cur >= 0 and b.level_of(b.cur) >= max(level, prev)]
    voters = at_level or list(g.members.values())
    first = voters[0]
    value, signal = first.describe(max(first.cur, 0), t) if first.cur >= 0 else (None, "")
    return ConditionChange(
        rule_id=g.rule.id,
        rule_version=g.rule.version,
        hazard=g.rule.hazard,
        subject=g.subject,
        level=level,
        previous=prev,
        stage_ko=lv.name_ko if lv else "",
        stage_en=lv.name_en if lv else "",
        at=to_datetime(t),
        value=value,
        signal=signal,
        datastream_ids=tuple(sorted({i for b in voters for i in b.stream_ids})),
        thing_ids=tuple(sorted({i for b in voters for i in b.thing_ids})),
        observation_ids=obs,
        district_codes=(g.code,)
        if g.area.kind == "district"
        else tuple(sorted({b.where.district for b in voters if b.where.district})),
        dong_codes=(g.code,) if g.area.kind == "dong" else (),
        lon=first.where.info.lon,
        lat=first.where.info.lat,
        late=late,
        official=g.rule.official,
        lift_within_s=g.rule.lift_within_s,
        detail={
            "members": len(g.members),
            "needed": g.needed(),
            **first.words(max(first.cur, 0), signal, first.where.info.unit),
        },
    )


def active_conditions(
    bindings: Iterable[Binding], groups: Iterable[AreaGroup], now: datetime | None = None
) -> list[dict[str, Any]]:
    """Conditions currently at a level, for the situation board."""
    out = []
    for b in bindings:
        if b.cur < 0 or b.group is not None:
            continue
        t = now.timestamp() if now else b.where.series.last
        value, signal = b.describe(b.cur, max(t, b.where.series.last))
        lv = b.rule.level[b.cur]
        out.append(
            {
                "rule": b.rule.id,
                "ruleVersion": b.rule.version,
                "hazard": b.rule.hazard,
                "hazardKo": HAZARDS[b.rule.hazard].name_ko,
                "hazardEn": HAZARDS[b.rule.hazard].name_en,
                "subject": b.subject,
                "level": int(lv.level),
                "stageKo": lv.name_ko,
                "stageEn": lv.name_en,
                "since": to_datetime(b.entered).isoformat() if b.entered is not None else None,
                "value": value,
                "signal": signal,
                "datastreams": list(b.stream_ids),
                "things": list(b.thing_ids),
                "district": b.where.district,
                "dong": b.where.dong,
                "lon": b.where.info.lon,
                "lat": b.where.info.lat,
            }
        )
    for g in groups:
        if g.level <= Crisis.none:
            continue
        lv = next(x for x in g.rule.level if x.level == g.level)
        out.append(
            {
                "rule": g.rule.id,
                "ruleVersion": g.rule.version,
                "hazard": g.rule.hazard,
                "hazardKo": HAZARDS[g.rule.hazard].name_ko,
                "hazardEn": HAZARDS[g.rule.hazard].name_en,
                "subject": g.subject,
                "level": int(g.level),
                "stageKo": lv.name_ko,
                "stageEn": lv.name_en,
                "since": to_datetime(g.entered).isoformat() if g.entered is not None else None,
                "members": len(g.members),
                "district": g.code if g.area.kind == "district" else None,
                "dong": g.code if g.area.kind == "dong" else None,
            }
        )
    return out


def with_value(c: ConditionChange, value: float | None, signal: str) -> ConditionChange:
    from dataclasses import replace

    return replace(c, value=value, signal=signal)
