# SPDX-License-Identifier: Apache-2.0
"""``GET /situation/stream`` against the real server (uvicorn, bus dispatcher and situation timer
running), on both stores: a gauge's reading that reaches the KMA heavy-rain advisory arrives as a
``condition`` and an ``IncidentOpened`` event; a client reconnecting with ``Last-Event-ID`` gets what it
missed; the stream is for operators.

Every read runs in a thread with a deadline, so a stream that never delivers fails the test instead of
hanging the suite.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
import pytest

from safecity.app import Platform
from safecity.auth.model import Role
from safecity.geo.importer import import_layer
from safecity.situation import router as situation_router
from tests.conftest import LiveServer, weather_station
from tests.geo.data import MOIS_DISTRICTS

GANGNAM = "11680"
#: Seconds a stream may take to show what a test waits for.
DEADLINE = 20.0


@dataclass
class Event:
    id: int  # -1 when the frame has no id
    event: str | None
    data: Any
    raw: str


@dataclass
class Reader:
    """Reads an SSE stream in a thread until ``want(events)`` is true, the server ends it, or a read
    times out."""

    url: str
    headers: dict[str, str]
    want: Callable[[list[Event]], bool]
    events: list[Event] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)
    retry: int | None = None
    status: int | None = None
    content_type: str | None = None
    body: bytes = b""
    error: BaseException | None = None
    connected: threading.Event = field(default_factory=threading.Event)
    stopped: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None

    def start(self) -> Reader:
        self.thread = threading.Thread(target=self._run, daemon=True, name="sse-reader")
        self.thread.start()
        assert self.connected.wait(DEADLINE), "the stream did not open"
        return self

    def join(self, timeout: float = DEADLINE) -> Reader:
        assert self.thread is not None
        self.thread.join(timeout)
        if self.thread.is_alive():
            self.stopped.set()  # hang up at the next heartbeat, so the server can shut down
            raise AssertionError(f"the stream did not deliver in {timeout}s: {self.events}")
        if self.error is not None:
            raise AssertionError(f"reading the stream failed: {self.error!r}; got {self.events}")
        return self

    def close(self) -> None:
        """Hang up (noticed at the next line the server sends: a heartbeat at the latest)."""
        self.stopped.set()
        assert self.thread is not None
        self.thread.join(DEADLINE)
        assert not self.thread.is_alive()

    def _run(self) -> None:
        try:
            with (
                httpx.Client(timeout=httpx.Timeout(10.0, read=DEADLINE)) as client,
                client.stream("GET", self.url, headers=self.headers) as r,
            ):
                self.status = r.status_code
                self.content_type = r.headers.get("content-type")
                if r.status_code != 200:
                    self.body = r.read()
                    return
                fields: dict[str, str] = {}
                for line in r.iter_lines():
                    if self.stopped.is_set():
                        return
                    if line.startswith(":"):
                        self.comments.append(line[1:].strip())
                        self.connected.set()
                        continue
                    if line:
                        name, _, value = line.partition(":")
                        fields[name] = fields.get(name, "") + value.removeprefix(" ")
                        continue
                    if "retry" in fields:
                        self.retry = int(fields.pop("retry"))
                    if "data" in fields:
                        raw = fields["data"]
                        eid = fields.get("id")
                        self.events.append(
                            Event(int(eid) if eid else -1, fields.get("event"), orjson.loads(raw), raw)
                        )
                        if self.want(self.events):
                            return
                    fields = {}
        except BaseException as e:  # noqa: BLE001 - reported by join()
            self.error = e
        finally:
            self.connected.set()


def _has(kind: str) -> Callable[[list[Event]], bool]:
    return lambda events: any(e.event == kind for e in events)


@pytest.fixture
def districts(platform: Platform) -> None:
    """The districts, imported before the server (and with it the rule engine) starts."""
    import_layer(platform, MOIS_DISTRICTS, "districts")


@pytest.fixture
def fast_heartbeat(monkeypatch: pytest.MonkeyPatch) -> None:
    # the server notices a client that left only when it next writes: keep that short so no stream
    # outlives its test (and the server's shutdown)
    monkeypatch.setattr(situation_router, "HEARTBEAT_S", 0.5)


def _login(server: LiveServer, name: str, roles: set[Role]) -> dict[str, str]:
    password = f"{name}-password"
    server.platform.auth.create_user(name, password, roles)
    r = httpx.post(f"{server.url}/auth/token", data={"username": name, "password": password})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def _wait_for_clients(platform: Platform, n: int = 0) -> None:
    deadline = time.monotonic() + DEADLINE
    while platform.situation.broadcast.clients != n:
        assert time.monotonic() < deadline, f"{platform.situation.broadcast.clients} SSE clients left"
        time.sleep(0.05)


def test_a_rule_firing_reaches_the_stream_and_a_reconnect_replays_what_was_missed(
    districts: None, fast_heartbeat: None, live_server: LiveServer
) -> None:
    server, platform = live_server, live_server.platform
    operator = _login(server, "duty-officer", {Role.operator})
    url = f"{server.url}/situation/stream"

    r = httpx.post(f"{server.url}/sta/v1.1/Things", json=weather_station(), headers=operator)
    assert r.status_code == 201, r.text
    tid = r.json()["@iot.id"]
    r = httpx.get(f"{server.url}/sta/v1.1/Things({tid})/Datastreams", headers=operator)
    ds = r.json()["value"][0]["@iot.id"]

    first = Reader(url, operator, _has("IncidentOpened")).start()
    assert first.status == 200 and first.content_type is not None
    assert first.content_type.startswith("text/event-stream")
    assert "connected" in first.comments
    assert first.retry == 2000

    # 65 mm in one 10-minute total: 3 h = 65 >= 60 (호우주의보 기준) and 1 h = 65 < 72 (no 극한호우)
    when = datetime.now(UTC) - timedelta(seconds=1)
    r = httpx.post(
        f"{server.url}/sta/v1.1/Datastreams({ds})/Observations",
        json={"phenomenonTime": when.isoformat(), "result": 65.0},
        headers=operator,
    )
    assert r.status_code == 201, r.text
    oid = r.json()["@iot.id"]
    first.join()

    events = first.events
    assert all(e.id > 0 for e in events)
    ids = [e.id for e in events]
    assert ids == sorted(set(ids)), ids  # unique and rising
    kinds = [e.event for e in events]
    assert kinds[0] == "condition", kinds  # nothing from before the client connected is replayed
    assert kinds.index("condition") < kinds.index("IncidentOpened")

    cond = events[0].data
    assert cond["rule"] == "kma.heavy_rain" and cond["ruleVersion"] == 1
    assert cond["hazard"] == "heavy_rain"
    assert (cond["level"], cond["previous"]) == (2, 0)
    assert cond["datastreams"] == [ds]
    assert cond["things"] == [tid]
    assert cond["observations"] == [oid]
    assert cond["districts"] == [GANGNAM]
    assert cond["value"] == 65.0
    assert abs((datetime.fromisoformat(cond["at"]) - when).total_seconds()) < 0.001  # the data's own time
    assert cond["stageKo"] and cond["stageEn"]
    assert orjson.loads(events[0].raw) == cond

    (opened,) = [e.data for e in events if e.event == "IncidentOpened"]
    assert opened["topic"] == "situation.IncidentOpened"
    assert opened["hazard"] == "heavy_rain"
    assert opened["level"] == 2
    assert opened["source"] == "rule"
    assert opened["rule"] == "kma.heavy_rain"
    assert isinstance(opened["incidentId"], int)
    assert GANGNAM in str(opened["areas"])
    assert opened["titleKo"] and opened["titleEn"]
    # the incident is the one the API lists
    r = httpx.get(f"{server.url}/incidents/{opened['incidentId']}", headers=operator)
    assert r.status_code == 200 and r.json()["hazard"] == "heavy_rain"

    # reconnecting after the first event: everything after it is replayed, in order, byte for byte
    last_seen = max(ids)
    again = Reader(
        url,
        {**operator, "Last-Event-ID": str(events[0].id)},
        lambda evs: any(e.id >= last_seen for e in evs),
    ).start()
    again.join()
    replayed = [(e.id, e.event, e.raw) for e in again.events]
    assert replayed[: len(events) - 1] == [(e.id, e.event, e.raw) for e in events[1:]]
    assert all(e.id > events[0].id for e in again.events)

    # a client without Last-Event-ID gets only what happens from now on (a reload announces itself);
    # first let the incident's consequences (an alert a round or two later) reach the stream
    assert platform.bus.drain(DEADLINE)
    admin = _login(server, "admin1", {Role.admin})
    fresh = Reader(url, operator, _has("rules")).start()
    r = httpx.post(f"{server.url}/situation/rules/reload", headers=admin)
    assert r.status_code == 200, r.text
    fresh.join()
    assert [e.event for e in fresh.events] == ["rules"]
    assert fresh.events[0].id > last_seen
    assert fresh.events[0].data["errors"] == 0 and fresh.events[0].data["loaded"] >= 1

    _wait_for_clients(platform)


def test_the_stream_is_for_operators(fast_heartbeat: None, live_server: LiveServer) -> None:
    url = f"{live_server.url}/situation/stream"
    no_token = Reader(url, {}, lambda _: True).start().join()
    assert no_token.status == 401
    assert orjson.loads(no_token.body)["code"] == "unauthorized"
    bad = Reader(url, {"Authorization": "Bearer nope"}, lambda _: True).start().join()
    assert bad.status == 401
    _wait_for_clients(live_server.platform)


def test_keep_alive_comments_while_nothing_happens(fast_heartbeat: None, live_server: LiveServer) -> None:
    operator = _login(live_server, "duty-officer", {Role.operator})
    reader = Reader(f"{live_server.url}/situation/stream", operator, lambda _: False).start()
    deadline = time.monotonic() + DEADLINE
    while "keep-alive" not in reader.comments:
        assert time.monotonic() < deadline, reader.comments
        assert reader.thread is not None and reader.thread.is_alive(), reader.error
        time.sleep(0.05)
    assert reader.events == []
    assert live_server.platform.situation.broadcast.clients == 1
    reader.close()
    _wait_for_clients(live_server.platform)
