# SPDX-License-Identifier: Apache-2.0
"""Rule files (docs/rules.md): durations, validation errors that name file / rule / field, and loading
files and folders (a broken rule never stops the others)."""

from __future__ import annotations

from pathlib import Path

import pytest

from safecity.situation.rules import (
    PACKS_DIR,
    RuleError,
    format_duration,
    load_paths,
    load_rules,
    load_text,
    parse_duration,
    validate_rule,
)

GOOD = """
[[rule]]
id = "{id}"
version = {version}
hazard = "heavy_rain"
name_ko = "호우"
name_en = "Heavy rain"

[rule.select]
properties = ["rainfall_10min"]

[rule.signals]
sum3h = {{ fn = "sum", window = "3h" }}

[[rule.level]]
crisis = "caution"
name_ko = "호우주의보"
name_en = "Heavy rain advisory"
any = [{{ signal = "sum3h", above = 60.0 }}]
clear_after = "30m"

[[rule.level]]
crisis = "alert"
name_ko = "호우경보"
name_en = "Heavy rain warning"
any = [{{ signal = "sum3h", above = 90.0 }}]
"""


def good(rid: str = "city.rain", version: int = 1) -> str:
    return GOOD.format(id=rid, version=version)


def body(**changes: object) -> dict[str, object]:
    """A valid rule as a dict (what the API receives), with some keys replaced."""
    b: dict[str, object] = {
        "id": "city.test",
        "version": 1,
        "hazard": "other",
        "name_ko": "시험",
        "name_en": "Test",
        "select": {"properties": ["water_level"]},
        "signals": {"x": {"fn": "last"}, "d": {"fn": "daily_max"}},
        "level": [
            {
                "crisis": "caution",
                "name_ko": "주의",
                "name_en": "Caution",
                "any": [{"signal": "x", "above": 1}],
            },
            {"crisis": "alert", "name_ko": "경계", "name_en": "Alert", "any": [{"signal": "x", "above": 2}]},
        ],
    }
    b.update(changes)
    return b


def errors_of(b: dict[str, object]) -> list[RuleError]:
    rule, errors = validate_rule(b, "api")
    assert rule is None, "expected the rule to be refused"
    assert errors
    return errors


def where_msgs(errors: list[RuleError]) -> list[tuple[str, str]]:
    return [(e.where, e.message) for e in errors]


# --- durations ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90s", 90.0),
        ("10m", 600.0),
        ("3h", 10800.0),  # 3 × 3600
        ("2d", 172800.0),  # 2 × 86400
        ("1h30m", 5400.0),  # 3600 + 30 × 60
        ("1.5h", 5400.0),
        (" 2H ", 7200.0),  # trimmed, case-insensitive
        ("0s", 0.0),
        (45, 45.0),  # a bare number is seconds
        (2.5, 2.5),
    ],
)
def test_parse_duration(text: str | int | float, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["3x", "", "h", "10", "10 m", "m10", "1h-30m", "-5m", "3h!"])
def test_parse_duration_refuses(text: str) -> None:
    with pytest.raises(ValueError, match="is not a duration"):
        parse_duration(text)


def test_parse_duration_refuses_negative_and_bool() -> None:
    with pytest.raises(ValueError, match="negative"):
        parse_duration(-1)
    with pytest.raises(ValueError):
        parse_duration(True)


def test_format_duration() -> None:
    assert [format_duration(s) for s in (86400, 10800, 600, 90, 5400)] == ["1d", "3h", "10m", "90s", "90m"]


# --- validation errors ----------------------------------------------------------------------------


def test_valid_rule_is_typed() -> None:
    rs = load_text(good(), "inline")
    assert rs.errors == []
    (loaded,) = rs.rules
    r = loaded.rule
    assert (r.id, r.version, r.scope, r.enabled) == ("city.rain", 1, "stream", True)
    assert r.signals["sum3h"].window == 10800.0  # "3h"
    assert [lv.crisis for lv in r.level] == ["caution", "alert"]
    assert r.level[0].clear_after == 1800.0 and r.level[0].for_ == 0.0
    assert r.level[1].clear_after == 0.0  # default
    assert loaded.source == "inline" and loaded.body["id"] == "city.rain"


def test_unknown_signal_names_the_field_path() -> None:
    b = body()
    levels = b["level"]
    assert isinstance(levels, list)
    levels[1]["any"] = [{"signal": "nope", "above": 2}]
    (e,) = errors_of(b)
    assert e.rule_id == "city.test" and e.source == "api"
    assert "level[1].any[0].signal: unknown signal 'nope'" in str(e)
    assert "(defined: x, d)" in e.message


def test_unknown_signal_in_a_nested_group_names_the_nested_path() -> None:
    b = body()
    levels = b["level"]
    assert isinstance(levels, list)
    levels[0]["any"] = [
        {"signal": "x", "above": 1},
        {"all": [{"signal": "x", "above": 1}, {"signal": "y", "above": 2}]},
    ]
    (e,) = errors_of(b)
    assert "level[0].any[1].all[1].signal: unknown signal 'y'" in str(e)


def test_bad_comparison_in_a_group_reports_only_the_comparison_complaint() -> None:
    b = body()
    levels = b["level"]
    assert isinstance(levels, list)
    levels[0]["any"] = [{"signal": "x", "above": 1, "below": 0}]
    # the table has `signal`: it is a comparison, so pydantic's "not a Group either" is not reported
    assert where_msgs(errors_of(b)) == [("level[0].any[0]", "give exactly one of above / below")]


def test_unknown_field_is_named() -> None:
    errs = errors_of(body(colour="red"))
    assert where_msgs(errs) == [("colour", "unknown field (see docs/rules.md for the fields a rule takes)")]
    b = body()
    levels = b["level"]
    assert isinstance(levels, list)
    levels[0]["colour"] = "red"
    assert [e.where for e in errors_of(b)] == ["level[0].colour"]


def test_bad_duration_is_named() -> None:
    errs = errors_of(body(signals={"s": {"fn": "sum", "window": "3x"}}))
    assert len(errs) == 1
    assert errs[0].where == "signals.s.window"
    assert "'3x' is not a duration" in errs[0].message
    b = body()
    levels = b["level"]
    assert isinstance(levels, list)
    levels[0]["for"] = "5 minutes"
    (e,) = errors_of(b)
    assert e.where == "level[0].for" and "not a duration" in e.message


def test_bad_crisis_is_named() -> None:
    b = body()
    levels = b["level"]
    assert isinstance(levels, list)
    levels[1]["crisis"] = "severe"
    (e,) = errors_of(b)
    assert e.where == "level[1].crisis"
    assert "'attention', 'caution', 'alert' or 'serious'" in e.message


@pytest.mark.parametrize("crises", [("alert", "caution"), ("caution", "caution")])
def test_levels_must_rise_strictly(crises: tuple[str, str]) -> None:
    b = body()
    levels = b["level"]
    assert isinstance(levels, list)
    levels[0]["crisis"], levels[1]["crisis"] = crises
    (e,) = errors_of(b)
    assert "level: levels must rise strictly" in str(e)


def test_daily_signal_needs_days_and_days_needs_daily() -> None:
    b = body()
    levels = b["level"]
    assert isinstance(levels, list)
    levels[0]["any"] = [{"signal": "d", "above": 33}]
    (e,) = errors_of(b)
    assert "level[0].any[0]: a daily signal needs days = n" in str(e)
    levels[0]["any"] = [{"signal": "x", "above": 33, "days": 2}]
    (e,) = errors_of(b)
    assert "level[0].any[0].days: only for daily_max / daily_min" in str(e)
    levels[0]["any"] = [{"signal": "d", "above": 33, "days": 0}]
    (e,) = errors_of(b)
    assert e.where == "level[0].any[0].days"


@pytest.mark.parametrize(
    ("comparison", "message"),
    [
        ({"signal": "x"}, "give exactly one of above / below"),
        ({"signal": "x", "above": 5, "clear_below": 6}, "clear_below (6.0) must not exceed above (5.0)"),
        ({"signal": "x", "below": 5, "clear_below": 4}, "clear_below goes with above"),
        ({"signal": "x", "below": 5, "clear_above": 4}, "clear_above (4.0) must not be below below (5.0)"),
        ({"signal": "x", "above": 5, "clear_above": 6}, "clear_above goes with below"),
    ],
)
def test_comparison_errors(comparison: dict[str, object], message: str) -> None:
    b = body()
    levels = b["level"]
    assert isinstance(levels, list)
    levels[0]["any"] = [comparison]
    assert where_msgs(errors_of(b)) == [("level[0].any[0]", message)]


def test_of_is_accepted_with_above_and_below() -> None:
    b = body()
    levels = b["level"]
    assert isinstance(levels, list)
    levels[0]["any"] = [
        {"signal": "x", "above": 0.8, "of": "allowable"},
        {"signal": "x", "below": -0.8, "of": "allowable"},
    ]
    rule, errors = validate_rule(b, "api")
    assert errors == [] and rule is not None
    comps = rule.level[0].any
    assert comps is not None
    assert [(c.above, c.below, c.of) for c in comps] == [(0.8, None, "allowable"), (None, -0.8, "allowable")]  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("signals", "where", "message"),
    [
        ({"x": {"fn": "sum"}}, "signals.x", "fn = 'sum' needs a window"),
        ({"x": {"fn": "last", "window": "1h"}}, "signals.x", "fn = 'last' takes no window"),
        ({"x": {"fn": "last", "hours": "00-09"}}, "signals.x", "hours applies only to daily_max / daily_min"),
        ({"x": {"fn": "daily_min", "hours": "09-00"}}, "signals.x.hours", "write local hours as 'HH-HH'"),
        ({"x": {"fn": "median", "window": "1h"}}, "signals.x.fn", "Input should be"),
        ({"x": {"fn": "rate", "window": "1h", "per": "d"}}, "signals.x.per", "Input should be"),
    ],
)
def test_signal_errors(signals: dict[str, object], where: str, message: str) -> None:
    errs = errors_of(body(signals=signals))
    assert any(e.where == where and message in e.message for e in errs), where_msgs(errs)


def test_rule_level_errors() -> None:
    assert "unknown hazard 'tsunami'" in errors_of(body(hazard="tsunami"))[0].message
    (e,) = errors_of(body(id="City.Rain"))
    assert e.where == "id" and "lower-case" in e.message and e.rule_id == "City.Rain"
    (e,) = errors_of(body(version=0))
    assert e.where == "version"
    (e,) = errors_of(body(scope="area"))
    assert "needs an [rule.area] table" in e.message
    (e,) = errors_of(body(area={"kind": "district"}))
    assert "only for scope = 'area'" in e.message
    (e,) = errors_of(body(signals={"x": {"fn": "last", "property": "water_level"}}))
    assert e.where == "signals.x" and "property is only for scope = 'thing'" in e.message
    (e,) = errors_of(body(scope="thing"))
    assert e.where == "signals.x" and "every signal names its property" in e.message
    (e,) = errors_of(body(select={"properties": []}))
    assert e.where == "select.properties"
    (e,) = errors_of(body(level=[]))
    assert e.where == "level"


@pytest.mark.parametrize(
    ("lift", "where", "message"),
    [
        ({"all": [{"signal": "nope", "below": 1}]}, "lift.all[0].signal", "unknown signal 'nope'"),
        ({"all": [{"signal": "d", "below": 1, "days": 2}]}, "lift.all[0]", "not days, ages or 'of'"),
        ({"any": [{"signal": "x", "above": 5, "clear_below": 4}]}, "lift.any[0]", "a lift has no hysteresis"),
        ({"all": [{"signal": "x", "below": 1}], "after": "soon"}, "lift.after", "is not a duration"),
        ({"all": []}, "lift", "an any / all list cannot be empty"),
    ],
)
def test_lift_errors(lift: dict[str, object], where: str, message: str) -> None:
    errs = errors_of(body(lift=lift))
    assert any(e.where == where and message in e.message for e in errs), where_msgs(errs)


def test_a_rule_without_a_string_id_is_reported_without_one() -> None:
    b = body()
    del b["id"]
    errs = errors_of(b)
    assert [(e.rule_id, e.where) for e in errs] == [(None, "id")]
    assert str(errs[0]).startswith("api: id: ")


def test_error_string_and_json() -> None:
    e = RuleError("packs/x.toml", "x.y", "level[0].crisis", "bad")
    assert str(e) == "packs/x.toml: rule 'x.y' level[0].crisis: bad"
    assert e.to_json() == {
        "source": "packs/x.toml",
        "rule": "x.y",
        "where": "level[0].crisis",
        "message": "bad",
    }
    assert str(RuleError("f.toml", None, "", "not valid TOML")) == "f.toml: not valid TOML"


# --- files and folders ----------------------------------------------------------------------------


def test_a_broken_rule_does_not_stop_the_others_in_its_file(tmp_path: Path) -> None:
    broken = good("city.broken").replace('window = "3h"', 'window = "3x"')
    f = tmp_path / "city.toml"
    f.write_text(good("city.a") + broken + good("city.c"), encoding="utf-8")
    rs = load_paths([f])
    assert [r.rule.id for r in rs.rules] == ["city.a", "city.c"]
    assert [r.source for r in rs.rules] == [f"file:{f}"] * 2
    (e,) = rs.errors
    assert (e.source, e.rule_id, e.where) == (str(f), "city.broken", "signals.sum3h.window")
    assert str(e).startswith(f"{f}: rule 'city.broken' signals.sum3h.window: '3x' is not a duration")


def test_toml_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    f = tmp_path / "bad.toml"
    f.write_text('[[rule]]\nid = "x"\nversion = \nhazard = "other"\n', encoding="utf-8")
    (e,) = load_paths([f]).errors
    assert e.source == str(f) and e.rule_id is None
    assert e.message.startswith("not valid TOML") and "line 3" in e.message


def test_file_without_rules_and_non_table_rules(tmp_path: Path) -> None:
    empty = tmp_path / "a_empty.toml"
    empty.write_text('pack = "nothing"\n', encoding="utf-8")
    odd = tmp_path / "b_odd.toml"
    odd.write_text("rule = [1]\n", encoding="utf-8")
    rs = load_paths([tmp_path])
    assert rs.rules == []
    assert [(e.source, e.where, e.message) for e in rs.errors] == [
        (str(empty), "rule", "a rule file holds one or more [[rule]] tables"),
        (str(odd), "rule[0]", "must be a table"),
    ]


def test_duplicate_ids_across_files(tmp_path: Path) -> None:
    a, b = tmp_path / "a.toml", tmp_path / "b.toml"
    a.write_text(good("city.dup"), encoding="utf-8")
    b.write_text(good("city.dup", version=2) + good("city.other"), encoding="utf-8")
    rs = load_paths([tmp_path])  # a folder: files sorted, a.toml first
    assert [(r.rule.id, r.rule.version, r.source) for r in rs.rules] == [
        ("city.dup", 1, f"file:{a}"),
        ("city.other", 1, f"file:{b}"),
    ]
    (e,) = rs.errors
    assert (e.source, e.rule_id, e.where) == (str(b), "city.dup", "id")
    assert e.message == f"duplicate rule id; already defined in {a}"


def test_missing_path_and_non_toml_files(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("not a rule", encoding="utf-8")
    (tmp_path / "r.toml").write_text(good(), encoding="utf-8")
    rs = load_paths([tmp_path, tmp_path / "gone.toml"])
    assert [r.rule.id for r in rs.rules] == ["city.rain"]  # the .txt in the folder is not read
    assert [(e.source, e.message) for e in rs.errors] == [
        (str(tmp_path / "gone.toml"), "no such file or folder")
    ]


def test_shipped_packs_load() -> None:
    rs = load_rules()
    assert rs.errors == []
    assert rs.rules and all(r.source.startswith(f"file:{PACKS_DIR}") for r in rs.rules)
    assert len(rs.by_id()) == len(rs.rules)


def test_a_city_rule_replaces_a_shipped_one_by_id(tmp_path: Path) -> None:
    shipped = load_rules()
    city = tmp_path / "city"
    city.mkdir()
    (city / "rain.toml").write_text(good("kma.heavy_rain", version=7) + good("city.extra"), encoding="utf-8")
    rs = load_rules([city])
    assert rs.errors == []
    ids = [r.rule.id for r in rs.rules]
    assert len(ids) == len(set(ids)) == len(shipped.rules) + 1  # replaced one, added one
    mine = rs.by_id()["kma.heavy_rain"]
    assert mine.rule.version == 7 and mine.source == f"file:{city / 'rain.toml'}"
    # every other shipped rule is still there, unchanged
    for r in shipped.rules:
        if r.rule.id != "kma.heavy_rain":
            assert rs.by_id()[r.rule.id].rule == r.rule


def test_load_rules_keeps_errors_of_city_files(tmp_path: Path) -> None:
    f = tmp_path / "x.toml"
    f.write_text(good("kma.heavy_rain").replace('crisis = "alert"', 'crisis = "loud"'), encoding="utf-8")
    rs = load_rules([f])
    # the broken replacement does not load, so the shipped rule stays
    assert rs.by_id()["kma.heavy_rain"].source.startswith(f"file:{PACKS_DIR}")
    (e,) = rs.errors
    assert (e.source, e.rule_id, e.where) == (str(f), "kma.heavy_rain", "level[1].crisis")
