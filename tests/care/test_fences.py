# SPDX-License-Identifier: Apache-2.0
"""Fences decided on the server, from the failure cases trackers' users report:

* traccar/traccar#6019: GPS drift makes a device leave and re-enter a fence; users ask for a delay
  before an enter/exit counts;
* traccar/traccar#3897: "should be inside" a fence on a calendar (school hours, home at night);
* OwnTracks users: phones report late and out of order, and only the server can keep the state;
  sparse fixes (one every few minutes) jump over a small fence;
* a fence drawn around someone already inside must not say "entered".

The pure step is driven fix by fix; the last test serves it over real HTTP on both stores and restarts
the platform in the middle.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from safecity.app import build_platform
from safecity.care.fences import Fence, FenceIn, State, Window, circle, settle, step
from safecity.care.model import Position
from safecity.care.service import Care
from safecity.core.clock import ManualClock
from tests.care.conftest import START, CareEnv

HOME = (126.9780, 37.5665)
INSIDE = (126.9781, 37.5666)  # ~14 m from the centre
OUTSIDE = (126.9830, 37.5665)  # ~440 m east
# a Monday 09:30 in Seoul
MONDAY_0930 = datetime(2026, 5, 4, 0, 30, tzinfo=UTC)


def fence(
    delay_s: float = 60, dwell_s: float | None = None, rule: str = "watch", schedule: tuple[Window, ...] = ()
) -> Fence:
    return Fence(1, 7, "home", circle(*HOME, 100), delay_s, dwell_s, rule, schedule)


def fix(at: datetime, where: tuple[float, float], accuracy: float | None = 10) -> Position:
    return Position(7, 1, at, where[0], where[1], accuracy, None, None)


def run(f: Fence, fixes: list[Position], state: State | None = None) -> tuple[State, list[str]]:
    s = state or State()
    kinds: list[str] = []
    for p in fixes:
        s, alerts = step(f, s, p)
        kinds += [a.kind for a in alerts]
    return s, kinds


def t(seconds: float) -> datetime:
    return START + timedelta(seconds=seconds)


def test_drawn_around_someone_inside_says_nothing() -> None:
    s, kinds = run(fence(), [fix(t(0), INSIDE), fix(t(300), INSIDE)])
    assert kinds == [] and s.inside is True


def test_drift_within_the_delay_raises_nothing_traccar_6019() -> None:
    f = fence(delay_s=60)
    s, kinds = run(
        f,
        [fix(t(0), INSIDE), fix(t(30), OUTSIDE), fix(t(50), INSIDE), fix(t(70), OUTSIDE), fix(t(90), INSIDE)],
    )
    assert kinds == [] and s.inside is True
    # a real exit: out and still out after the delay; the event has the time of the first fix out
    s, kinds = run(f, [fix(t(200), OUTSIDE), fix(t(230), OUTSIDE), fix(t(270), OUTSIDE)], s)
    assert kinds == ["exit"] and s.inside is False and s.since == t(200)


def test_the_clock_confirms_without_a_new_fix() -> None:
    f = fence(delay_s=60)
    s, kinds = run(f, [fix(t(0), OUTSIDE), fix(t(10), INSIDE)])
    assert kinds == []
    s, alerts = settle(f, s, t(50))
    assert alerts == []
    s, alerts = settle(f, s, t(71))
    assert [a.kind for a in alerts] == ["enter"] and alerts[0].at == t(10) and alerts[0].person_id == 7


def test_late_and_out_of_order_fixes_do_not_move_the_state() -> None:
    f = fence(delay_s=60)
    s, kinds = run(f, [fix(t(0), INSIDE), fix(t(120), OUTSIDE)])
    # a fix from t=60 inside arrives late: history, not state (it would cancel the exit)
    s, kinds = run(f, [fix(t(60), INSIDE), fix(t(120), OUTSIDE), fix(t(200), OUTSIDE)], s)
    assert kinds == ["exit"] and s.since == t(120)


def test_a_crossing_between_sparse_fixes() -> None:
    f = fence(delay_s=60)
    west = (126.9730, 37.5665)  # ~440 m west: the segment runs through the fence
    north = (126.9830, 37.5700)  # the segment passes north of it
    s, kinds = run(f, [fix(t(0), west), fix(t(300), OUTSIDE)])
    assert kinds == ["crossed"] and s.inside is False
    _, kinds = run(f, [fix(t(600), north)], s)
    assert kinds == []


def test_inaccurate_fixes_are_not_decided() -> None:
    s, kinds = run(fence(delay_s=0), [fix(t(0), INSIDE), fix(t(60), OUTSIDE, accuracy=1500)])
    assert kinds == [] and s.inside is True


def test_dwell_once_per_stay() -> None:
    f = fence(delay_s=0, dwell_s=600)
    s, kinds = run(
        f,
        [
            fix(t(0), OUTSIDE),
            fix(t(60), INSIDE),
            fix(t(400), INSIDE),
            fix(t(700), INSIDE),
            fix(t(900), INSIDE),
        ],
    )
    assert kinds == ["enter", "dwell"]
    s, kinds = run(f, [fix(t(1000), OUTSIDE), fix(t(1100), INSIDE), fix(t(1800), INSIDE)], s)
    assert kinds == ["exit", "enter", "dwell"]


def test_should_be_inside_on_a_weekly_schedule_traccar_3897() -> None:
    school = (Window(days=[0, 1, 2, 3, 4], start=time(9, 0), end=time(15, 0)),)
    f = fence(delay_s=0, rule="inside", schedule=school)
    # Monday 08:50 outside: school has not started
    s, kinds = run(f, [fix(MONDAY_0930 - timedelta(minutes=40), OUTSIDE)])
    assert kinds == []
    # 09:30 still outside: one violation, not one per fix
    s, kinds = run(f, [fix(MONDAY_0930, OUTSIDE), fix(MONDAY_0930 + timedelta(minutes=5), OUTSIDE)], s)
    assert kinds == ["violation"]
    s, kinds = run(f, [fix(MONDAY_0930 + timedelta(minutes=10), INSIDE)], s)
    assert kinds == ["enter"] and not s.violation_raised
    # Saturday: no window, outside is fine
    saturday = MONDAY_0930 + timedelta(days=5)
    _, kinds = run(f, [fix(saturday, OUTSIDE), fix(saturday + timedelta(minutes=1), OUTSIDE)], s)
    assert kinds == ["exit"]


def test_overnight_windows() -> None:
    night = Window(days=[4], start=time(21, 0), end=time(7, 0))  # Friday night

    def kst(d: int, h: int) -> datetime:
        return datetime(2026, 5, d, h, 0, tzinfo=UTC) - timedelta(hours=9)

    assert night.holds(kst(8, 22)) and night.holds(kst(9, 6))  # Fri 22:00, Sat 06:00
    assert not night.holds(kst(9, 8)) and not night.holds(kst(8, 20)) and not night.holds(kst(7, 23))


def test_fence_input_is_checked() -> None:
    import pytest
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="either centerLon"):
        FenceIn(name="x")
    with pytest.raises(ValidationError, match="schedule"):
        FenceIn(name="x", center_lon=127.0, center_lat=37.5, radius_m=100, rule="inside")


def test_fences_over_http_survive_a_restart(care_env: CareEnv) -> None:
    env = care_env
    pid = env.child()
    key = env.device(pid)
    body = {"name": "집 home", "centerLon": HOME[0], "centerLat": HOME[1], "radiusM": 100, "delayS": 60}
    assert env.call("stranger", "POST", f"/care/people/{pid}/fences", json=body).status_code == 403
    r = env.call("mom", "POST", f"/care/people/{pid}/fences", json=body)
    assert r.status_code == 201, r.text
    bad = env.call("mom", "POST", f"/care/people/{pid}/fences", json={"name": "x"})
    assert bad.status_code == 400

    def send(seconds: int, where: tuple[float, float]) -> None:
        q = {
            "id": key,
            "lon": where[0],
            "lat": where[1],
            "timestamp": int(t(seconds).timestamp()),
            "accuracy": 8,
        }
        assert env.call(None, "GET", "/tracking/osmand", params=q).status_code == 200

    # already home when the fence is drawn; leaves; comes back
    send(0, INSIDE)
    send(100, OUTSIDE)
    send(200, OUTSIDE)
    assert [a["kind"] for a in env.call("mom", "GET", f"/care/people/{pid}/alerts").json()] == ["exit"]
    send(300, INSIDE)  # a candidate 'enter' is pending when the platform stops

    # restart: a new platform on the same store, the old one stopped
    env.platform.bus.stop()
    clock = ManualClock(t(320))
    platform = build_platform(env.platform.settings, clock=clock)
    care = platform.services.get(Care)
    (state,) = [care.fences.state(f.id) for f in care.fences.of(pid)]
    assert (
        state is not None
        and state.inside is False
        and state.candidate is True
        and state.candidate_at == t(300)
    )
    clock.set(t(400))
    assert [a.kind for a in care.fences.tick()] == ["enter"]  # confirmed from the state kept
    platform.bus.stop()
    platform.store.close()
