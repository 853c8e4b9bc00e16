# SPDX-License-Identifier: Apache-2.0
"""Safe return home over real HTTP (and MQTT for the SOS), on both stores, on a manual clock: the
expected walking route comes from the real Gongdeok OSM network; a child walks it with a Traccar Client
(OsmAnd protocol) fix every 30 s. The pure decisions (:func:`step`, :func:`settle`) are driven directly
for the noise cases."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator, Sequence
from datetime import timedelta
from typing import Any

import orjson
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from shapely.geometry import LineString

from safecity.care.matching import Local
from safecity.care.model import Position
from safecity.care.settings import CareSettings
from safecity.care.trips import State, Trip, settle, step
from safecity.core.events import Envelope
from safecity.settings import Settings
from tests.care.conftest import MOSQUITTO, START, CareEnv

#: Near Gongdeok station → a home ~1.3 km east by the streets (inside the OSM extract).
ORIGIN = (126.9530, 37.5460)
HOME = (126.9640, 37.5480)
STEP_S = 30.0
WALK_MS = 1.25


class Seen(list[dict[str, Any]]):
    """The care.TripAlert events delivered, as their payloads (JSON field names)."""

    def hear(self, batch: Sequence[Envelope]) -> None:
        self.extend(e.data.model_dump(by_alias=True, mode="json") for e in batch)


def _events(env: CareEnv) -> Seen:
    seen = Seen()
    env.platform.bus.subscribe("care.TripAlert", seen.hear, f"test.trips.{uuid.uuid4().hex[:6]}")
    return seen


def _send(env: CareEnv, key: str, lon: float, lat: float, **extra: Any) -> None:
    at = int(env.clock.now().timestamp())
    q = {"id": key, "lat": f"{lat:.7f}", "lon": f"{lon:.7f}", "timestamp": str(at), "accuracy": "12", **extra}
    r = env.call(None, "GET", "/tracking/osmand", params=q)
    assert r.status_code == 200, r.text


def _along(route: dict[str, Any]) -> Iterator[tuple[float, float]]:
    """Points every STEP_S of walking along the trip's route (GeoJSON), destination last."""
    line = LineString(route["coordinates"])
    local = Local(*line.coords[0])
    metres = local.line(line)
    d = 0.0
    while d < metres.length:
        p = metres.interpolate(d)
        yield (local.lon0 + p.x / local.kx, local.lat0 + p.y / local.ky)
        d += WALK_MS * STEP_S
    last = line.coords[-1]
    yield (last[0], last[1])


def _start(env: CareEnv, pid: int, who: str = "mom") -> dict[str, Any]:
    r = env.call(
        who,
        "POST",
        f"/care/people/{pid}/trips",
        json={
            "destLon": HOME[0],
            "destLat": HOME[1],
            "destName": "집",
            "originLon": ORIGIN[0],
            "originLat": ORIGIN[1],
        },
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


def test_the_child_walks_home_and_arrives(roads: None, care_env: CareEnv) -> None:
    env = care_env
    pid = env.child()
    key = env.device(pid)
    seen = _events(env)
    trip = _start(env, pid)
    assert trip["route"] is not None and "deviation" in trip["watching"]
    assert 1000 < trip["distanceM"] < 2000 and trip["status"] == "active"
    for lon, lat in _along(trip["route"]):
        env.clock.advance(timedelta(seconds=STEP_S))
        _send(env, key, lon, lat)
        env.care.trips.tick()
    env.drain()
    got = env.call("dad", "GET", f"/care/people/{pid}/trips/{trip['id']}").json()
    assert got["status"] == "arrived" and got["raised"] == [] and got["escalation"] is None
    assert [e["kind"] for e in seen] == ["arrived"]
    # reading the trip was a provision to the guardian, in the person's access record
    access = env.call("mom", "GET", f"/care/people/{pid}/access").json()
    assert any(a["action"] == "provide" and a["actor"] == "dad" for a in access)


def test_a_deviation_goes_to_the_guardian_then_to_the_operators(roads: None, care_env: CareEnv) -> None:
    env = care_env
    pid = env.child()
    key = env.device(pid)
    seen = _events(env)
    trip = _start(env, pid)
    points = list(_along(trip["route"]))
    for lon, lat in points[:4]:
        env.clock.advance(timedelta(seconds=STEP_S))
        _send(env, key, lon, lat)
    # a car takes the child north, away from every street of the route
    lon, lat = points[3]
    for k in range(1, 4):
        env.clock.advance(timedelta(seconds=STEP_S))
        _send(env, key, lon, lat + 0.0015 * k)
    env.drain()
    assert [(e["kind"], e["escalation"]) for e in seen] == [("deviation", "guardian")]
    assert env.platform.incidents.list() == []  # the guardians first
    # nobody acknowledges: after the escalation delay the operators get an incident
    env.clock.advance(timedelta(seconds=CareSettings().trip_escalate_after_s))
    env.care.trips.tick()
    env.drain()
    escalated = [e for e in seen if e["kind"] == "escalated"]
    assert len(escalated) == 1 and escalated[0]["escalation"] == "operator"
    incident = env.call("op", "GET", f"/incidents/{escalated[0]['incidentId']}")
    assert incident.status_code == 200, incident.text
    body = incident.json()
    assert "경로 이탈" in str(body) and "route deviation" in str(body) and "김하늘" not in str(body)
    got = env.call("mom", "GET", f"/care/people/{pid}/trips/{trip['id']}").json()
    # five minutes without a fix also lost the signal (the tracker is in a car, or off)
    assert got["escalation"] == "operator" and got["raised"] == ["deviation", "signal_lost"]
    alerts = env.call("mom", "GET", f"/care/people/{pid}/alerts").json()
    assert {a["kind"] for a in alerts} == {"deviation", "signal_lost", "escalated"} and {
        a["tripId"] for a in alerts
    } == {trip["id"]}
    # a second tick does not open a second incident
    env.clock.advance(timedelta(seconds=600))
    env.care.trips.tick()
    env.drain()
    assert len([e for e in seen if e["kind"] == "escalated"]) == 1


def test_an_acknowledged_alert_is_not_escalated_and_late_and_lost_signal(
    roads: None, care_env: CareEnv
) -> None:
    env = care_env
    pid = env.child()
    key = env.device(pid)
    seen = _events(env)
    trip = _start(env, pid)
    env.clock.advance(timedelta(seconds=STEP_S))
    _send(env, key, *next(_along(trip["route"])))
    # then silence: the phone is off
    env.clock.advance(timedelta(seconds=CareSettings().trip_signal_lost_s))
    env.care.trips.tick()
    env.drain()
    assert [e["kind"] for e in seen] == ["signal_lost"]
    r = env.call("dad", "POST", f"/care/people/{pid}/trips/{trip['id']}/acknowledge")
    assert r.status_code == 200, r.text
    env.clock.advance(timedelta(seconds=CareSettings().trip_escalate_after_s + 1))
    env.care.trips.tick()
    env.drain()
    assert [e["kind"] for e in seen] == ["signal_lost"]  # acknowledged: no escalation
    # past the due time: late, a new problem, whose escalation clock starts again
    env.clock.set(env.care.trips.get(pid, trip["id"])[0].due_at)
    env.care.trips.tick()
    env.drain()
    assert [e["kind"] for e in seen] == ["signal_lost", "late"]
    # a stranger may not acknowledge, end or read it; an id beyond the database's is a 422
    for method, path in (("POST", "acknowledge"), ("POST", "end")):
        assert (
            env.call("stranger", method, f"/care/people/{pid}/trips/{trip['id']}/{path}").status_code == 403
        )
    assert env.call("stranger", "GET", f"/care/people/{pid}/trips").status_code == 403
    too_big = env.call("mom", "GET", f"/care/people/{pid}/trips/{2**63}")
    assert too_big.status_code in (400, 422) and "trip_id" in too_big.text
    ended = env.call("mom", "POST", f"/care/people/{pid}/trips/{trip['id']}/end")
    assert ended.status_code == 200 and ended.json()["status"] == "ended"


def test_bad_trip_requests_say_what(roads: None, care_env: CareEnv) -> None:
    env = care_env
    pid = env.child()
    r = env.call("mom", "POST", f"/care/people/{pid}/trips", json={"destLon": 200, "destLat": HOME[1]})
    assert r.status_code in (400, 422) and "destLon" in r.text
    r = env.call("mom", "POST", f"/care/people/{pid}/trips", json={"destLon": HOME[0], "destLat": HOME[1]})
    assert r.status_code == 400 and "originLon" in r.text  # no recent position to start from
    _start(env, pid)
    again = env.call(
        "mom",
        "POST",
        f"/care/people/{pid}/trips",
        json={"destLon": HOME[0], "destLat": HOME[1], "originLon": ORIGIN[0], "originLat": ORIGIN[1]},
    )
    assert again.status_code == 409
    other = env.child(consent=False)
    r = env.call(
        "mom",
        "POST",
        f"/care/people/{other}/trips",
        json={"destLon": HOME[0], "destLat": HOME[1], "originLon": ORIGIN[0], "originLat": ORIGIN[1]},
    )
    assert r.status_code == 403 and "consent" in r.text


def test_withdrawal_destroys_the_trips(roads: None, care_env: CareEnv) -> None:
    env = care_env
    pid = env.child()
    key = env.device(pid)
    trip = _start(env, pid)
    env.clock.advance(timedelta(seconds=STEP_S))
    _send(env, key, *next(_along(trip["route"])))
    assert env.call("mom", "DELETE", f"/care/people/{pid}/consents/location").status_code == 200
    assert env.care.trips.of(pid) == [] and env.care.trips.active_of(pid) is None


def test_sos_over_http_opens_an_incident_at_once(roads: None, care_env: CareEnv) -> None:
    env = care_env
    pid = env.child()
    key = env.device(pid)
    seen = _events(env)
    trip = _start(env, pid)
    env.clock.advance(timedelta(seconds=STEP_S))
    r = env.call(None, "POST", "/tracking/sos", json={"id": key, "lat": ORIGIN[1], "lon": ORIGIN[0]})
    assert r.status_code == 201, r.text
    assert r.json()["tripId"] == trip["id"] and r.json()["incidentId"]
    # Traccar's OsmAnd alarm=sos, no trip needed once it ended
    env.call("mom", "POST", f"/care/people/{pid}/trips/{trip['id']}/end")
    env.clock.advance(timedelta(seconds=STEP_S))
    _send(env, key, *ORIGIN, alarm="sos")
    env.drain()
    sos = [e for e in seen if e["kind"] == "sos"]
    assert [(s["tripId"], s["escalation"]) for s in sos] == [(trip["id"], "operator"), (None, "operator")]
    assert all(s["incidentId"] for s in sos) and all(s["lon"] == pytest.approx(ORIGIN[0]) for s in sos)
    assert env.care.count_positions(pid) == 2  # the SOS positions are stored like any fix
    r = env.call(None, "POST", "/tracking/sos", json={"id": key, "lat": 95, "lon": ORIGIN[0]})
    assert r.status_code == 400 and "lat" in r.text
    assert (
        env.call(None, "POST", "/tracking/sos", json={"id": "trk_nope", "lat": 37.5, "lon": 127}).status_code
        == 401
    )


@pytest.mark.mosquitto
def test_sos_over_mqtt(with_mosquitto: Settings, care_env: CareEnv) -> None:
    env = care_env
    pid = env.child()
    user = f"u{uuid.uuid4().hex[:8]}"
    env.device(pid, "owntracks", topic_id=f"{user}/phone")
    listener = env.care.owntracks
    assert listener is not None and listener.ready.wait(20), "the care listener did not subscribe"
    seen = _events(env)
    app = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"sos-{user}")
    app.connect(*MOSQUITTO)
    app.loop_start()
    try:
        msg = {
            "_type": "location",
            "lat": ORIGIN[1],
            "lon": ORIGIN[0],
            "tst": int(env.clock.now().timestamp()),
            "acc": 8,
        }
        app.publish(f"owntracks/{user}/phone/sos", orjson.dumps(msg), qos=1).wait_for_publish(10)
        deadline = time.monotonic() + 20
        while listener.counts.sos < 1:
            assert time.monotonic() < deadline, listener.counts
            time.sleep(0.05)
    finally:
        app.loop_stop()
        app.disconnect()
    env.drain()
    assert [(e["kind"], e["escalation"]) for e in seen] == [("sos", "operator")]
    assert seen[0]["incidentId"]


# -- the pure decisions: GPS noise is not a deviation, a stop is a stop --------------------------------
CFG = CareSettings()
LINE = LineString([(126.9530, 37.5460), (126.9640, 37.5460)])
TRIP = Trip(
    1,
    7,
    "mom",
    START,
    (126.9530, 37.5460),
    (126.9640, 37.5460),
    "집",
    LINE,
    970.0,
    780.0,
    START + timedelta(hours=1),
    "active",
)
LOCAL = Local(*TRIP.origin)
ROUTE_M = LOCAL.line(LINE)


def _fix(s: float, lon: float, lat: float, acc: float = 10) -> Position:
    return Position(7, 1, START + timedelta(seconds=s), lon, lat, acc, None, None)


def _run(fixes: list[Position], state: State | None = None) -> tuple[State, list[str]]:
    st, kinds = state or State(), []
    for f in fixes:
        st, out, _ = step(TRIP, st, f, CFG, LOCAL, ROUTE_M)
        kinds += [a.kind for a in out]
    return st, kinds


def test_one_fix_off_the_route_is_noise() -> None:
    north = 0.0009  # ~100 m
    _, kinds = _run(
        [
            _fix(30, 126.954, 37.546),
            _fix(60, 126.955, 37.546 + north),
            _fix(90, 126.956, 37.546),
            _fix(120, 126.957, 37.546 + north),
            _fix(150, 126.958, 37.546),
        ]
    )
    assert kinds == []
    _, kinds = _run([_fix(30 * k, 126.954 + 0.001 * k, 37.546 + north) for k in range(1, 6)])
    assert kinds == ["deviation"]  # once per excursion


def test_a_stop_before_home_late_fixes_and_inaccurate_fixes() -> None:
    st, kinds = _run([_fix(30 * k, 126.956, 37.546) for k in range(1, 13)])
    assert kinds == ["stopped"]
    # a fix older than the last one, or 1 km inaccurate, changes nothing
    assert _run([_fix(60, 126.960, 37.560)], st)[0] == st
    assert _run([_fix(400, 126.960, 37.560, acc=1000)], st)[0] == st
    _, kinds = _run([_fix(400, 126.9639, 37.5460)], st)
    assert kinds == ["arrived"]
    st, out, up = settle(TRIP, st, START + timedelta(hours=2), CFG)
    assert {a.kind for a in out} == {
        "late",
        "signal_lost",
    } and up is False  # never alerted: nothing to escalate
