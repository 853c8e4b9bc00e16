# SPDX-License-Identifier: Apache-2.0
"""The rule engine on hand-made series: thresholds, hysteresis, entry and exit delays, quality flags,
staleness, late data, area and thing scopes, the apparent-temperature heat-wave streak, broken rules,
re-planning and the clock. Times are minutes after T0 (2025-07-01 00:00 UTC = 09:00 KST)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from safecity.sensing.events import ObservationAccepted
from safecity.situation.engine import Engine
from safecity.situation.model import Crisis
from safecity.situation.windows import WindowExtreme
from tests.situation.helpers import T0, at, engine, info, obs, rule, shipped, simple_rule, summary

CAUTION_ALERT_SERIOUS = (
    'crisis = "caution"\nall = [{ signal = "x", above = 5.0 }]',
    'crisis = "alert"\nall = [{ signal = "x", above = 10.0 }]',
    'crisis = "serious"\nall = [{ signal = "x", above = 20.0 }]',
)


# --- thresholds and the level state machine --------------------------------------------------------


def test_above_is_inclusive_and_clears_when_below() -> None:
    e = engine([simple_rule()], [info(1, "water_level")])
    assert e.process([obs(1, 0, 4.9)]) == []
    (c,) = e.process([obs(1, 1, 5.0)])  # 5.0 ≥ 5.0
    assert (c.subject, c.previous, c.level, c.at) == ("ds:1", Crisis.none, Crisis.caution, at(1))
    assert (c.rule_id, c.rule_version, c.hazard, c.stage_ko, c.stage_en) == (
        "t.rule",
        1,
        "other",
        "단계 0",
        "Stage 0",
    )
    assert (c.value, c.signal, c.datastream_ids, c.thing_ids, c.late) == (5.0, "last", (1,), (1,), False)
    assert c.fired
    assert e.process([obs(1, 2, 7.0)]) == []  # still at the level: no repeat
    (c,) = e.process([obs(1, 3, 4.99)])
    assert (c.previous, c.level, c.at, c.stage_ko) == (Crisis.caution, Crisis.none, at(3), "")
    assert not c.fired


def test_below_is_inclusive() -> None:
    r = simple_rule(
        properties=["air_temperature"], levels=['crisis = "caution"\nall = [{ signal = "x", below = -12.0 }]']
    )
    e = engine([r], [info(1, "air_temperature")])
    assert e.process([obs(1, 0, -11.9)]) == []
    assert summary(e.process([obs(1, 1, -12.0)])) == [("ds:1", "none", "caution", 1.0)]
    assert summary(e.process([obs(1, 2, -11.0)])) == [("ds:1", "caution", "none", 2.0)]


def test_hysteresis_keeps_the_level_until_below_clear_below() -> None:
    r = simple_rule(levels=['crisis = "caution"\nall = [{ signal = "x", above = 10.0, clear_below = 8.0 }]'])
    e = engine([r], [info(1, "water_level")])
    got = e.process([obs(1, m, v) for m, v in ((0, 9.5), (1, 10.0), (2, 9.0), (3, 8.0), (4, 7.9), (5, 9.9))])
    # 9.5 < 10 nothing; 10 ≥ 10 fires; 9 and 8 are ≥ 8 (clear_below): held; 7.9 < 8 clears;
    # 9.9 is back under the entry threshold of 10: nothing
    assert summary(got) == [("ds:1", "none", "caution", 1.0), ("ds:1", "caution", "none", 4.0)]


def test_clear_above_hysteresis_for_below() -> None:
    r = simple_rule(
        properties=["air_temperature"],
        levels=['crisis = "caution"\nall = [{ signal = "x", below = -12.0, clear_above = -10.0 }]'],
    )
    e = engine([r], [info(1, "air_temperature")])
    got = e.process([obs(1, m, v) for m, v in ((0, -12.0), (1, -10.5), (2, -10.0), (3, -9.9))])
    # −12 fires; −10.5 and −10 are ≤ −10: held; −9.9 > −10 clears
    assert summary(got) == [("ds:1", "none", "caution", 0.0), ("ds:1", "caution", "none", 3.0)]


def test_for_is_a_minimum_duration_on_observation_time() -> None:
    r = simple_rule(levels=['crisis = "caution"\nall = [{ signal = "x", above = 5.0 }]\nfor = "10m"'])
    e = engine([r], [info(1, "water_level")])
    # holds from minute 0 to 5 only (5 min < 10 min), broken at 8: no fire
    assert e.process([obs(1, 0, 6.0), obs(1, 5, 6.0), obs(1, 8, 4.0)]) == []
    # holds again from minute 10: at 15 it has held 5 min, at 20 exactly 10 min → fires at 20
    assert e.process([obs(1, 10, 6.0), obs(1, 15, 6.0)]) == []
    assert summary(e.process([obs(1, 20, 6.0)])) == [("ds:1", "none", "caution", 20.0)]


def test_for_can_also_run_out_on_the_clock() -> None:
    r = simple_rule(levels=['crisis = "caution"\nall = [{ signal = "x", above = 5.0 }]\nfor = "10m"'])
    e = engine([r], [info(1, "water_level")])
    assert e.process([obs(1, 0, 6.0)]) == []
    assert e.tick(at(9)) == []  # held 9 min
    assert summary(e.tick(at(10))) == [("ds:1", "none", "caution", 10.0)]  # Last is good for 1 h


def test_clear_after_measured_on_observation_time() -> None:
    r = simple_rule(levels=['crisis = "caution"\nall = [{ signal = "x", above = 5.0 }]\nclear_after = "30m"'])
    e = engine([r], [info(1, "water_level")])
    assert summary(e.process([obs(1, 0, 6.0)])) == [("ds:1", "none", "caution", 0.0)]
    # gone from 10, back at 35 (25 min < 30): the level stays and the clearing delay restarts
    assert e.process([obs(1, 10, 4.0), obs(1, 30, 4.0), obs(1, 35, 6.0)]) == []
    # gone from 40: 69 is 29 min later (stays), 70 is 30 min later (cleared)
    assert e.process([obs(1, 40, 4.0), obs(1, 69, 4.0)]) == []
    assert summary(e.process([obs(1, 70, 4.0)])) == [("ds:1", "caution", "none", 70.0)]


def test_escalation_skips_levels_and_lowering_goes_to_the_highest_level_still_met() -> None:
    r = simple_rule(levels=CAUTION_ALERT_SERIOUS)
    e = engine([r], [info(1, "water_level")])
    got = e.process(
        [obs(1, m, v) for m, v in ((0, 3.0), (1, 25.0), (2, 12.0), (3, 6.0), (4, 11.0), (5, 1.0))]
    )
    assert summary(got) == [
        ("ds:1", "none", "serious", 1.0),  # 25 ≥ 20: straight to 심각, no caution / alert on the way
        ("ds:1", "serious", "alert", 2.0),  # 12: ≥ 10 and ≥ 5 → the highest still met, alert
        ("ds:1", "alert", "caution", 3.0),  # 6
        ("ds:1", "caution", "alert", 4.0),  # 11
        ("ds:1", "alert", "none", 5.0),  # 1: no level holds
    ]
    assert [c.stage_en for c in got] == ["Stage 2", "Stage 1", "Stage 0", "Stage 1", ""]


def test_lowering_waits_clear_after_of_the_level_being_left() -> None:
    levels = (
        'crisis = "caution"\nall = [{ signal = "x", above = 5.0 }]',
        'crisis = "alert"\nall = [{ signal = "x", above = 10.0 }]\nclear_after = "10m"',
    )
    e = engine([simple_rule(levels=levels)], [info(1, "water_level")])
    got = e.process([obs(1, m, v) for m, v in ((0, 11.0), (1, 6.0), (10, 6.0), (11, 6.0), (12, 1.0))])
    # alert left from minute 1: after 10 min (minute 11) it lowers to caution (6 ≥ 5); caution has no
    # clearing delay: 1 at minute 12 clears
    assert summary(got) == [
        ("ds:1", "none", "alert", 0.0),
        ("ds:1", "alert", "caution", 11.0),
        ("ds:1", "caution", "none", 12.0),
    ]


def test_any_and_all_and_nested_groups() -> None:
    r = rule(
        """
[[rule]]
id = "t.rain"
version = 1
hazard = "heavy_rain"
name_ko = "호우"
name_en = "Rain"
[rule.select]
properties = ["rainfall_10min"]
[rule.signals]
s1 = { fn = "sum", window = "1h" }
s3 = { fn = "sum", window = "3h" }
[[rule.level]]
crisis = "serious"
name_ko = "극한호우"
name_en = "Extreme"
any = [{ all = [{ signal = "s1", above = 50.0 }, { signal = "s3", above = 90.0 }] }, { signal = "s1", above = 72.0 }]
"""
    )
    e = engine([r], [info(1, "rainfall_10min")])
    # 40 mm at 0 then 10 mm at 10, 20, 30: s1 at 30 = (−30, 30] = 40 + 30 = 70 < 72 and s3 = 70 < 90
    assert e.process([obs(1, 0, 40.0)] + [obs(1, m, 10.0) for m in (10, 20, 30)]) == []
    (c,) = e.process([obs(1, 40, 5.0)])  # s1 = 75 ≥ 72: the second member alone
    assert (c.level, c.at, c.value, c.signal) == (Crisis.serious, at(40), 75.0, "sum 1h")

    e = engine([r], [info(1, "rainfall_10min")])
    # 10 mm every 10 min from 0: s1 = 10 × 6 = 60 from minute 50 on (never ≥ 72);
    # s3 at minute t = 10 × (t / 10 + 1) ≥ 90 first at t = 80 → the `all` (60 ≥ 50 and 90 ≥ 90) fires at 80
    got = e.process([obs(1, m, 10.0) for m in range(0, 101, 10)])
    assert [(c.level, c.at, c.value, c.signal) for c in got] == [(Crisis.serious, at(80), 60.0, "sum 1h")]


# --- quality -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("flags", [1, 2, 4, 8, 3])
def test_flagged_observations_do_not_trigger(flags: int) -> None:
    e = engine([simple_rule()], [info(1, "water_level")])
    assert e.process([obs(1, 0, 50.0, qc=flags)]) == []
    assert e.active() == []
    assert e.streams[1].series.last_seen == at(0).timestamp()  # it still counts as a report
    assert len(e.streams[1].series.t) == 0


def test_late_flag_alone_still_counts() -> None:
    e = engine([simple_rule()], [info(1, "water_level")])
    assert summary(e.process([obs(1, 0, 50.0, qc=16)])) == [("ds:1", "none", "caution", 0.0)]


def test_saturated_combustible_gas_counts_as_the_top_of_the_range() -> None:
    levels = (
        'crisis = "caution"\nall = [{ signal = "x", above = 25.0 }]',
        'crisis = "alert"\nall = [{ signal = "x", above = 100.0 }]',
    )
    r = simple_rule(properties=["combustible_gas"], levels=levels, hazard="gas")
    infos = [info(1, "combustible_gas")]
    # without a ceiling: the out_of_range reading is dropped like any other
    plain = engine([r], infos)
    assert plain.process([obs(1, 0, 130.0, qc=1)]) == []
    e = engine([r], infos, ceilings={"combustible_gas": 100.0, "water_level": 5.0})
    assert e.ceilings == {"combustible_gas": 100.0}  # only saturating detectors get a ceiling
    # out_of_range at 130 %LEL enters as 100: ≥ 100 → alert, the deciding value is the clamped 100
    (c,) = e.process([obs(1, 0, 130.0, qc=1)])
    assert (c.level, c.value) == (Crisis.alert, 100.0)
    # a spike flag as well (3 = out_of_range | spike) is not saturation: dropped
    assert e.process([obs(1, 1, 130.0, qc=3)]) == []
    # an out_of_range reading under the top (a negative one) is noise: dropped, the level holds
    assert e.process([obs(1, 2, -5.0, qc=1)]) == []
    assert summary(e.process([obs(1, 3, 30.0)])) == [("ds:1", "alert", "caution", 3.0)]


def test_non_numeric_results_are_ignored() -> None:
    e = engine([simple_rule()], [info(1, "water_level")])
    assert e.process([obs(1, 0, "high"), obs(1, 1, True), obs(1, 2, None)]) == []
    assert len(e.streams[1].series.t) == 0


# --- staleness -----------------------------------------------------------------------------------------


def test_stale_sensor_fires_on_tick_and_clears_when_data_resumes() -> None:
    e = engine(
        [shipped("sensor.stale")], [info(1, "rainfall_10min", interval=60.0), info(2, "rainfall_10min")]
    )
    # stream 2 has no expected interval: `of = "expected_interval"` cannot be computed, it is skipped
    assert e.status["sensor.stale"].subjects == 1
    assert any("datastream 2" in s for s in e.status["sensor.stale"].skipped)
    assert e.tick(at(10)) == []  # never reported: no age at all
    assert e.process([obs(1, 0, 0.0)]) == []
    assert e.tick(at(2, 59)) == []  # age 179 s < 3 × 60 s
    (c,) = e.tick(at(3))  # age 180 s ≥ 180 s
    assert (c.rule_id, c.subject, c.level, c.at, c.value) == (
        "sensor.stale",
        "ds:1",
        Crisis.attention,
        at(3),
        180.0,
    )
    assert e.tick(at(5)) == []  # still stale: no repeat
    # a report comes back: age 0 → cleared at the report's time
    assert summary(e.process([obs(1, 6, 0.0)])) == [("ds:1", "attention", "none", 6.0)]


def test_a_flagged_report_also_ends_staleness() -> None:
    e = engine([shipped("sensor.stale")], [info(1, "water_level", interval=60.0)])
    e.process([obs(1, 0, 1.0)])
    assert summary(e.tick(at(3))) == [("ds:1", "none", "attention", 3.0)]
    # a spike-flagged reading never enters a signal but is a report: the next tick sees age 30 s
    e.process([obs(1, 4, 999.0, qc=2)])
    assert summary(e.tick(at(4, 30))) == [("ds:1", "attention", "none", 4.5)]


# --- late data -------------------------------------------------------------------------------------------

SUM3H = simple_rule(
    "t.rain3h",
    properties=["rainfall_10min"],
    signals='s = { fn = "sum", window = "3h" }',
    levels=['crisis = "caution"\nall = [{ signal = "s", above = 60.0 }]'],
    hazard="heavy_rain",
)
# 5 mm every 10 min from minute 10 to 120 (12 totals = 60 mm), then dry (0 mm) to minute 200
RAIN = [(m, 5.0) for m in range(10, 121, 10)] + [(m, 0.0) for m in range(130, 201, 10)]


def test_late_data_that_crosses_a_past_threshold_reports_the_past_change() -> None:
    e = engine([SUM3H], [info(1, "rainfall_10min")])
    # the 5 mm of minute 60 is missing: the 3-h sum peaks at 55 mm, nothing fires
    assert e.process([obs(1, m, v) for m, v in RAIN if m != 60]) == []
    late = obs(1, 60, 5.0, oid=9060)
    got = e.process([late])
    # with it, the sum at minute 120 is (−60, 120] = 12 × 5 = 60 ≥ 60 → fired at 120; at 190 the
    # window (10, 190] has lost the first 5 mm: 55 → cleared at 190 (all on the data's own time)
    assert summary(got) == [("ds:1", "none", "caution", 120.0), ("ds:1", "caution", "none", 190.0)]
    assert all(c.late for c in got)
    assert got[0].observation_ids == (9060,)
    assert e.bindings[0].cur == -1
    # the same observation again changes nothing
    assert e.process([late]) == []
    assert e.process([obs(1, 60, 5.0)]) == []  # same time and value, another id


def test_late_change_reports_the_value_at_its_own_time() -> None:
    e = engine([SUM3H], [info(1, "rainfall_10min")])
    e.process([obs(1, m, v) for m, v in RAIN if m != 60])
    fired = e.process([obs(1, 60, 5.0)])[0]
    assert (fired.at, fired.value) == (at(120), 60.0)  # 12 × 5 mm in (−60, 120]


def test_late_data_that_leaves_the_condition_active_ends_active() -> None:
    e = engine([SUM3H], [info(1, "rainfall_10min")])
    e.process([obs(1, m, 5.0) for m in range(10, 121, 10) if m != 60])  # 55 mm by minute 120
    got = e.process([obs(1, 60, 5.0)])
    # 60 mm in (−60, 120] → fired at 120, and nothing after it: it ends active
    assert summary(got) == [("ds:1", "none", "caution", 120.0)]
    assert got[0].late
    (a,) = e.active()
    assert (a["subject"], a["since"], a["value"]) == ("ds:1", at(120).isoformat(), 60.0)


def test_in_order_and_late_batch_end_in_the_same_state() -> None:
    in_order = engine([SUM3H], [info(1, "rainfall_10min")])
    a = in_order.process([obs(1, m, v) for m, v in RAIN])
    late = engine([SUM3H], [info(1, "rainfall_10min")])
    held_back = {40, 60, 70}
    b = late.process([obs(1, m, v) for m, v in RAIN if m not in held_back])
    b += late.process([obs(1, m, v) for m, v in RAIN if m in held_back])
    # in order: fired at 120 (60 mm), cleared at 190 (55 mm); the late batch finds the same changes
    assert summary(a) == [("ds:1", "none", "caution", 120.0), ("ds:1", "caution", "none", 190.0)]
    assert summary(b) == summary(a)
    assert [c.late for c in a] == [False, False] and [c.late for c in b] == [True, True]
    sa, sb = in_order.streams[1], late.streams[1]
    assert list(sa.series.t) == list(sb.series.t) and list(sa.series.v) == list(sb.series.v)
    t_end = at(200).timestamp()
    # (20, 200]: minutes 30 … 120 of 5 mm = 10 × 5 = 50
    for key, agg in sa.aggs.items():
        assert agg.value(t_end) == sb.aggs[key].value(t_end), key
    assert [a.value(t_end) for k, a in sa.aggs.items() if k[:2] == ("sum", 10800.0)] == [50.0]
    assert [b.history for b in in_order.bindings] == [b.history for b in late.bindings]


# --- scopes ------------------------------------------------------------------------------------------------


def test_area_scope_count_of_streams_in_a_district() -> None:
    r = simple_rule(
        "t.area",
        extra='scope = "area"\n[rule.area]\nkind = "district"\nmode = "count"\ncount = 2\n',
    )
    infos = [info(i, "water_level", thing=i) for i in (1, 2, 3, 4)]
    areas: dict[int, tuple[str | None, str | None]] = {
        1: ("11590", None),
        2: ("11590", None),
        3: ("11590", None),
    }
    areas[4] = ("11680", None)
    e = engine([r], infos, areas=areas)
    assert set(e.groups) == {"t.area|11590", "t.area|11680"}
    assert e.process([obs(1, 0, 6.0)]) == []  # 1 of 3 gauges
    assert e.process([obs(4, 0, 9.0)]) == []  # the only gauge of 11680: 1 < 2
    (c,) = e.process([obs(2, 1, 6.0)])  # 2 of 3 → the area holds caution
    assert (c.subject, c.level, c.previous, c.at) == (
        "area:district:11590",
        Crisis.caution,
        Crisis.none,
        at(1),
    )
    assert c.district_codes == ("11590",) and c.datastream_ids == (1, 2)
    assert {k: c.detail[k] for k in ("members", "needed")} == {"members": 3, "needed": 2}
    assert e.process([obs(3, 2, 6.0)]) == []  # 3 of 3: same level
    assert e.process([obs(1, 3, 1.0)]) == []  # 2 of 3 still
    (c,) = e.process([obs(2, 4, 1.0)])  # 1 of 3
    assert (c.subject, c.level, c.previous, c.at) == (
        "area:district:11590",
        Crisis.none,
        Crisis.caution,
        at(4),
    )
    # members never report on their own
    assert [a["subject"] for a in e.active()] == []


def test_area_scope_streams_outside_any_area_are_skipped() -> None:
    r = simple_rule("t.area", extra='scope = "area"\n[rule.area]\nkind = "dong"\nmode = "all"\n')
    e = engine(
        [r], [info(1, "water_level"), info(2, "water_level", thing=2)], areas={1: ("11590", "1159051000")}
    )
    assert set(e.groups) == {"t.area|1159051000"}
    assert e.status["t.area"].skipped == ["datastream 2: not inside a known area"]
    (c,) = e.process([obs(1, 0, 6.0), obs(2, 0, 6.0)])
    assert (c.subject, c.dong_codes, c.district_codes) == (
        "area:dong:1159051000",
        ("1159051000",),
        ("11590",),
    )


THING_FIRE = """
[[rule]]
id = "t.smoke_heat"
version = 1
hazard = "fire"
name_ko = "연기+열"
name_en = "Smoke and heat"
scope = "thing"
[rule.select]
properties = ["smoke_obscuration", "fire_detector_temperature"]
[rule.signals]
smoke = { fn = "last", property = "smoke_obscuration" }
rise = { fn = "rate", window = "3m", per = "min", property = "fire_detector_temperature" }
[[rule.level]]
crisis = "alert"
name_ko = "화재 경계"
name_en = "Fire alert"
all = [{ signal = "smoke", above = 10.0 }, { signal = "rise", above = 10.0 }]
"""


def test_thing_scope_smoke_and_heat_rise_on_one_thing() -> None:
    infos = [
        info(1, "smoke_obscuration", thing=1),  # a smoke-only head: the rule cannot apply
        info(10, "smoke_obscuration", thing=2),
        info(11, "fire_detector_temperature", thing=2),
    ]
    e = engine([rule(THING_FIRE)], infos)
    assert e.status["t.smoke_heat"].subjects == 1
    assert e.status["t.smoke_heat"].skipped == ["thing 1: lacks a value the rule needs"]
    events = [
        obs(1, 0, 50.0),
        obs(10, 0, 12.0),  # smoke ≥ 10 from the start
        obs(11, 0, 20.0),  # rate: one sample → none
        obs(11, 1, 26.0),  # spans 60 s < 90 s (half of 3 min) → none
        obs(11, 2, 32.0),  # (32 − 20) / 120 s × 60 = 6 °C/min < 10
        # (0, 180]: the 20 at 0 is out; (50 − 26) / 120 s × 60 = 12 °C/min ≥ 10 → fires
        obs(11, 3, 50.0),
    ]
    (c,) = e.process(events)
    assert (c.subject, c.level, c.at, c.thing_ids, c.datastream_ids) == (
        "thing:2",
        Crisis.alert,
        at(3),
        (2,),
        (10, 11),
    )
    assert c.value == 12.0 and c.signal == "smoke_obscuration last"
    # smoke gone → the `all` fails → cleared
    assert summary(e.process([obs(10, 4, 1.0)])) == [("thing:2", "alert", "none", 4.0)]


def test_of_share_reads_stream_then_thing_properties_and_skips_streams_without_it() -> None:
    r = simple_rule(
        properties=["tilt"],
        levels=['crisis = "caution"\nall = [{ signal = "x", above = 0.8, of = "allowable" }]'],
    )
    infos = [
        info(1, "tilt", thing=1, properties={"allowable": 0.5}),
        info(2, "tilt", thing=2, thing_properties={"allowable": 2.0}),
        info(3, "tilt", thing=3),
        info(4, "tilt", thing=4, properties={"allowable": "lots"}),
    ]
    e = engine([r], infos)
    assert sorted(e.status["t.rule"].skipped) == [
        "datastream 3: lacks a value the rule needs (e.g. 'allowable')",
        "datastream 4: lacks a value the rule needs (e.g. 'allowable')",
    ]
    # 0.8 × 0.5 = 0.4 for ds 1; 0.8 × 2.0 = 1.6 for ds 2
    got = e.process([obs(1, 0, 0.39), obs(2, 0, 1.59), obs(1, 1, 0.4), obs(2, 1, 1.6), obs(3, 1, 99.0)])
    assert summary(got) == [("ds:1", "none", "caution", 1.0), ("ds:2", "none", "caution", 1.0)]


def test_apparent_temperature_heat_wave_two_day_streak() -> None:
    # KST = UTC + 9. Thing 5 has air temperature (20) and relative humidity (21); the engine adds the
    # virtual apparent-temperature stream ds:-5.
    e = engine(
        [shipped("kma.heat_wave")],
        [info(20, "air_temperature", thing=5), info(21, "relative_humidity", thing=5)],
    )
    assert e.status["kma.heat_wave"].subjects == 1

    def kst(day: int, hour: int, minute: int = 0) -> datetime:
        return datetime(2025, 8, day, hour, minute, tzinfo=UTC) - timedelta(hours=9)

    def pair(when: datetime, ta: float, rh: float = 55.0) -> list[ObservationAccepted]:
        return [obs(21, when, rh), obs(20, when, ta)]  # humidity first: paired when the temperature comes

    # Stull wet bulb Tw(34 °C, 55 %) ≈ 26.68 °C; KMA: −0.2442 + 0.55399·26.68 + 0.45535·34 − 0.0022·26.68²
    # + 0.00278·26.68·34 + 3.0 ≈ 33.97 °C (≥ 33). Tw(30, 55) ≈ 23.16 → ≈ 30.00 °C (< 33).
    assert e.process(pair(kst(1, 14), 34.0)) == []  # day 1 meets it: a 1-day streak
    assert e.process(pair(kst(2, 10), 30.0)) == []  # day 2 so far below, day not over: 1 day
    (c,) = e.process(pair(kst(2, 13), 34.0))  # day 2 meets it too: 2 days → 폭염주의보 기준
    assert (c.subject, c.level, c.at, c.stage_ko) == ("ds:-5", Crisis.caution, kst(2, 13), "폭염주의보 기준")
    assert c.value == pytest.approx(33.97, abs=0.01)
    assert c.datastream_ids == (20, 21)
    # day 3 runs below 33 but is not over: the streak of days 1–2 still holds
    assert e.process(pair(kst(3, 10), 30.0)) == []
    assert e.process(pair(kst(3, 23, 59), 30.0)) == []
    # day 4: day 3 is a completed day below → cleared at the first value of day 4 (00:30 KST)
    assert summary(e.process(pair(kst(4, 0, 30), 25.0))) == [
        ("ds:-5", "caution", "none", (kst(4, 0, 30) - T0).total_seconds() / 60)
    ]


def test_apparent_temperature_needs_humidity_within_an_hour() -> None:
    e = engine(
        [shipped("kma.heat_wave")],
        [info(20, "air_temperature", thing=5), info(21, "relative_humidity", thing=5)],
    )
    e.process([obs(21, 0, 55.0), obs(20, 61, 34.0)])  # 61 min apart: not paired
    assert len(e.streams[-5].series.t) == 0
    e.process([obs(20, 120, 34.0)])  # no humidity at all near 120
    assert len(e.streams[-5].series.t) == 0
    e.process([obs(21, 130, 55.0), obs(20, 140, 34.0)])
    assert list(e.streams[-5].series.v) == [pytest.approx(33.97, abs=0.01)]


# --- robustness and re-planning -------------------------------------------------------------------------


def test_a_rule_whose_predicate_raises_is_disabled_and_the_others_keep_firing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def boom(self: WindowExtreme, t: float) -> float | None:
        raise RuntimeError("boom")

    # predicates bind the aggregate's value method when compiled: patch before planning
    monkeypatch.setattr(WindowExtreme, "value", boom)
    broken = simple_rule("t.broken", signals='x = { fn = "max", window = "10m" }')
    fine = simple_rule("t.fine")
    e = engine([broken, fine], [info(1, "water_level")])
    got = e.process([obs(1, 0, 6.0)])
    assert [(c.rule_id, c.level) for c in got] == [("t.fine", Crisis.caution)]
    assert e.status["t.broken"].error == "RuntimeError: boom"
    assert e.status["t.fine"].error is None
    assert [b.rule.id for b in e.streams[1].bindings] == ["t.fine"]
    assert [(c.rule_id, c.level) for c in e.process([obs(1, 1, 1.0), obs(1, 2, 7.0)])] == [
        ("t.fine", Crisis.none),
        ("t.fine", Crisis.caution),
    ]


def test_plan_again_with_the_same_rules_keeps_the_state() -> None:
    r = simple_rule()
    infos = [info(1, "water_level")]
    e = engine([r], infos)
    e.process([obs(1, 0, 6.0)])
    assert e.plan([r], infos) == []
    assert e.process([obs(1, 1, 7.0)]) == []  # no second fire
    (a,) = e.active()
    assert (a["rule"], a["subject"], a["level"], a["since"]) == ("t.rule", "ds:1", 2, at(0).isoformat())
    # a reloaded copy of the same rule (new object, same id and version) also keeps it
    assert e.plan([simple_rule()], infos) == []
    assert e.process([obs(1, 2, 8.0)]) == []
    assert summary(e.process([obs(1, 3, 1.0)])) == [("ds:1", "caution", "none", 3.0)]


def test_plan_with_a_new_version_clears_the_old_condition_and_re_evaluates() -> None:
    infos = [info(1, "water_level")]
    e = engine([simple_rule()], infos)
    e.process([obs(1, 0, 6.0)])
    # version 2 with a higher threshold the data (6) does not meet: only the clear of version 1
    v2 = simple_rule(version=2, levels=['crisis = "caution"\nall = [{ signal = "x", above = 7.0 }]'])
    (c,) = e.plan([v2], infos)
    assert (c.rule_version, c.level, c.previous, c.at, c.detail["note"]) == (
        1,
        Crisis.none,
        Crisis.caution,
        at(0),
        "rule changed",
    )
    assert e.active() == []
    # version 3 that the latest value meets: v2 had nothing; v3 fires on the data already held
    v3 = simple_rule(version=3, levels=['crisis = "alert"\nall = [{ signal = "x", above = 5.5 }]'])
    (c,) = e.plan([v3], infos)
    assert (c.rule_version, c.level, c.previous, c.at) == (3, Crisis.alert, Crisis.none, at(0))


def test_plan_with_a_new_version_reports_the_clear_before_the_new_fire() -> None:
    # Incidents key conditions by rule id and subject (not version): the clear of v1 must come before
    # the fire of v2, or applying the changes in order leaves the condition cleared.
    infos = [info(1, "water_level")]
    e = engine([simple_rule()], infos)
    e.process([obs(1, 0, 6.0)])
    v2 = simple_rule(version=2, levels=['crisis = "alert"\nall = [{ signal = "x", above = 5.5 }]'])
    got = e.plan([v2], infos)
    assert [(c.rule_version, c.previous.name, c.level.name) for c in got] == [
        (1, "caution", "none"),
        (2, "none", "alert"),
    ]


def test_plan_adding_a_stream_to_an_active_area_does_not_fire_the_area_again() -> None:
    r = simple_rule("t.area", extra='scope = "area"\n[rule.area]\nkind = "district"\nmode = "any"\n')
    infos = [info(1, "water_level"), info(2, "water_level", thing=2)]
    # gauge 2 is not located at first (skipped by the area rule) but its stream keeps data
    e = engine([r], infos, areas={1: ("11590", None), 2: (None, None)})
    assert summary(e.process([obs(1, 0, 6.0), obs(2, 0, 6.0)])) == [
        ("area:district:11590", "none", "caution", 0.0)
    ]
    # located now: it joins the area that already holds caution; the area must not fire a second time
    assert e.plan([r], infos, areas={1: ("11590", None), 2: ("11590", None)}) == []
    assert [(a["subject"], a["level"], a["members"]) for a in e.active()] == [("area:district:11590", 2, 2)]


def test_a_disabled_rule_is_not_planned() -> None:
    r = simple_rule(extra="enabled = false")
    e = engine([r], [info(1, "water_level")])
    assert e.status["t.rule"].subjects == 0
    assert e.process([obs(1, 0, 50.0)]) == []


def test_tick_slides_windows_so_conditions_clear_without_new_data() -> None:
    r = simple_rule(
        properties=["rainfall_10min"],
        signals='s = { fn = "sum", window = "1h" }',
        levels=['crisis = "caution"\nall = [{ signal = "s", above = 10.0 }]'],
    )
    e = engine([r], [info(1, "rainfall_10min")])
    assert summary(e.process([obs(1, 0, 12.0)])) == [("ds:1", "none", "caution", 0.0)]
    assert e.tick(at(-5)) == []  # a clock behind the data changes nothing
    assert e.tick(at(59, 59)) == []  # (−0.02 min, 59:59]: the 12 mm is still in
    (c,) = e.tick(at(60))  # (0, 60]: the 12 mm is exactly 1 h old and out → 0
    assert (c.level, c.previous, c.at, c.observation_ids) == (Crisis.none, Crisis.caution, at(60), ())
    assert e.tick(at(61)) == []


def test_tick_runs_out_clear_after() -> None:
    r = simple_rule(levels=['crisis = "caution"\nall = [{ signal = "x", above = 5.0 }]\nclear_after = "30m"'])
    e = engine([r], [info(1, "water_level")])
    e.process([obs(1, 0, 6.0), obs(1, 10, 1.0)])  # gone from minute 10
    assert e.tick(at(39)) == []
    assert summary(e.tick(at(40))) == [("ds:1", "caution", "none", 40.0)]


def test_engine_without_rules_or_streams() -> None:
    e = Engine()
    assert e.plan([], []) == []
    assert e.process([obs(1, 0, 1.0)]) == []
    assert e.tick(T0) == []
    assert e.active() == []


# --- more edges -----------------------------------------------------------------------------------------


def test_nan_gas_reading_is_not_saturation() -> None:
    r = simple_rule(
        properties=["combustible_gas"],
        levels=['crisis = "alert"\nall = [{ signal = "x", above = 50.0 }]'],
        hazard="gas",
    )
    e = engine([r], [info(1, "combustible_gas")], ceilings={"combustible_gas": 100.0})
    # QC flags NaN / inf as out_of_range; NaN is no reading at all, not "past the top of the range"
    assert e.process([obs(1, 0, float("nan"), qc=1)]) == []
    assert len(e.streams[1].series.t) == 0
    # +inf is past the top: it saturates to 100
    (c,) = e.process([obs(1, 1, float("inf"), qc=1)])
    assert (c.level, c.value) == (Crisis.alert, 100.0)


def test_interval_observation_counts_at_its_end() -> None:
    r = simple_rule(
        properties=["rainfall_1h"],
        signals='s = { fn = "sum", window = "1h" }',
        levels=['crisis = "caution"\nall = [{ signal = "s", above = 10.0 }]'],
    )
    e = engine([r], [info(1, "rainfall_1h")])
    ev = obs(1, 0, 12.0)
    hourly = type(ev)(ev.observation_id, 1, None, 1, at(0), at(60), None, 12.0, 0)  # 00:00/01:00 total
    (c,) = e.process([hourly])
    assert c.at == at(60)
    # the sample is at 01:00: still in (01:00, 02:00) at 01:59, out at 02:00
    assert e.tick(at(119)) == []
    assert summary(e.tick(at(120))) == [("ds:1", "caution", "none", 120.0)]


def test_cold_wave_morning_minimum_two_days() -> None:
    e = engine([shipped("kma.cold_wave")], [info(1, "air_temperature")])

    def kst(day: int, hour: int, minute: int = 0) -> datetime:
        return datetime(2025, 1, day, hour, minute, tzinfo=UTC) - timedelta(hours=9)

    assert e.process([obs(1, kst(10, 6), -13.0)]) == []  # 10 Jan morning ≤ −12: 1 day
    assert e.process([obs(1, kst(10, 14), -20.0)]) == []  # afternoon: outside 00–09 h, not counted
    (c,) = e.process([obs(1, kst(11, 7), -12.5)])  # 11 Jan morning: 2 days → 한파주의보 기준
    assert (c.level, c.at, c.stage_ko, c.value) == (Crisis.caution, kst(11, 7), "한파주의보 기준", -12.5)
    assert e.process([obs(1, kst(12, 8), -5.0)]) == []  # 12 Jan morning is mild but not over yet
    # 09:00 is past the morning hours: 12 Jan has failed → cleared on the next evaluation
    assert summary(e.process([obs(1, kst(12, 9, 30), -5.0)])) == [
        ("ds:1", "caution", "none", (kst(12, 9, 30) - T0).total_seconds() / 60)
    ]


def test_cold_wave_by_a_day_over_day_fall_of_the_morning_minimum() -> None:
    def kst(day: int, hour: int, minute: int = 0) -> datetime:
        return datetime(2025, 11, day, hour, minute, tzinfo=UTC) - timedelta(hours=9)

    e = engine([shipped("kma.cold_wave")], [info(1, "air_temperature")])
    assert e.process([obs(1, kst(3, 6), 8.0)]) == []  # 3 Nov morning minimum 8 °C
    assert e.process([obs(1, kst(4, 5), 4.0)]) == []  # fell 4 °C, and not yet ≤ 3 °C
    # 4 Nov 07:00: −2.5 °C, 10.5 °C below yesterday's morning and ≤ 3 °C → 한파주의보 기준
    (c,) = e.process([obs(1, kst(4, 7), -2.5)])
    assert (c.level, c.stage_ko) == (Crisis.caution, "한파주의보 기준")
    # a fall of 15 °C or more (8 → −7.5) → 한파경보 기준
    e = engine([shipped("kma.cold_wave")], [info(1, "air_temperature")])
    e.process([obs(1, kst(3, 6), 8.0)])
    (c,) = e.process([obs(1, kst(4, 6), -7.5)])
    assert (c.level, c.stage_ko) == (Crisis.alert, "한파경보 기준")
    # a 10 °C fall that stays above 3 °C is not a cold wave (16 → 5)
    e = engine([shipped("kma.cold_wave")], [info(1, "air_temperature")])
    e.process([obs(1, kst(3, 6), 16.0)])
    assert e.process([obs(1, kst(4, 6), 5.0)]) == []


def test_late_data_under_hysteresis_matches_in_order() -> None:
    r = simple_rule(levels=['crisis = "caution"\nall = [{ signal = "x", above = 10.0, clear_below = 8.0 }]'])
    series = [(0, 11.0), (1, 9.5), (2, 9.0), (4, 7.0)]
    a = engine([r], [info(1, "water_level")]).process([obs(1, m, v) for m, v in series])
    # in order: 11 fires at 0; 9.5 and 9 are ≥ 8 (held); 7 clears at 4
    assert summary(a) == [("ds:1", "none", "caution", 0.0), ("ds:1", "caution", "none", 4.0)]
    e = engine([r], [info(1, "water_level")])
    e.process([obs(1, m, v) for m, v in series if m != 1])
    # the 9.5 of minute 1 arrives late: the outcome is the same, nothing new to report
    assert e.process([obs(1, 1, 9.5)]) == []


def test_late_data_inside_a_for_period_keeps_the_level() -> None:
    r = simple_rule(levels=['crisis = "caution"\nall = [{ signal = "x", above = 5.0 }]\nfor = "10m"'])
    e = engine([r], [info(1, "water_level")])
    # held from 0: at 12 it has held 12 min ≥ 10 → fires at 12
    assert summary(e.process([obs(1, 0, 6.0), obs(1, 12, 6.0)])) == [("ds:1", "none", "caution", 12.0)]
    # a late 6 at minute 8 (the condition held then too) changes nothing
    assert e.process([obs(1, 8, 6.0)]) == []


# --- lift: the driving condition has fallen --------------------------------------------------------------

LIFTED_RAIN = dict(
    properties=["rainfall_10min"],
    signals='s = { fn = "sum", window = "12h" }\nrecent = { fn = "sum", window = "30m" }',
    levels=[
        'crisis = "caution"\nall = [{ signal = "s", above = 10.0 }]\nclear_after = "30m"',
        'crisis = "alert"\nall = [{ signal = "s", above = 20.0 }]\nclear_after = "30m"',
    ],
    extra='[rule.lift]\nall = [{ signal = "recent", below = 0.5 }]\nafter = "10m"\n',
)


def test_lift_leaves_every_level_once_the_driving_input_has_stopped() -> None:
    r = simple_rule(**LIFTED_RAIN)  # type: ignore[arg-type]
    assert r.rule.lift_within_s == 40 * 60  # the 30-min window empties, then 10 min
    e = engine([r], [info(1, "rainfall_10min")])
    rain = [(0, 8.0), (10, 8.0), (20, 8.0), (30, 0.0), (40, 0.0), (50, 0.0), (60, 0.0)]
    out = e.process([obs(1, m, v) for m, v in rain])
    # 8 → 16 (caution at 10) → 24 (alert at 20); dry from 30; the 30-min sum is ≤ 0.5 from 50 (the 8 of
    # minute 20 leaves (20, 50]) and has held 10 min at 60: lifted, although the 12-h sum is still 24 mm
    assert summary(out) == [
        ("ds:1", "none", "caution", 10.0),
        ("ds:1", "caution", "alert", 20.0),
        ("ds:1", "alert", "none", 60.0),
    ]
    # still lifted: the 12-h sum above both thresholds enters no level
    assert e.process([obs(1, 70, 0.2)]) == []
    # rain again: the lift ends and the level comes back from the long sum at once
    assert summary(e.process([obs(1, 80, 3.0)])) == [("ds:1", "none", "alert", 80.0)]


def test_lift_runs_out_on_the_clock_and_a_short_lull_does_not_lift() -> None:
    r = simple_rule(**LIFTED_RAIN)  # type: ignore[arg-type]
    e = engine([r], [info(1, "rainfall_10min")])
    e.process([obs(1, 0, 25.0)])
    # a 10-min lull: the 30-min sum still holds the 25 mm, nothing lifts
    assert e.process([obs(1, 10, 0.0), obs(1, 20, 0.0)]) == []
    assert summary(e.process([obs(1, 30, 1.0)])) == []  # (0, 30] = 1.0 > 0.5: not stopped
    # no more reports: the clock slides the 30-min window to empty at 60, and the lift has held 10 min at 70
    assert e.tick(at(59)) == []
    assert e.tick(at(60)) == []
    assert e.tick(at(69)) == []
    assert summary(e.tick(at(70))) == [("ds:1", "alert", "none", 70.0)]


def test_lift_late_data_ends_as_in_order() -> None:
    r = simple_rule(**LIFTED_RAIN)  # type: ignore[arg-type]
    rain = [(m, 8.0 if m < 30 else 0.0) for m in range(0, 130, 10)]
    in_order = engine([r], [info(1, "rainfall_10min")])
    a = in_order.process([obs(1, m, v) for m, v in rain])
    e = engine([r], [info(1, "rainfall_10min")])
    e.process([obs(1, m, v) for m, v in rain if m != 40])
    e.process([obs(1, 40, 0.0)])
    assert [b.cur for b in e.bindings] == [b.cur for b in in_order.bindings] == [-1]
    assert summary(a)[-1] == ("ds:1", "alert", "none", 60.0)


def test_plan_again_keeps_a_lift_running() -> None:
    r = simple_rule(**LIFTED_RAIN)  # type: ignore[arg-type]
    e = engine([r], [info(1, "rainfall_10min")])
    e.process([obs(1, 0, 25.0), obs(1, 10, 0.0), obs(1, 20, 0.0), obs(1, 30, 0.0)])  # ≤ 0.5 from 30
    assert e.plan([r], [info(1, "rainfall_10min")]) == []
    assert summary(e.process([obs(1, 40, 0.0)])) == [("ds:1", "alert", "none", 40.0)]


def test_shipped_heavy_rain_lifts_within_40_minutes_and_others_state_their_bound() -> None:
    assert shipped("kma.heavy_rain").rule.lift_within_s == 40 * 60
    # no lift: the longest window the levels read plus the longest clear_after
    assert shipped("hrfco.hangang_bridge").rule.lift_within_s == 30 * 60
    assert shipped("kma.earthquake_intensity").rule.lift_within_s == 70 * 60


def test_fine_dust_advisory_after_two_hourly_means_and_lifted_below_100() -> None:
    e = engine([shipped("seoul.pm10")], [info(1, "pm10")])
    out = e.process([obs(1, m, 160.0) for m in range(0, 121, 10)])
    # the mean of the last hour's readings is ≥ 150 from the first reading on (no earlier data) and has
    # held for = 1h at minute 60; after a cleaner hour the mean first reaches 150 an hour in, firing at 2 h
    assert summary(out) == [("ds:1", "none", "caution", 60.0)]
    assert e.process([obs(1, m, 120.0) for m in range(130, 251, 10)]) == []  # < 150 but ≥ 100: kept
    (c,) = e.process([obs(1, m, 60.0) for m in range(260, 321, 10)])
    assert c.level == Crisis.none  # the 1-h mean fell below 100


def test_seoul_inundation_forecast_at_20_mm_in_15_minutes() -> None:
    e = engine([shipped("seoul.inundation_forecast_15min")], [info(1, "rainfall_1min")])
    out = e.process([obs(1, m, 1.5) for m in range(1, 14)])  # 19.5 mm in 13 min
    assert out == []
    (c,) = e.process([obs(1, 14, 1.0)])  # 20.5 mm in (−1, 14]
    assert (c.level, c.stage_ko) == (Crisis.caution, "침수 예보 기준")
