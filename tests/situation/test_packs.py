# SPDX-License-Identifier: Apache-2.0
"""The shipped rule packs: they load with the real loader, they only name things that exist, and the
official numbers in them are the official numbers (an accidental edit of a threshold fails here).

The sources of the numbers are cited in the pack files themselves.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from safecity.sensing.catalogue import load_catalogue
from safecity.sensing.directory import StreamInfo
from safecity.sensing.events import ObservationAccepted
from safecity.situation.engine import Engine
from safecity.situation.model import HAZARDS
from safecity.situation.rules import (
    PACKS_DIR,
    Comparison,
    Group,
    LevelDef,
    RuleDef,
    comparisons,
    load_paths,
    load_rules,
)

HANGUL = re.compile(r"[\uac00-\ud7a3]")
PACKS = ("kma_weather.toml", "han_river.toml", "facility.toml", "sensors.toml", "air_quality.toml")
CRISES = ("attention", "caution", "alert", "serious")
VIRTUAL_PROPERTIES = {"apparent_temperature"}
SHARE_KEYS = {"allowable", "landslide_threshold", "expected_interval"}


@pytest.fixture(scope="module")
def rules() -> dict[str, RuleDef]:
    rs = load_paths([PACKS_DIR / name for name in PACKS])
    assert rs.errors == [], "\n".join(map(str, rs.errors))
    return {r.rule.id: r.rule for r in rs.rules}


def _flat(conds: tuple[Any, ...] | None) -> Iterator[Comparison]:
    for c in conds or ():
        if isinstance(c, Comparison):
            yield c
        else:
            assert isinstance(c, Group)
            yield from _flat(c.any or c.all)


def _level(rule: RuleDef, crisis: str) -> LevelDef:
    found = [lv for lv in rule.level if lv.crisis == crisis]
    assert len(found) == 1, (rule.id, crisis)
    return found[0]


def _thresholds(rule: RuleDef, crisis: str, signal: str) -> list[tuple[str, float, int | None]]:
    """(comparison, value, days) of every comparison on ``signal`` in the level."""
    lv = _level(rule, crisis)
    out: list[tuple[str, float, int | None]] = []
    for c in _flat(lv.any or lv.all):
        if c.signal != signal:
            continue
        if c.above is not None:
            out.append(("above", c.above, c.days))
        elif c.below is not None:
            out.append(("below", c.below, c.days))
    return out


# --- loading and structure -------------------------------------------------------------------------------


def test_every_pack_file_is_valid_toml_and_loads_without_errors() -> None:
    for name in PACKS:
        path = PACKS_DIR / name
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
        assert HANGUL.search(doc["name_ko"]) and doc["name_en"], name
        part = load_paths([path])
        assert part.errors == [], "\n".join(map(str, part.errors))
        assert len(part.rules) == len(doc["rule"]), name


def test_the_shipped_set_contains_these_packs(rules: dict[str, RuleDef]) -> None:
    shipped = load_rules()
    assert shipped.errors == [], "\n".join(map(str, shipped.errors))
    assert set(rules) <= {r.rule.id for r in shipped.rules}
    assert set(rules) == {
        "kma.heavy_rain",
        "seoul.inundation_forecast",
        "seoul.inundation_forecast_15min",
        "kma.heat_wave",
        "kma.cold_wave",
        "kma.strong_wind",
        "seoul.pm10",
        "seoul.pm2_5",
        "hrfco.hangang_bridge",
        "seoul.jamsu_bridge",
        "facility.structural_management",
        "facility.underpass_flooding",
        "fire.smoke",
        "fire.heat_rise",
        "fire.co",
        "fire.smoke_heat",
        "fire.smoke_co",
        "fire.heat_co",
        "gas.combustible_lel",
        "kfs.landslide_soil_water",
        "sensor.stale",
    }


def test_names_are_bilingual_and_levels_are_crisis_levels(rules: dict[str, RuleDef]) -> None:
    for rule in rules.values():
        assert HANGUL.search(rule.name_ko) and rule.name_en.strip(), rule.id
        assert rule.hazard in HAZARDS, rule.id
        crises = [lv.crisis for lv in rule.level]
        assert all(c in CRISES for c in crises), rule.id
        assert crises == sorted(crises, key=CRISES.index) and len(set(crises)) == len(crises), rule.id
        for lv in rule.level:
            assert HANGUL.search(lv.name_ko) and lv.name_en.strip(), (rule.id, lv.crisis)


def test_rules_name_only_catalogue_properties_and_known_share_keys(rules: dict[str, RuleDef]) -> None:
    keys = {s.key for s in load_catalogue()} | VIRTUAL_PROPERTIES
    for rule in rules.values():
        assert set(rule.select.properties) <= keys, (rule.id, set(rule.select.properties) - keys)
        for name, sig in rule.signals.items():
            if sig.property is not None:
                assert sig.property in rule.select.properties, (rule.id, name)
        for c in comparisons(rule):
            assert c.of is None or c.of in SHARE_KEYS, (rule.id, c.of)


def test_every_pack_cites_its_numbers() -> None:
    # Each file says where its numbers come from: a source, or "judgement" where the number is ours;
    # UNCONFIRMED marks a figure no official source was found for.
    for name in PACKS:
        text = (PACKS_DIR / name).read_text(encoding="utf-8")
        assert "Source" in text or "judgement" in text, name
    assert "UNCONFIRMED" in (PACKS_DIR / "facility.toml").read_text(encoding="utf-8")


# --- KMA special weather reports -------------------------------------------------------------------------


def test_heavy_rain_kma_criteria(rules: dict[str, RuleDef]) -> None:
    r = rules["kma.heavy_rain"]
    assert r.hazard == "heavy_rain" and r.scope == "stream"
    assert set(r.select.properties) == {"rainfall_1min", "rainfall_10min", "rainfall_1h"}
    assert (r.signals["sum3h"].fn, r.signals["sum3h"].window) == ("sum", 3 * 3600)
    assert (r.signals["sum12h"].fn, r.signals["sum12h"].window) == ("sum", 12 * 3600)
    assert (r.signals["sum1h"].fn, r.signals["sum1h"].window) == ("sum", 3600)
    assert [lv.crisis for lv in r.level] == ["caution", "alert", "serious"]
    # 호우주의보 60 mm / 3 h or 110 mm / 12 h; 호우경보 90 / 180 (KMA, since 1 Jun 2018).
    assert _level(r, "caution").any is not None
    assert _thresholds(r, "caution", "sum3h") == [("above", 60.0, None)]
    assert _thresholds(r, "caution", "sum12h") == [("above", 110.0, None)]
    assert _level(r, "alert").any is not None
    assert _thresholds(r, "alert", "sum3h") == [("above", 90.0, None)]
    assert _thresholds(r, "alert", "sum12h") == [("above", 180.0, None)]
    # 극한호우: (1 h ≥ 50 mm and 3 h ≥ 90 mm) or 1 h ≥ 72 mm (KMA, since 15 Jun 2023).
    serious = _level(r, "serious")
    assert serious.any is not None and len(serious.any) == 2
    both, alone = serious.any
    assert isinstance(both, Group) and both.all is not None
    assert {(c.signal, c.above) for c in _flat(both.all)} == {("sum1h", 50.0), ("sum3h", 90.0)}
    assert isinstance(alone, Comparison) and (alone.signal, alone.above) == ("sum1h", 72.0)
    # the rain has stopped (≤ 0.5 mm in 30 min, for 10 min): every level falls within 40 min
    assert r.lift is not None and r.lift.after == 600
    assert r.signals["sum30m"].window == 1800 and r.lift_within_s == 2400


def test_seoul_inundation_forecast_criteria(rules: dict[str, RuleDef]) -> None:
    # Seoul 침수 예보: 55 mm in 1 h (every rain stream) or 20 mm in 15 min (1-min gauges only)
    hourly, quarter = rules["seoul.inundation_forecast"], rules["seoul.inundation_forecast_15min"]
    assert _thresholds(hourly, "caution", "sum1h") == [("above", 55.0, None)]
    assert quarter.select.properties == ("rainfall_1min",)
    assert quarter.signals["sum15m"].window == 900
    assert _thresholds(quarter, "caution", "sum15m") == [("above", 20.0, None)]
    assert hourly.lift_within_s == quarter.lift_within_s == 2400


def test_heat_wave_kma_criteria(rules: dict[str, RuleDef]) -> None:
    r = rules["kma.heat_wave"]
    assert r.select.properties == ("apparent_temperature",)
    assert r.signals["tmax"].fn == "daily_max"
    assert _thresholds(r, "caution", "tmax") == [("above", 33.0, 2)]
    assert _thresholds(r, "alert", "tmax") == [("above", 35.0, 2)]


def test_cold_wave_kma_criteria(rules: dict[str, RuleDef]) -> None:
    r = rules["kma.cold_wave"]
    assert r.select.properties == ("air_temperature",)
    sig = r.signals["tmin_morning"]
    assert (sig.fn, sig.hours) == ("daily_min", (0, 9))
    drop = r.signals["drop_morning"]
    assert (drop.fn, drop.hours) == ("daily_min_drop", (0, 9))
    # (a) a fall of ≥ 10 °C (경보 15 °C) from the day before to ≤ 3 °C; (b) ≤ −12 °C (−15 °C) for 2 days
    assert _thresholds(r, "caution", "tmin_morning") == [("below", 3.0, 1), ("below", -12.0, 2)]
    assert _thresholds(r, "alert", "tmin_morning") == [("below", 3.0, 1), ("below", -15.0, 2)]
    assert _thresholds(r, "caution", "drop_morning") == [("above", 10.0, None)]
    assert _thresholds(r, "alert", "drop_morning") == [("above", 15.0, None)]


def test_strong_wind_kma_land_criteria(rules: dict[str, RuleDef]) -> None:
    r = rules["kma.strong_wind"]
    assert r.scope == "thing"
    assert (r.signals["mean"].property, r.signals["gust"].property) == ("wind_speed", "wind_gust")
    assert _thresholds(r, "caution", "mean") == [("above", 14.0, None)]
    assert _thresholds(r, "caution", "gust") == [("above", 20.0, None)]
    assert _thresholds(r, "alert", "mean") == [("above", 21.0, None)]
    assert _thresholds(r, "alert", "gust") == [("above", 26.0, None)]


def test_wind_properties_are_in_the_catalogue() -> None:
    cat = load_catalogue()
    for key in ("wind_speed", "wind_gust"):
        spec = cat.by_key(key)
        assert (spec.unit.ucum, spec.unit.symbol) == ("m/s", "m/s")
        assert spec.unit.definition == "http://www.opengis.net/def/uom/UCUM/0/m%2Fs"
        # 113.3 m/s: WMO world record gust (Barrow Island, 1996).
        assert spec.valid_min == 0 and 113.3 <= spec.valid_max < 150
        assert spec.expected_interval_s == 60
    assert not cat.by_key("wind_gust").qc.spike_check
    assert cat.match(None, "순간풍속", "m/s") is cat.by_key("wind_gust")


# --- Han River -------------------------------------------------------------------------------------------


def test_hangang_bridge_flood_stages(rules: dict[str, RuleDef]) -> None:
    r = rules["hrfco.hangang_bridge"]
    assert r.hazard == "river_flood"
    assert r.select.properties == ("water_level",)  # gauge stage, not elevation
    assert r.select.thing_properties == {"gauge": "hangang_bridge"}
    assert _thresholds(r, "caution", "stage") == [("above", 8.5, None)]  # 홍수주의보
    assert _thresholds(r, "alert", "stage") == [("above", 10.5, None)]  # 홍수경보
    assert _thresholds(r, "serious", "stage") == [("above", 13.3, None)]  # 심각


def test_jamsu_bridge_closure_stages(rules: dict[str, RuleDef]) -> None:
    r = rules["seoul.jamsu_bridge"]
    assert r.select.properties == ("water_level",)
    assert r.select.thing_properties == {"gauge": "jamsu_bridge"}
    assert _thresholds(r, "attention", "stage") == [("above", 5.5, None)]  # pedestrians
    assert _thresholds(r, "caution", "stage") == [("above", 6.2, None)]  # vehicles


# --- fine dust -------------------------------------------------------------------------------------------


def test_fine_dust_alert_stages(rules: dict[str, RuleDef]) -> None:
    # 주의보 / 경보 on the hourly mean held 2 h; lifted (hysteresis) at the lower concentration
    for rid, stages in {
        "seoul.pm10": {"caution": (150.0, 100.0), "alert": (300.0, 150.0)},
        "seoul.pm2_5": {"caution": (75.0, 35.0), "alert": (150.0, 75.0)},
    }.items():
        r = rules[rid]
        assert r.hazard == "air_quality" and r.signals["mean1h"].window == 3600
        for crisis, (above, clear) in stages.items():
            lv = _level(r, crisis)
            (c,) = _flat(lv.all)
            assert (c.above, c.clear_below, lv.for_) == (above, clear, 3600.0), (rid, crisis)


# --- facilities, fire, gas, landslide, sensors -----------------------------------------------------------


def test_structural_management_levels_are_shares_of_the_allowable_value(rules: dict[str, RuleDef]) -> None:
    r = rules["facility.structural_management"]
    assert set(r.select.properties) == {"tilt", "crack_width", "strain", "vibration_velocity"}
    for crisis, share in (("caution", 0.8), ("alert", 1.0), ("serious", 2.0)):
        comps = list(_flat(_level(r, crisis).any))
        assert {(c.above, c.below, c.of) for c in comps} == {
            (share, None, "allowable"),
            (None, -share, "allowable"),
        }


def test_fire_rules_single_phenomenon_caution_pairs_alert(rules: dict[str, RuleDef]) -> None:
    single = {"fire.smoke": ("smoke", 10.0), "fire.heat_rise": ("heat_rise", 10.0), "fire.co": ("co", 60.0)}
    for rid, (signal, x) in single.items():
        r = rules[rid]
        assert (r.hazard, r.scope) == ("fire", "stream"), rid
        assert [lv.crisis for lv in r.level] == ["caution"], rid
        assert _thresholds(r, "caution", signal) == [("above", x, None)], rid
    rise = rules["fire.heat_rise"].signals["heat_rise"]
    assert (rise.fn, rise.per, rise.window) == ("rate", "min", 180)
    pairs = {
        "fire.smoke_heat": {("smoke", 10.0), ("heat_rise", 10.0)},
        "fire.smoke_co": {("smoke", 10.0), ("co", 60.0)},
        "fire.heat_co": {("heat_rise", 10.0), ("co", 60.0)},
    }
    for rid, want in pairs.items():
        r = rules[rid]
        assert (r.hazard, r.scope) == ("fire", "thing"), rid
        assert [lv.crisis for lv in r.level] == ["alert"], rid
        lv = _level(r, "alert")
        assert lv.all is not None and {(c.signal, c.above) for c in _flat(lv.all)} == want, rid


def test_combustible_gas_alarm_points(rules: dict[str, RuleDef]) -> None:
    r = rules["gas.combustible_lel"]
    assert r.select.properties == ("combustible_gas",)
    assert _thresholds(r, "caution", "lel") == [("above", 25.0, None)]  # 1/4 LEL
    assert _thresholds(r, "alert", "lel") == [("above", 50.0, None)]


def test_underpass_flooding_depths(rules: dict[str, RuleDef]) -> None:
    r = rules["facility.underpass_flooding"]
    assert r.select.properties == ("road_water_depth",) and r.hazard == "heavy_rain"
    got = [(lv.crisis, [(c.above, c.clear_below) for c in _flat(lv.all)]) for lv in r.level]
    assert got == [
        ("attention", [(0.05, 0.03)]),
        ("caution", [(0.15, 0.10)]),  # closure depth
        ("alert", [(0.30, 0.25)]),  # NWS: 12 inches float many cars
        ("serious", [(0.60, 0.50)]),  # NWS: 2 feet carry away most vehicles
    ]


def test_landslide_soil_water_shares(rules: dict[str, RuleDef]) -> None:
    r = rules["kfs.landslide_soil_water"]
    assert r.select.properties == ("soil_moisture",)
    got = [(lv.crisis, [(c.above, c.of) for c in _flat(lv.all)]) for lv in r.level]
    assert got == [
        ("caution", [(0.8, "landslide_threshold")]),  # 산사태주의보 80 %
        ("alert", [(0.9, "landslide_threshold")]),  # 예비경보 90 %
        ("serious", [(1.0, "landslide_threshold")]),  # 경보 100 %
    ]


def test_stale_sensor_rule_covers_every_property_a_warning_reads(rules: dict[str, RuleDef]) -> None:
    r = rules["sensor.stale"]
    assert r.hazard == "sensor" and r.signals["age"].fn == "age"
    assert [(c.above, c.of) for c in _flat(_level(r, "attention").all)] == [(3.0, "expected_interval")]
    assert [lv.crisis for lv in r.level] == ["attention"]
    read = set()
    for rule in rules.values():
        if rule.id != "sensor.stale":
            read |= set(rule.select.properties)
    real = read - VIRTUAL_PROPERTIES
    assert real <= set(r.select.properties), real - set(r.select.properties)
    # apparent_temperature is computed from these two.
    assert {"air_temperature", "relative_humidity"} <= set(r.select.properties)


def test_rule_ids_are_unique_across_the_pack_folder() -> None:
    ids: list[str] = []
    for path in sorted(Path(PACKS_DIR).glob("*.toml")):
        ids += [body["id"] for body in tomllib.loads(path.read_text(encoding="utf-8"))["rule"]]
    assert len(ids) == len(set(ids))


# --- the packs through the real engine (a short replay each) ---------------------------------------------

T0 = datetime(2025, 7, 1, tzinfo=UTC)


def _replay(
    infos: list[StreamInfo], samples: Sequence[tuple[int, float, float]]
) -> list[tuple[str, str, str, float]]:
    """(rule, subject, new level, minutes after T0) for every change; samples are (datastream, minute, value)."""
    rs = load_paths([PACKS_DIR / name for name in PACKS])
    engine = Engine()
    engine.plan(rs.rules, infos)
    events = [
        ObservationAccepted(i + 1, ds, None, 1, T0 + timedelta(minutes=m), None, None, v, 0)
        for i, (ds, m, v) in enumerate(sorted(samples, key=lambda s: s[1]))
    ]
    return [
        (c.rule_id, c.subject, c.level.name, (c.at - T0).total_seconds() / 60) for c in engine.process(events)
    ]


def test_replay_heavy_rain_advisory_at_60_mm_in_3_hours() -> None:
    infos = [StreamInfo(1, "rain", "rainfall_10min", 1, "AWS", expected_interval_s=600)]
    # 10-min totals of 5 mm: the 3-h sum reaches 60 mm with the 12th total (minute 120).
    got = _replay(infos, [(1, 10 * (i + 1), 5.0) for i in range(12)])
    assert got == [("kma.heavy_rain", "ds:1", "caution", 120.0)]


def test_replay_hangang_bridge_stages_need_the_gauge_property() -> None:
    infos = [
        StreamInfo(
            1, "stage", "water_level", 1, "Hangang Bridge", thing_properties={"gauge": "hangang_bridge"}
        ),
        StreamInfo(2, "stage", "water_level", 2, "Some other gauge"),
    ]
    samples = [(ds, m, v) for ds in (1, 2) for m, v in ((0, 8.4), (1, 8.5), (2, 10.49), (3, 10.5))]
    got = _replay(infos, samples)
    assert got == [
        ("hrfco.hangang_bridge", "ds:1", "caution", 1.0),
        ("hrfco.hangang_bridge", "ds:1", "alert", 3.0),
    ]


def test_replay_underpass_fills_and_drains_with_hysteresis() -> None:
    infos = [StreamInfo(1, "underpass", "road_water_depth", 1, "underpass", expected_interval_s=60)]
    depths = [0.0, 0.06, 0.16, 0.31, 0.27, 0.12, 0.09, 0.02, 0.0]
    got = _replay(infos, [(1, m, v) for m, v in enumerate(depths)])
    assert got == [
        ("facility.underpass_flooding", "ds:1", "attention", 1.0),
        ("facility.underpass_flooding", "ds:1", "caution", 2.0),
        ("facility.underpass_flooding", "ds:1", "alert", 3.0),
        # 0.27 and 0.12 hold their levels (clear_below 0.25 and 0.10); the rest waits for clear_after
    ]


def test_replay_fire_smoke_only_head_and_smoke_plus_heat_head() -> None:
    infos = [
        StreamInfo(1, "smoke", "smoke_obscuration", 1, "smoke-only head", expected_interval_s=60),
        StreamInfo(2, "smoke", "smoke_obscuration", 2, "multi head", expected_interval_s=60),
        StreamInfo(3, "heat", "fire_detector_temperature", 2, "multi head", expected_interval_s=60),
    ]
    samples = [(1, 0, 2.0), (1, 3, 12.0)]
    samples += [(2, m, 2.0 if m < 3 else 12.0) for m in range(5)]
    samples += [(3, m, 20.0 + 12.0 * m) for m in range(5)]  # 12 °C/min
    got = {(rule, subject, level) for rule, subject, level, _ in _replay(infos, samples)}
    assert got == {
        ("fire.smoke", "ds:1", "caution"),  # a smoke-only head still raises 주의
        ("fire.smoke", "ds:2", "caution"),
        ("fire.heat_rise", "ds:3", "caution"),
        ("fire.smoke_heat", "thing:2", "alert"),
    }


def test_replay_structural_share_of_allowable_both_directions() -> None:
    infos = [
        StreamInfo(1, "tilt", "tilt", 1, "wall", properties={"allowable": 0.5}, expected_interval_s=600),
        StreamInfo(2, "tilt", "tilt", 2, "wall without allowable", expected_interval_s=600),
    ]
    samples = [(ds, m, v) for ds in (1, 2) for m, v in ((0, 0.1), (10, -0.4), (20, 0.5))]
    got = _replay(infos, samples)
    assert got == [
        ("facility.structural_management", "ds:1", "caution", 10.0),  # -0.4 ≤ -0.8 × 0.5
        ("facility.structural_management", "ds:1", "alert", 20.0),  # 0.5 ≥ 1.0 × 0.5
    ]
