# SPDX-License-Identifier: Apache-2.0
"""Issue 12's judgement of every demo scenario, minute by minute on the simulated clock
(:mod:`safecity.demo.judge`: a real platform on SQLite, the demo network, the shipped packs, the warning
service, every draft issued):

* every alert in force targets only areas whose own level is at least the alert's;
* no alert of a point incident reaches a place 2 km from it;
* no evacuation is in force two simulated hours after the rain stopped;
* nothing goes out as 위급재난문자 from the platform's own sensors;
* in the heavy rain, the flood model predicts the underpasses' 15 cm before their gauges read it, routing
  has them closed from the prediction on and a drive past each goes around it, and a warning aimed at
  them is in force before the water (issue 18).

A check that fails because of warning-side behaviour not yet on main is marked xfail with the reason
(``WARNING_PENDING``); the check itself is never weakened. ``bench/scenarios.py`` prints the figures.
"""

from __future__ import annotations

from functools import cache

import pytest

from safecity.demo import scenario
from safecity.demo.city import DemoCity, build_city
from safecity.demo.judge import Report, judge

#: one scenario's whole run (minutes of simulated time per second), shared by its checks
SLOW = pytest.mark.timeout(3600)

#: (check, scenario) pairs that fail on main because the warning side has not landed its fix yet (warn's
#: per-band alerts and point circles have landed: none left).
WARNING_PENDING: dict[tuple[str, str], str] = {}


@cache
def _report(name: str) -> Report:
    return judge(name, city=_city())


@cache
def _city() -> DemoCity:
    return build_city()


def _scenarios(check: str) -> list[object]:
    out: list[object] = []
    for name in scenario.names():
        reason = WARNING_PENDING.get((check, name))
        marks = [pytest.mark.xfail(reason=reason, strict=False)] if reason else []
        out.append(pytest.param(name, marks=marks, id=name))
    return out


def _failures(report: Report, check: str) -> str:
    return "\n".join(f"{v.at.isoformat()} {v.detail}" for v in report.failed(check)[:10])


@SLOW
@pytest.mark.parametrize("name", _scenarios("own_level"))
def test_no_area_is_told_more_than_its_own_level(name: str) -> None:
    r = _report(name)
    assert r.minutes > 0
    assert not r.failed("own_level"), _failures(r, "own_level")


@SLOW
@pytest.mark.parametrize("name", _scenarios("point_2km"))
def test_no_point_incident_alert_reaches_2_km(name: str) -> None:
    r = _report(name)
    assert not r.failed("point_2km"), _failures(r, "point_2km")


@SLOW
@pytest.mark.parametrize("name", _scenarios("evacuate_after_rain"))
def test_no_evacuation_two_hours_after_the_rain(name: str) -> None:
    r = _report(name)
    assert not r.failed("evacuate_after_rain"), _failures(r, "evacuate_after_rain")


@SLOW
@pytest.mark.parametrize("name", _scenarios("no_emergency"))
def test_nothing_goes_out_as_an_emergency_alert(name: str) -> None:
    r = _report(name)
    assert not r.failed("no_emergency"), _failures(r, "no_emergency")


@SLOW
def test_the_collapse_ends_in_an_evacuation_of_its_cordon() -> None:
    r = _report("building_collapse")
    assert r.most_evacuating > 0 and not r.failed("point_2km")


@SLOW
def test_the_judge_sees_what_the_scenarios_are_about() -> None:
    # the checks are not empty: the scenarios do warn, and the rain does stop within the run
    rain = _report("heavy_rain")
    assert rain.issued >= 1 and rain.rain_end is not None and rain.most_evacuating > 0
    assert _report("fire").issued >= 1
    collapse = _report("building_collapse")
    assert collapse.issued >= 1


@SLOW
def test_the_flood_model_closes_the_underpasses_before_the_water() -> None:
    # issue 18: the predicted flooding of the underpasses under the rain band comes before the observed
    # 15 cm, and routing avoids them (an active road closure) from the prediction on
    r = _report("heavy_rain")
    assert r.observed, "no underpass read 15 cm: the check would be empty"
    assert set(r.observed) <= set(r.predicted)
    assert all(r.predicted[code] < seen for code, seen in r.observed.items())
    assert not r.failed("flood_predicted_first"), _failures(r, "flood_predicted_first")
    assert not r.failed("closed_from_prediction"), _failures(r, "closed_from_prediction")
    # ... and routing itself goes around them: a drive along each flooded underpass's road, which goes
    # through it when nothing is closed, keeps away from it from the prediction on
    assert all(r.through_routes.get(code) for code in r.observed), r.through_routes
    assert not r.failed("routed_around"), _failures(r, "routed_around")
    # people there were warned before the water: the forecast's targeted warning (circles around the
    # underpasses and semi-basement homes at risk) was in force over each of them first
    assert r.targeted >= 1
    assert not r.failed("warned_before_flooding"), _failures(r, "warned_before_flooding")


@SLOW
def test_the_earthquake_gets_its_damage_map_and_inspection_list() -> None:
    # issue 19: within the step its readings arrive, the operator has the damage map and the buildings to
    # inspect, and the citizen page lists the nearest outdoor earthquake sites (the seconds it took are
    # printed by bench/scenarios.py; a timing is never asserted in a test)
    quake = _report("earthquake")
    assert quake.quake_damage_after_s is not None, "the earthquake incident never got its damage"
    assert quake.quake_cells > 0 and quake.quake_inspections > 0
    assert quake.quake_outdoor_sites > 0
