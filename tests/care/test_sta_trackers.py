# SPDX-License-Identifier: Apache-2.0
"""SensorThings Things as trackers, on both stores over real HTTP: a Thing with Locations (a pendant a
city's IoT platform already knows) is registered for a protected person; each new Location the Thing
reports through the SensorThings API becomes the person's position, consent and all."""

from __future__ import annotations

import time
from datetime import timedelta

from tests.care.conftest import START, CareEnv


def _point(lon: float, lat: float, name: str = "here") -> dict[str, object]:
    return {
        "name": name,
        "description": "the pendant's position",
        "encodingType": "application/geo+json",
        "location": {"type": "Point", "coordinates": [lon, lat]},
    }


def test_a_thing_reports_the_person_positions(care_env: CareEnv) -> None:
    env = care_env
    env.clock.set(START + timedelta(hours=1))
    pid = env.child()
    r = env.call(
        "op",
        "POST",
        "/sta/v1.1/Things",
        json={"name": "pendant-1", "description": "GPS pendant", "Locations": [_point(126.9780, 37.5665)]},
    )
    assert r.status_code == 201, r.text
    thing = int(r.headers["Location"].rsplit("(", 1)[1].rstrip(")"))
    # protocol and Thing go together; a Thing that does not exist is named
    bad = env.call("op", "POST", f"/care/people/{pid}/devices", json={"protocol": "sta"})
    assert bad.status_code == 400 and "thingId" in bad.text
    missing = env.call(
        "op", "POST", f"/care/people/{pid}/devices", json={"protocol": "sta", "thingId": 999999}
    )
    assert missing.status_code == 400 and "thingId" in missing.text
    ok = env.call("op", "POST", f"/care/people/{pid}/devices", json={"protocol": "sta", "thingId": thing})
    assert ok.status_code == 201, ok.text
    again = env.call("op", "POST", f"/care/people/{pid}/devices", json={"protocol": "sta", "thingId": thing})
    assert again.status_code == 409
    env.clock.advance(timedelta(minutes=1))
    moved = env.call(
        "op", "POST", f"/sta/v1.1/Things({thing})/Locations", json=_point(126.9800, 37.5670, "moved")
    )
    assert moved.status_code == 201, moved.text
    deadline = time.monotonic() + 30
    while True:
        seen = env.call("mom", "GET", f"/care/people/{pid}/positions").json()
        if any(abs(p["lon"] - 126.98) < 1e-9 for p in seen):
            break
        assert time.monotonic() < deadline, seen
        time.sleep(0.1)
    assert seen[0]["lon"] == 126.98 and seen[0]["lat"] == 37.567
