# SPDX-License-Identifier: Apache-2.0
"""Property tests of rule files: any text gives a rule set with errors naming where, any rule table
validates or gives errors with a field path, a generated valid rule validates, and saving any body
through the API is a 2xx or a 4xx on both stores.
"""

from __future__ import annotations

import copy
import math
from datetime import timedelta
from typing import Any

import orjson
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from safecity.situation.model import HAZARDS
from safecity.situation.rules import RuleDef, load_rules, load_text, parse_duration, validate_rule
from tests.fuzz.conftest import Stack

FAST = settings(max_examples=150, deadline=None, derandomize=True, database=None)
API = settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
SHIPPED = [r.body for r in load_rules().rules]

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**64), 2**64)
    | st.floats()
    | st.text(max_size=12)
    | st.sampled_from(["3h", "10m", "1h30m", "9" * 400 + "h", "-1s", "00-09", "25-26", "attention", "sum"]),
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=6), c, max_size=3),
    max_leaves=5,
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*prefix, i))
    return out


@st.composite
def mutated_rules(draw: st.DrawFn) -> dict[str, Any]:
    """A shipped rule with a few values replaced or removed, or a key added."""
    body: dict[str, Any] = copy.deepcopy(draw(st.sampled_from(SHIPPED)))
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(_paths(body)[1:]))
        parent: Any = body
        for p in path[:-1]:
            parent = parent[p]
        action = draw(st.sampled_from(["replace", "delete", "add"]))
        if action == "delete" and isinstance(parent, dict):
            del parent[path[-1]]
        elif action == "add" and isinstance(parent, dict):
            parent[draw(st.text(max_size=6))] = draw(json_values)
        else:
            parent[path[-1]] = draw(json_values)
        if not _paths(body)[1:]:
            break
    return body


@FAST
@given(
    text=st.text(max_size=300) | st.sampled_from(["[[rule]]\nid = 1", "rule = 3", "[[rule]]\n[rule.select]"])
)
def test_any_text_loads_to_rules_or_errors(text: str) -> None:
    out = load_text(text, "fuzz.toml")
    assert out.rules or out.errors
    for e in out.errors:
        assert e.source == "fuzz.toml" and e.message


@FAST
@given(body=mutated_rules() | st.dictionaries(st.text(max_size=8), json_values, max_size=5))
@example(body={**SHIPPED[0], "signals": {"s": {"fn": "sum", "window": "9" * 400 + "h"}}})
@example(body={**SHIPPED[0], "level": [{**SHIPPED[0]["level"][0], "for": "99999999999999d"}]})
@example(body={**SHIPPED[0], "level": [{**SHIPPED[0]["level"][0], "clear_after": ["1h"]}]})
def test_any_rule_table_validates_or_names_the_field(body: dict[str, Any]) -> None:
    rule, errors = validate_rule(body, "fuzz")
    assert (rule is None) == bool(errors)
    for e in errors:
        assert e.message
    if rule is not None:
        _check_durations(rule)


def _check_durations(rule: RuleDef) -> None:
    """The engine turns durations into timedeltas; an accepted rule's must be finite and fit one."""
    seconds = [lv.for_ for lv in rule.level] + [lv.clear_after for lv in rule.level]
    seconds += [s.window or 0.0 for s in rule.signals.values()] + [s.max_age for s in rule.signals.values()]
    for value in seconds:
        assert math.isfinite(value), rule
        timedelta(seconds=value)


@st.composite
def valid_rules(draw: st.DrawFn) -> dict[str, Any]:
    fns = ["last", "sum", "max", "min", "mean", "rate"]
    n = draw(st.integers(1, 3))
    signals: dict[str, Any] = {}
    for i in range(n):
        fn = draw(st.sampled_from(fns))
        sig: dict[str, Any] = {"fn": fn}
        if fn in ("sum", "max", "min", "mean", "rate"):
            sig["window"] = draw(st.sampled_from(["10m", "1h", "3h", "1h30m", "2d", 600]))
        signals[f"s{i}"] = sig
    crises = draw(
        st.lists(
            st.sampled_from(["attention", "caution", "alert", "serious"]), min_size=1, max_size=4, unique=True
        )
    )
    order = ["attention", "caution", "alert", "serious"]
    levels = []
    for crisis in sorted(crises, key=order.index):
        comps = [
            {
                "signal": draw(st.sampled_from(sorted(signals))),
                "above": draw(st.floats(-1e6, 1e6, allow_nan=False)),
            }
            for _ in range(draw(st.integers(1, 2)))
        ]
        levels.append(
            {
                "crisis": crisis,
                "name_ko": "단계",
                "name_en": "level",
                draw(st.sampled_from(["any", "all"])): comps,
                "for": draw(st.sampled_from(["0s", "10m", 30])),
            }
        )
    return {
        "id": draw(st.from_regex(r"\A[a-z0-9][a-z0-9_.\-]{0,20}\Z")),
        "version": draw(st.integers(1, 1000)),
        "hazard": draw(st.sampled_from(sorted(HAZARDS))),
        "name_ko": "규칙",
        "name_en": "rule",
        "select": {"properties": [draw(st.sampled_from(["rainfall_10min", "water_level", "x"]))]},
        "signals": signals,
        "level": levels,
    }


@FAST
@given(body=valid_rules())
def test_a_generated_valid_rule_validates(body: dict[str, Any]) -> None:
    rule, errors = validate_rule(body, "fuzz")
    assert rule is not None, errors
    assert rule.id == body["id"] and len(rule.level) == len(body["level"])


def test_durations_round_numbers() -> None:
    assert parse_duration("1h30m") == 5400.0


@API
@given(body=mutated_rules() | valid_rules(), as_toml=st.booleans())
def test_saving_any_rule_through_the_api_is_never_a_5xx(
    stacks: dict[str, Stack], body: dict[str, Any], as_toml: bool
) -> None:
    rule_id = body.get("id") if isinstance(body.get("id"), str) and body["id"] else "fuzz.rule"
    content = orjson.dumps(body, option=orjson.OPT_NON_STR_KEYS) if not as_toml else _toml(body)
    ctype = "application/toml" if as_toml else "application/json"
    for stack in stacks.values():
        r = stack.client.put(
            f"/situation/rules/{rule_id}", content=content, headers={**stack.headers, "Content-Type": ctype}
        )
        assert r.status_code < 500, f"{stack.dialect}: {r.status_code} {r.text}"


def _toml(body: dict[str, Any]) -> bytes:
    """A crude TOML rendition (JSON values are mostly TOML inline values); a broken one is also input."""
    lines = ["[[rule]]"]
    for k, v in body.items():
        lines.append(
            f"{orjson.dumps(str(k)).decode()} = {orjson.dumps(v, option=orjson.OPT_NON_STR_KEYS).decode()}"
        )
    return "\n".join(lines).encode()


def test_an_endless_window_names_the_field() -> None:
    """Found by fuzzing: '999…9h' parsed to inf and '99999999999999d' overflowed the engine's timedelta."""
    for window in ("9" * 400 + "h", "99999999999999d", 10**30):
        body = {**SHIPPED[0], "signals": {"peak": {"fn": "max", "window": window}}}
        rule, errors = validate_rule(body, "fuzz")
        assert rule is None and errors[0].where == "signals.peak.window", errors
        assert "366d" in errors[0].message


def test_a_list_for_a_duration_names_the_field() -> None:
    """Found by fuzzing: a list for clear_after raised AttributeError out of the validator."""
    body = {**SHIPPED[0], "level": [{**SHIPPED[0]["level"][0], "clear_after": ["1h"]}]}
    rule, errors = validate_rule(body, "fuzz")
    assert rule is None and errors[0].where == "level[0].clear_after", errors
