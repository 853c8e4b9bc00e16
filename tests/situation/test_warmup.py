# SPDX-License-Identifier: Apache-2.0
"""A restart must not forget the last hours of rain, nor the open incidents: a new platform on the same
store refills the rule engine's windows from the stored observations (``Situation.warm_up``), and a
condition after the restart joins the incident opened before it. On both stores.

Times are on a ManualClock; every 10-minute total is posted when it is measured and the bus is delivered
by hand, as in test_heavy_rain.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

from safecity.app import Platform, build_platform, create_app
from safecity.auth.model import Role
from safecity.core.clock import ManualClock
from safecity.geo.importer import import_layer
from safecity.settings import Settings
from tests.conftest import weather_station
from tests.geo.data import MOIS_DISTRICTS
from tests.situation.test_heavy_rain import deliver

#: 2025-07-01 09:00 KST
T0 = datetime(2025, 7, 1, tzinfo=UTC)
GANGNAM = "11680"
USER, PASSWORD = "duty-officer", "duty-officer-password"


@dataclass
class Running:
    platform: Platform
    client: TestClient
    headers: dict[str, str]
    clock: ManualClock

    def rain(self, ds: int, minutes: int, value: float) -> None:
        when = T0 + timedelta(minutes=minutes)
        self.clock.set(when)
        r = self.client.post(
            f"/sta/v1.1/Datastreams({ds})/Observations",
            json={"phenomenonTime": when.isoformat(), "result": value},
            headers=self.headers,
        )
        assert r.status_code == 201, r.text
        deliver(self.platform)

    def get(self, path: str, **kw: Any) -> Any:
        r = self.client.get(path, headers=self.headers, **kw)
        assert r.status_code == 200, r.text
        return r.json()

    def gauge(self, ds: int) -> dict[str, Any]:
        (g,) = [g for g in self.get("/situation/derived")["rainfall"]["gauges"] if g["datastream"] == ds]
        return g  # type: ignore[no-any-return]

    def heavy_rain(self) -> list[dict[str, Any]]:
        return [c for c in self.get("/situation")["conditions"] if c["rule"] == "kma.heavy_rain"]

    def incidents(self) -> list[dict[str, Any]]:
        items = self.get("/incidents", params={"hazard": "heavy_rain"})["incidents"]
        return [self.get(f"/incidents/{i['id']}") for i in items]


@contextmanager
def running(settings: Settings, at: datetime, *, first: bool = False) -> Iterator[Running]:
    """One life of the platform: built on the store, the rule engine started (and warmed up), stopped."""
    clock = ManualClock(at)
    platform = build_platform(settings, clock)
    try:
        if first:
            import_layer(platform, MOIS_DISTRICTS, "districts")
            platform.auth.create_user(USER, PASSWORD, {Role.operator})
        app = create_app(settings, platform, start_services=False)
        platform.situation.start(ticker=False)
        with TestClient(app) as client:
            r = client.post("/auth/token", data={"username": USER, "password": PASSWORD})
            assert r.status_code == 200, r.text
            yield Running(platform, client, {"Authorization": f"Bearer {r.json()['access_token']}"}, clock)
    finally:
        platform.situation.stop()
        platform.bus.stop()
        platform.store.close()


def _station(run: Running) -> int:
    r = run.client.post("/sta/v1.1/Things", json=weather_station(), headers=run.headers)
    assert r.status_code == 201, r.text
    tid = r.json()["@iot.id"]
    ds = run.get(f"/sta/v1.1/Things({tid})/Datastreams")["value"][0]["@iot.id"]
    deliver(run.platform)
    return int(ds)


def test_a_restart_refills_the_windows_from_the_store(settings: Settings) -> None:
    # 2 h of rain, 4 and 5 mm by turns every 10 min (a constant value would be flagged as a flatline by
    # quality control): 54 mm, under the 60 mm / 3 h advisory
    with running(settings, T0, first=True) as a:
        ds = _station(a)
        for i in range(1, 13):
            a.rain(ds, 10 * i, 4.0 if i % 2 else 5.0)
        assert a.gauge(ds)["sums"]["3h"] == 54.0
        assert a.heavy_rain() == []

    # a new process on the same store, five minutes later
    with running(settings, T0 + timedelta(minutes=125)) as b:
        assert b.platform.situation.engine.streams[ds].series.t, "the window was not refilled"
        sums = b.gauge(ds)["sums"]
        assert sums["1h"] == 27.0
        assert sums["3h"] == 54.0  # the rain before the restart is in the window
        assert b.heavy_rain() == []
        assert b.get("/incidents", params={"hazard": "heavy_rain"})["incidents"] == []

        # 10 mm more: 64 mm in 3 h reaches the advisory (10 mm alone, if the window were lost, would not)
        b.rain(ds, 130, 10.0)
        assert b.gauge(ds)["sums"]["3h"] == 64.0
        (cond,) = b.heavy_rain()
        assert cond["level"] == 2
        assert cond["district"] == GANGNAM
        assert datetime.fromisoformat(cond["since"]) == T0 + timedelta(minutes=130)
        (incident,) = b.incidents()
        assert incident["level"] == 2 and incident["status"] == "detected"


def test_the_windows_reach_back_as_far_as_the_longest_rule_needs(settings: Settings) -> None:
    """12 h of light rain: the 12-h sum after a restart holds all of it (110 mm / 12 h is an advisory)."""
    with running(settings, T0, first=True) as a:
        ds = _station(a)
        for i in range(1, 73):  # 1 and 2 mm by turns: 108 mm in 12 h; 27 mm in any 3 h
            a.rain(ds, 10 * i, 1.0 if i % 2 else 2.0)
        assert a.heavy_rain() == []
    with running(settings, T0 + timedelta(minutes=725)) as b:
        assert b.gauge(ds)["sums"]["12h"] == 108.0
        b.rain(ds, 730, 3.0)  # (T0 + 10 min, T0 + 730 min]: 108 - 1 + 3 = 110
        (cond,) = b.heavy_rain()
        assert cond["level"] == 2


def test_an_incident_open_before_the_restart_is_joined_not_duplicated(settings: Settings) -> None:
    # 3 h at 3.5 and 4.5 mm by turns per 10 min: the advisory at 64 mm (T0 + 160 min), one incident
    with running(settings, T0, first=True) as a:
        ds = _station(a)
        for i in range(1, 19):
            a.rain(ds, 10 * i, 3.5 if i % 2 else 4.5)
        (cond,) = a.heavy_rain()
        assert cond["level"] == 2
        (before,) = a.incidents()
        assert before["status"] == "detected" and before["level"] == 2

    with running(settings, T0 + timedelta(minutes=185)) as b:
        # the warmed-up engine holds the advisory again, and it is the same incident
        assert [c["level"] for c in b.heavy_rain()] == [2]
        (same,) = b.incidents()
        assert same["id"] == before["id"]
        assert same["level"] == 2

        # 22 mm more: 3 h (T0 + 10, T0 + 190] = 72 - 3.5 + 22 = 90.5 >= 90 and 1 h = 20.5 + 22 = 42.5 < 50
        # (no 극한호우) -> the warning
        b.rain(ds, 190, 22.0)
        assert [c["level"] for c in b.heavy_rain()] == [3]
        (after,) = b.incidents()
        assert after["id"] == before["id"]
        assert after["level"] == 3 and after["status"] == "detected"
        fired = [
            (datetime.fromisoformat(e["at"]), e["level"])
            for e in after["timeline"]
            if e["kind"] == "fired" and e["rule"] == "kma.heavy_rain"
        ]
        assert (T0 + timedelta(minutes=190), 3) in fired
        assert min(fired) == (T0 + timedelta(minutes=160), 2)
        assert [e["kind"] for e in after["timeline"]].count("opened") == 1
        board = b.get("/situation")
        assert [i["id"] for i in board["incidents"]] == [before["id"]]
        assert {d["code"]: d["level"] for d in board["districts"]}[GANGNAM] == 3


def test_a_restart_does_not_record_again_what_the_incident_already_holds(settings: Settings) -> None:
    with running(settings, T0, first=True) as a:
        ds = _station(a)
        for i in range(1, 19):
            a.rain(ds, 10 * i, 3.5 if i % 2 else 4.5)
        (before,) = a.incidents()
    with running(settings, T0 + timedelta(minutes=185)) as b:
        (after,) = b.incidents()
        assert after["id"] == before["id"]
        assert len(after["timeline"]) == len(before["timeline"]), [
            (e["kind"], e["at"], e["level"]) for e in after["timeline"]
        ]
