# SPDX-License-Identifier: Apache-2.0
"""Builders shared by the rule-engine tests: streams, observations and rules written inline as TOML."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from safecity.sensing.directory import StreamInfo
from safecity.sensing.events import ObservationAccepted
from safecity.situation.engine import Engine
from safecity.situation.model import ConditionChange
from safecity.situation.rules import PACKS_DIR, LoadedRule, load_paths, load_text

#: 2025-07-01 00:00 UTC = 2025-07-01 09:00 KST
T0 = datetime(2025, 7, 1, tzinfo=UTC)

_ids = itertools.count(1)


def at(minutes: float = 0.0, seconds: float = 0.0) -> datetime:
    return T0 + timedelta(minutes=minutes, seconds=seconds)


def info(
    ds: int,
    prop: str,
    thing: int = 1,
    thing_name: str | None = None,
    *,
    interval: float | None = None,
    properties: dict[str, Any] | None = None,
    thing_properties: dict[str, Any] | None = None,
    lon: float | None = None,
    lat: float | None = None,
) -> StreamInfo:
    return StreamInfo(
        datastream_id=ds,
        name=f"{prop} {ds}",
        property=prop,
        thing_id=thing,
        thing_name=thing_name or f"thing {thing}",
        thing_properties=thing_properties or {},
        properties=properties or {},
        lon=lon,
        lat=lat,
        expected_interval_s=interval,
    )


def obs(
    ds: int, when: datetime | float, value: Any, qc: int = 0, oid: int | None = None
) -> ObservationAccepted:
    """An accepted observation; ``when`` is a datetime or minutes after T0."""
    t = when if isinstance(when, datetime) else at(when)
    return ObservationAccepted(oid if oid is not None else next(_ids), ds, None, 1, t, None, None, value, qc)


def rule(text: str, source: str = "test") -> LoadedRule:
    """One rule from a TOML document holding exactly one valid [[rule]]."""
    rs = load_text(text, source)
    assert rs.errors == [], "\n".join(map(str, rs.errors))
    assert len(rs.rules) == 1
    return rs.rules[0]


def shipped(rule_id: str) -> LoadedRule:
    rs = load_paths([PACKS_DIR])
    assert rs.errors == [], "\n".join(map(str, rs.errors))
    return rs.by_id()[rule_id]


def simple_rule(
    rid: str = "t.rule",
    *,
    properties: Sequence[str] = ("water_level",),
    signals: str = 'x = { fn = "last" }',
    levels: Iterable[str] = ('crisis = "caution"\nall = [{ signal = "x", above = 5.0 }]',),
    version: int = 1,
    hazard: str = "other",
    extra: str = "",
) -> LoadedRule:
    """A stream rule built from fragments: each level is the body of one [[rule.level]] table (names are
    filled in)."""
    props = ", ".join(f'"{p}"' for p in properties)
    text = (
        f'[[rule]]\nid = "{rid}"\nversion = {version}\nhazard = "{hazard}"\n'
        f'name_ko = "시험 규칙"\nname_en = "Test rule"\n{extra}\n'
        f"[rule.select]\nproperties = [{props}]\n\n[rule.signals]\n{signals}\n"
    )
    for i, body in enumerate(levels):
        text += f'\n[[rule.level]]\nname_ko = "단계 {i}"\nname_en = "Stage {i}"\n{body}\n'
    return rule(text)


def engine(rules: Sequence[LoadedRule], infos: Sequence[StreamInfo], **kw: Any) -> Engine:
    areas = kw.pop("areas", None)
    e = Engine(**kw)
    assert e.plan(rules, infos, areas=areas) == []
    return e


def summary(changes: Iterable[ConditionChange]) -> list[tuple[str, str, str, float]]:
    """(subject, previous, level, minutes after T0) of each change."""
    return [(c.subject, c.previous.name, c.level.name, (c.at - T0).total_seconds() / 60) for c in changes]
