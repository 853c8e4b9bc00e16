# SPDX-License-Identifier: Apache-2.0
"""The demo scenarios are data that load, replay identically, and make the shipped rules fire as the
scenario says (checked with the same engine and packs the platform runs)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from safecity.core.errors import ConfigError
from safecity.demo import scenario
from safecity.sensing.directory import StreamInfo
from safecity.situation.replay import replay
from safecity.situation.rules import load_rules


def test_every_scenario_loads() -> None:
    assert scenario.names() == ["building_collapse", "fire", "heat_wave", "heavy_rain"]
    for name in scenario.names():
        sc = scenario.load(name)
        assert sc.stations and sc.steps > 0 and sc.name_ko and sc.name_en
    with pytest.raises(ConfigError, match="no scenario 'tsunami'"):
        scenario.load("tsunami")


def _run(name: str) -> dict[str, int]:
    """Replay a scenario's readings through the shipped packs; the highest level each rule reached."""
    sc = scenario.load(name)
    infos, rows = [], []
    ds = 0
    for st_i, st in enumerate(sc.stations):
        for stream in st.streams:
            ds += 1
            infos.append(
                StreamInfo(
                    datastream_id=ds,
                    name=f"{st.name}: {stream.prop}",
                    property=stream.prop,
                    thing_id=st_i + 1,
                    thing_name=st.name,
                    thing_properties=dict(st.properties),
                    properties=dict(stream.properties),
                    lon=st.lon,
                    lat=st.lat,
                    expected_interval_s=sc.step_s,
                )
            )
            for i in range(sc.steps + 1):
                when = sc.start + timedelta(seconds=sc.step_s * i)
                rows.append((when.timestamp(), ds, stream.value(sc.step_s * i, when), i))
    rows.sort()
    result = replay(load_rules().rules, infos, rows, tick_s=sc.step_s)
    top: dict[str, int] = {}
    for c in result.changes:
        top[c.rule_id] = max(top.get(c.rule_id, 0), int(c.level))
    return top


def test_scenarios_drive_the_rules_they_are_about() -> None:
    assert _run("heavy_rain")["kma.heavy_rain"] == 4  # 극한호우 (serious)
    assert _run("heavy_rain")["hrfco.hangang_bridge"] >= 2  # past the 8.5 m flood advisory stage
    assert _run("heat_wave")["kma.heat_wave"] == 3  # 폭염경보: apparent temperature >= 35 on two days
    assert _run("building_collapse")["facility.structural_management"] == 3  # second management level
    fire = _run("fire")
    assert max(fire.get(r, 0) for r in ("fire.smoke_heat", "fire.smoke_co", "fire.heat_co")) == 3


def test_values_depend_only_on_scenario_time() -> None:
    sc = scenario.load("heavy_rain")
    stream = sc.stations[0].streams[0]
    when = sc.start + timedelta(hours=3)
    assert stream.value(3 * 3600, when) == stream.value(3 * 3600, when) == 23.6  # the peak at 3 h
