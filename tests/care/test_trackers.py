# SPDX-License-Identifier: Apache-2.0
"""The trackers real devices run, accepted unchanged over real HTTP and MQTT.

Payloads are the apps' documented ones, with the device identifier replaced by the issued key:
* OsmAnd / Traccar Client query and JSON formats: https://www.traccar.org/osmand/
* OwnTracks location message: https://owntracks.org/booklet/tech/json/ and the HTTP payload of
  https://owntracks.org/booklet/features/traccar/ (topics owntracks/<user>/<device> in MQTT mode)
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime

import orjson
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from safecity.settings import Settings
from tests.care.conftest import MOSQUITTO, CareEnv

#: traccar.org/osmand "Example 2: Request with additional parameters" (deviceid replaced by the key)
OSMAND_EXAMPLE_2 = "deviceid={key}&lat=48.8566&lon=2.3522&timestamp=2021-01-01T00:00:00Z&speed=15&bearing=270&altitude=35&accuracy=10&hdop=0.8&batt=75"
#: traccar.org/osmand "Example 1: Basic request with mandatory parameters" (milliseconds)
OSMAND_EXAMPLE_1 = "id={key}&lat=48.8566&lon=2.3522&timestamp=1609459200000"
#: traccar.org/osmand JSON format (Traccar Client 9+), its documented fields with example values
TRACCAR_JSON = {
    "location": {
        "timestamp": "2021-01-01T00:05:00.000Z",
        "coords": {
            "latitude": 48.857,
            "longitude": 2.353,
            "accuracy": 12,
            "speed": 1.4,
            "heading": 90,
            "altitude": 35,
        },
        "is_moving": True,
        "odometer": 0,
        "event": "motionchange",
        "battery": {"level": 0.74, "is_charging": False},
        "activity": {"type": "walking"},
        "extras": {},
    },
    "device_id": "{key}",
}
#: owntracks.org/booklet/features/traccar "HTTP Payloads"
OWNTRACKS_MINIMAL = {"lon": 2.29513, "lat": 48.85833, "_type": "location", "tst": 1497476456, "tid": "JJ"}
#: owntracks.org booklet location fields (batt, cog, acc, alt, vel in km/h, t trigger, tid)
OWNTRACKS_FULL = {
    "_type": "location",
    "batt": 85,
    "cog": 270,
    "lat": 48.85840,
    "lon": 2.29520,
    "acc": 75,
    "t": "u",
    "tid": "JJ",
    "tst": 1497476516,
    "alt": 13,
    "vel": 54,
}


def _positions(env: CareEnv, pid: int) -> list[dict[str, object]]:
    r = env.call("mom", "GET", f"/care/people/{pid}/positions")
    assert r.status_code == 200, r.text
    return list(reversed(r.json()))  # oldest first


def test_traccar_client_query_form_and_json(care_env: CareEnv) -> None:
    env = care_env
    pid = env.child()
    key = env.device(pid)
    # GET with the query (how OsmAnd and Traccar Client up to 8 send it)
    r = env.call(None, "GET", "/tracking/osmand?" + OSMAND_EXAMPLE_1.format(key=key))
    assert r.status_code == 200, r.text
    # POST with the query in the URL, and POST as a form
    assert env.call(None, "POST", "/tracking/osmand?" + OSMAND_EXAMPLE_2.format(key=key)).status_code == 200
    body = OSMAND_EXAMPLE_2.format(key=key).replace("00:00:00Z", "00:01:00Z")
    r = env.call(
        None,
        "POST",
        "/tracking/osmand",
        content=body,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 200, r.text
    # Traccar Client 9's JSON
    doc = orjson.loads(orjson.dumps(TRACCAR_JSON).replace(b"{key}", key.encode()))
    assert env.call(None, "POST", "/tracking/osmand", json=doc).status_code == 200
    got = _positions(env, pid)
    # Example 1 and Example 2 name the same instant (1609459200000 ms = 2021-01-01T00:00:00Z): one fix
    assert [p["at"] for p in got] == [
        "2021-01-01T00:00:00+00:00",
        "2021-01-01T00:01:00+00:00",
        "2021-01-01T00:05:00+00:00",
    ]
    assert got[1]["speed"] == pytest.approx(15 * 0.514444, abs=1e-3)  # knots, Traccar's default unit
    assert got[1]["battery"] == 75 and got[1]["accuracy"] == 10
    assert got[2]["speed"] == 1.4 and got[2]["battery"] == 74  # JSON: m/s, battery 0..1


def test_bad_fixes_say_what_and_where(care_env: CareEnv) -> None:
    env = care_env
    pid = env.child()
    key = env.device(pid)
    cases = {
        f"id={key}&lat=91&lon=2": "lat",
        f"id={key}&lat=48&lon=abc": "lon",
        f"id={key}&lat=48&lon=2&timestamp=yesterday": "timestamp",
        "lat=48&lon=2": "id",
        f"id={key}&lat=48&lon=2&timestamp=2099-01-01T00:00:00Z": "timestamp",
    }
    for query, where in cases.items():
        r = env.call(None, "GET", "/tracking/osmand?" + query)
        assert r.status_code == 400 and r.json()["where"] == where, (query, r.text)
    assert _positions(env, pid) == []


def test_duplicates_and_out_of_order_fixes(care_env: CareEnv) -> None:
    env = care_env
    pid = env.child()
    key = env.device(pid)
    stamps = [1609459260, 1609459200, 1609459260, 1609459230, 1609459200]  # late, repeated, in between
    for t in stamps:
        assert (
            env.call(
                None, "GET", "/tracking/osmand", params={"id": key, "lat": 37.5, "lon": 127.0, "timestamp": t}
            ).status_code
            == 200
        )
    got = _positions(env, pid)
    assert [datetime.fromisoformat(str(p["at"])).timestamp() for p in got] == [
        1609459200,
        1609459230,
        1609459260,
    ]
    collected = [
        a for a in env.call("mom", "GET", f"/care/people/{pid}/access").json() if a["action"] == "collect"
    ]
    assert sum(int(a["count"]) for a in collected) == 3  # the repeats were neither stored nor recorded


def test_owntracks_http_mode(care_env: CareEnv) -> None:
    env = care_env
    pid = env.child()
    key = env.device(pid, "owntracks")
    headers = {"X-Limit-U": "haneul", "X-Limit-D": "phone"}
    r = env.call(
        None, "POST", "/tracking/owntracks", json=OWNTRACKS_MINIMAL, auth=("haneul", key), headers=headers
    )
    assert r.status_code == 200 and r.json() == []
    # the app sends queued messages as they were, and non-location ones (lwt, transition) too
    queued = [OWNTRACKS_FULL, {"_type": "lwt", "tst": 1497476000}, OWNTRACKS_MINIMAL]
    r = env.call(None, "POST", "/tracking/owntracks", json=queued, auth=("haneul", key))
    assert r.status_code == 200
    got = _positions(env, pid)
    assert [p["at"] for p in got] == [
        datetime.fromtimestamp(1497476456, UTC).isoformat(),
        datetime.fromtimestamp(1497476516, UTC).isoformat(),
    ]
    assert got[1]["speed"] == pytest.approx(15.0) and got[1]["battery"] == 85  # vel 54 km/h
    # the key may also ride in the URL (the app's URL field); a wrong one is refused, nothing stored
    assert (
        env.call(
            None, "POST", f"/tracking/owntracks?key={key}", json={**OWNTRACKS_MINIMAL, "tst": 1497476600}
        ).status_code
        == 200
    )
    assert (
        env.call(
            None, "POST", "/tracking/owntracks", json=OWNTRACKS_MINIMAL, auth=("haneul", "trk_wrong")
        ).status_code
        == 401
    )
    r = env.call(None, "POST", "/tracking/owntracks", json={"lat": 1})
    assert r.status_code == 400 and r.json()["where"] == "0/_type"


@pytest.mark.mosquitto
def test_owntracks_over_mqtt(with_mosquitto: Settings, care_env: CareEnv) -> None:
    env = care_env
    pid = env.child()
    user = f"u{uuid.uuid4().hex[:8]}"  # Mosquitto is shared with other runs: topics of our own
    env.device(pid, "owntracks", topic_id=f"{user}/phone")
    listener = env.care.owntracks
    assert listener is not None and listener.ready.wait(20), "the care listener did not subscribe"
    app = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"owntracks-{user}")
    app.connect(*MOSQUITTO)
    app.loop_start()
    try:
        for msg in (OWNTRACKS_FULL, OWNTRACKS_MINIMAL, OWNTRACKS_MINIMAL):  # out of order, repeated
            app.publish(f"owntracks/{user}/phone", orjson.dumps(msg), qos=1).wait_for_publish(10)
        app.publish(f"owntracks/{user}/tablet", orjson.dumps(OWNTRACKS_MINIMAL), qos=1).wait_for_publish(10)
        app.publish(
            f"owntracks/{user}/phone/event", orjson.dumps({"_type": "transition"}), qos=1
        ).wait_for_publish(10)
        deadline = time.monotonic() + 20
        while listener.counts.stored + listener.counts.duplicates < 3 or listener.counts.unknown < 1:
            assert time.monotonic() < deadline, listener.counts
            time.sleep(0.05)
    finally:
        app.loop_stop()
        app.disconnect()
    assert listener.counts.stored == 2 and listener.counts.duplicates == 1 and listener.counts.unknown == 1
    assert [p["at"] for p in _positions(env, pid)] == [
        datetime.fromtimestamp(1497476456, UTC).isoformat(),
        datetime.fromtimestamp(1497476516, UTC).isoformat(),
    ]
