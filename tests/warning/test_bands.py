# SPDX-License-Identifier: Apache-2.0
"""Right people, right level: one alert thread per level band, re-planned when an area changes band."""

from __future__ import annotations

from collections.abc import Mapping

from safecity.situation.model import Crisis
from safecity.warning.bands import Step, Thread, plan

C, A, S = Crisis.caution, Crisis.alert, Crisis.serious


def thread(key: str, level: Crisis, *codes: str, auto: bool = False) -> Thread:
    return Thread(key, key, f"safecity,{key},2026-07-15T14:00:00+09:00", level, frozenset(codes), auto)


def apply(threads: list[Thread], steps: list[Step]) -> list[Thread]:
    """The threads in force after issuing every step."""
    out = {t.key: t for t in threads}
    for n, s in enumerate(steps):
        if s.msg_type == "Cancel":
            assert s.thread is not None
            del out[s.thread.key]
            continue
        key = s.thread.key if s.thread is not None else f"new{n}"
        out[key] = Thread(key, f"{key}.{n}", "", s.level, frozenset(s.codes), False)
    return list(out.values())


def assert_right(threads: list[Thread], levels: Mapping[str, Crisis]) -> None:
    for t in threads:
        for code in t.codes:
            assert levels.get(code, Crisis.none) >= t.level, (t, levels)
    # and everyone at a warned level has exactly the alert of their level
    for code, level in levels.items():
        mine = [t.level for t in threads if code in t.codes]
        assert mine == ([level] if level >= C else []), (code, level, threads)


def test_an_incident_with_mixed_levels_issues_one_alert_per_band_each_with_only_its_areas() -> None:
    levels = {"11590": S, "11620": A, "11680": C, "11110": Crisis.attention}
    steps = plan(levels, [])
    assert [(s.msg_type, s.level, s.codes) for s in steps] == [
        ("Alert", S, ("11590",)),
        ("Alert", A, ("11620",)),
        ("Alert", C, ("11680",)),
    ]  # 관심 (11110) is for the situation room: no alert
    assert not any(s.lowering for s in steps)  # new alerts wait for the operator (or the auto levels)
    assert_right(apply([], steps), levels)


def test_a_district_moving_band_updates_both_threads_so_each_alert_matches_its_area() -> None:
    before = [thread("t3", A, "11590", "11620"), thread("t2", C, "11680")]
    # 관악구 rises to 심각: the 경계 alert drops it, a new 심각 alert covers it
    up = {"11590": A, "11620": S, "11680": C}
    steps = plan(up, before)
    assert [(s.msg_type, s.level, s.codes) for s in steps] == [
        ("Alert", S, ("11620",)),
        ("Update", A, ("11590",)),
    ]
    # the Update must not go out before the 심각 alert: dropping a district that rose is not "lowering"
    assert not any(s.lowering for s in steps)
    after = apply(before, steps)
    assert_right(after, up)
    # 관악구 falls back to 주의: its 심각 alert ends ("lowered", not "all clear") and the 주의 alert
    # gains it; both may go out at once because nobody is told more than they already have
    down = {"11590": A, "11620": C, "11680": C}
    steps = plan(down, after)
    kinds = {(s.msg_type, s.level, s.codes, s.lowering, s.lowered) for s in steps}
    assert kinds == {("Update", C, ("11620", "11680"), True, False), ("Cancel", S, ("11620",), True, True)}
    assert_right(apply(after, steps), down)


def test_a_whole_incident_rising_updates_its_alert_and_a_clear_cancels_every_thread() -> None:
    before = [thread("t", A, "11590", "11620")]
    steps = plan({"11590": S, "11620": S}, before)
    assert [(s.msg_type, s.level, s.thread) for s in steps] == [("Update", S, before[0])]
    after = apply(before, steps)
    assert plan({"11590": S, "11620": S}, after) == []  # nothing changed: nothing to say
    # the rain stopped: every area's level fell below 주의 -> the alert is cancelled at once, as all-clear
    cleared = plan({"11590": Crisis.attention, "11620": Crisis.none}, after)
    assert [(s.msg_type, s.lowering, s.lowered) for s in cleared] == [("Cancel", True, False)]
    assert plan({}, after)[0].msg_type == "Cancel"  # the incident closed


def test_an_alert_near_its_expiry_is_renewed_while_the_condition_lasts() -> None:
    before = [thread("t", A, "11590")]
    (step,) = plan({"11590": A}, before, renew=["t"])
    assert (step.msg_type, step.level, step.codes, step.lowering) == ("Update", A, ("11590",), True)
