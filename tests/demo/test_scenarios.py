# SPDX-License-Identifier: Apache-2.0
"""The demo scenarios are data that load, drive the whole demo network, replay identically, and make the
shipped rules fire as the scenario says (checked with the same engine and packs the platform runs)."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from functools import cache

import pytest

from safecity.core.errors import ConfigError
from safecity.demo import scenario
from safecity.demo.city import build_city
from safecity.demo.fields import distance_m, mmi_aww14, pga_from_mmi, pga_gal
from safecity.demo.network import Network, build_network
from safecity.sensing.directory import StreamInfo
from safecity.situation.replay import replay
from safecity.situation.rules import load_rules

#: Hand-computed checks of the ground-motion chain agree to this (the inputs are rounded to 4 digits).
GM_TOLERANCE = 1e-3


@cache
def _network() -> Network:
    return build_network(build_city())


def test_every_scenario_loads() -> None:
    assert scenario.names() == ["building_collapse", "earthquake", "fire", "heat_wave", "heavy_rain"]
    for name in scenario.names():
        sc = scenario.load(name)
        assert sc.steps > 0 and sc.name_ko and sc.name_en
        feed = sc.feed(_network())
        assert len(feed) == len(_network().sensors)  # the whole network reports in every scenario
    with pytest.raises(ConfigError, match="no scenario 'tsunami'"):
        scenario.load("tsunami")


def _run(name: str, overrides: dict[str, object] | None = None) -> tuple[dict[str, int], dict[str, int]]:
    """Replay a scenario's readings through the shipped packs: the highest level each rule reached, and
    the highest level of each district (by the district each stream's Thing lies in)."""
    sc = scenario.load(name, overrides)
    infos, rows = [], []
    districts: dict[int, str] = {}
    ds = 0
    for st_i, st in enumerate(sc.feed(_network())):
        for stream in st.streams:
            ds += 1
            districts[ds] = str(st.properties.get("district", ""))
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
    by_district: dict[str, int] = defaultdict(int)
    for c in result.changes:
        top[c.rule_id] = max(top.get(c.rule_id, 0), int(c.level))
        for d in c.datastream_ids:
            by_district[districts[d]] = max(by_district[districts[d]], int(c.level))
    return top, dict(by_district)


def test_scenarios_drive_the_rules_they_are_about() -> None:
    rain, _ = _run("heavy_rain")
    assert rain["kma.heavy_rain"] == 4  # 극한호우 (serious)
    assert rain["hrfco.hangang_bridge"] >= 2  # past the 8.5 m flood advisory stage
    assert rain["facility.underpass_flooding"] == 3  # underpasses in the band fill past 30 cm
    heat, _ = _run("heat_wave")
    assert heat["kma.heat_wave"] == 3  # 폭염경보: apparent temperature >= 35 on two days
    collapse, _ = _run("building_collapse")
    assert collapse["facility.structural_management"] == 4  # collapse danger (심각) after the second level
    fire, _ = _run("fire")
    assert max(fire.get(r, 0) for r in ("fire.smoke_heat", "fire.smoke_co", "fire.heat_co")) == 3
    quake, _ = _run("earthquake")
    assert quake["kma.earthquake_intensity"] == 3  # 진도 VI near the epicentre
    # a scenario fires the rules it is about and nothing else: the quiet network stays quiet
    assert all(r.startswith("fire.") for r in fire)
    assert set(quake) == {"kma.earthquake_intensity"}
    assert set(collapse) == {"facility.structural_management"}
    assert set(heat) == {"kma.heat_wave"}


def test_heavy_rain_floods_the_underpasses_in_the_band_only() -> None:
    sc = scenario.load("heavy_rain")
    feed = {st.properties["code"]: st for st in sc.feed(_network())}

    def peak(code: str) -> float:
        depth = next(s for s in feed[code].streams if s.prop == "road_water_depth")
        return max(
            depth.value(sc.step_s * i, sc.start + timedelta(seconds=sc.step_s * i))
            for i in range(sc.steps + 1)
        )

    # Dongjak's underpass, in the band's core: past the 15 cm closure depth and the 30 cm that floats cars,
    # not beyond what the 8 August rain can give; the north stays dry
    assert 0.30 < peak("underpass-11590") < 0.60
    assert peak("underpass-11320") == peak("underpass-11350") == 0.0  # 도봉구, 노원구
    # a quiet day: dry
    quiet = scenario.load("fire")
    gauge = next(
        s
        for st in quiet.feed(_network())
        if st.properties["code"] == "underpass-11590"
        for s in st.streams
        if s.prop == "road_water_depth"
    )
    assert gauge.value(600, quiet.start + timedelta(minutes=10)) == 0.0


def test_heavy_rain_peaks_at_141_5_mm_an_hour_in_dongjak() -> None:
    sc = scenario.load("heavy_rain")
    feed = {st.properties["code"]: st for st in sc.feed(_network())}
    dongjak = feed["rain-11590"].streams[0]
    hour = [sc.start + timedelta(minutes=180 + 10 * k) for k in range(1, 7)]  # 20:10 .. 21:00 KST
    assert sum(dongjak.value((t - sc.start).total_seconds(), t) for t in hour) == pytest.approx(141.5)
    # the band is narrow: the north gets a small share of it
    dobong = feed["rain-11320"].streams[0]
    assert sum(dobong.value((t - sc.start).total_seconds(), t) for t in hour) < 10


def test_earthquake_shakes_near_districts_harder_than_far_ones() -> None:
    sc = scenario.load("earthquake")
    epicentre = tuple(sc.parameters["epicentre"])
    seismic = sorted(
        (s for s in _network().sensors if s.kind == "seismic"),
        key=lambda s: distance_m((s.lon, s.lat), (epicentre[0], epicentre[1])),
    )
    _, levels = _run("earthquake")
    near, far = seismic[:5], seismic[-5:]
    assert min(levels[s.district] for s in near) == 3  # 진도 VI: 경계
    assert max(levels[s.district] for s in far) == 2  # 진도 V: 주의
    # a bigger, shallower event right under the city reaches VII (심각) at the nearest station
    _, big = _run("earthquake", {"magnitude": 6.5, "epicentre": [126.98, 37.50], "depth_km": 5.0})
    assert max(big.values()) == 4


def test_ground_motion_by_hand() -> None:
    # M 5.8, 20 km epicentral distance, 10 km deep: Rhyp = √500 = 22.36 km, R = √(500 + 14²) = 26.38 km,
    # log10 R = 1.4213, B = 0; MMI = 0.309 + 1.864·5.8 − 1.672·1.4213 − 0.00219·26.38 − 0.383·5.8·1.4213
    # = 0.309 + 10.8112 − 2.3764 − 0.0578 − 3.1573 = 5.5287 (AWW14); above 4.22, so
    # log10 PGA = (5.5287 + 1.60) / 3.70 = 1.9267, PGA = 84.47 gal (Worden et al. 2012): 진도 VI.
    assert mmi_aww14(5.8, 500**0.5) == pytest.approx(5.5287, abs=GM_TOLERANCE)
    assert pga_gal(5.8, 20.0, 10.0) == pytest.approx(84.47, rel=GM_TOLERANCE)
    # the two branches of Worden et al. (2012) meet near MMI 4.22 (log10 PGA 1.57)
    assert pga_from_mmi(4.2199) == pytest.approx(pga_from_mmi(4.2201), rel=0.01)
    assert pga_from_mmi(1.78) == pytest.approx(1.0)


def test_earthquake_peak_arrives_with_the_s_wave() -> None:
    sc = scenario.load("earthquake", {"epicentre": [127.0, 37.33]})
    station = next(st for st in sc.feed(_network()) if st.properties["code"] == "seismic-11650")
    pga = station.streams[0]
    series = [
        pga.value(sc.step_s * i, sc.start + timedelta(seconds=sc.step_s * i)) for i in range(sc.steps + 1)
    ]
    peak = max(range(len(series)), key=series.__getitem__)
    # origin 5 min after the start; Seocho is a few km from the epicentre: the S wave comes within 30 s
    assert peak * sc.step_s == 5 * 60 + 30
    assert series[peak] > 67.3 and max(series[: peak - 1]) < 1.0  # quiet background before


def test_set_overrides_parameters_and_names_what_is_wrong() -> None:
    assert scenario.parse_set(["magnitude=6.1", "epicentre=127.05,37.45", "origin=2m"]) == {
        "magnitude": 6.1,
        "epicentre": [127.05, 37.45],
        "origin": "2m",
    }
    sc = scenario.load("earthquake", {"magnitude": 6.1, "epicentre": [127.05, 37.45]})
    assert sc.parameters["magnitude"] == 6.1 and sc.fields[0]["epicentre"] == [127.05, 37.45]
    with pytest.raises(ConfigError, match=r"has no parameter 'magnitud'.*magnitude"):
        scenario.load("earthquake", {"magnitud": 6.0})
    with pytest.raises(ConfigError, match="epicentre: give 2 comma-separated numbers"):
        scenario.load("earthquake", {"epicentre": 127.0})
    with pytest.raises(ConfigError, match=r"epicentre.*not a point in Korea"):
        scenario.load("earthquake", {"epicentre": [37.45, 127.05]})
    with pytest.raises(ConfigError, match=r"magnitude: 12\.0 is outside"):
        scenario.load("earthquake", {"magnitude": 12.0})
    with pytest.raises(ConfigError, match="write NAME=VALUE"):
        scenario.parse_set(["magnitude"])


def test_values_depend_only_on_scenario_time() -> None:
    for name in scenario.names():
        sc = scenario.load(name)
        a, b = sc.feed(_network()), sc.feed(build_network(build_city()))
        when = sc.start + timedelta(seconds=sc.step_s * (sc.steps // 2))
        elapsed = (when - sc.start).total_seconds()
        for x, y in zip(a, b, strict=True):
            for s, t in zip(x.streams, y.streams, strict=True):
                assert s.value(elapsed, when) == t.value(elapsed, when), (name, x.name, s.prop)


def test_demo_command_refuses_a_bad_parameter_before_starting() -> None:
    from typer.testing import CliRunner

    from safecity.cli import app

    result = CliRunner().invoke(app, ["demo", "--scenario", "earthquake", "--set", "epicentre=127.0"])
    assert result.exit_code == 2
    assert "--set epicentre: give 2 comma-separated numbers" in result.output
