# SPDX-License-Identifier: Apache-2.0
"""The care capability served for real (uvicorn on a free port) on a manual clock, on both stores, with
an operator, two guardians of one child and a guardian of nobody."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import select

from safecity.app import Platform, build_platform, create_app
from safecity.auth.model import Role
from safecity.bus.tables import outbox
from safecity.care.service import Care
from safecity.core.clock import ManualClock
from safecity.settings import Settings
from tests.conftest import service_missing

#: A Monday morning in Seoul (08:00 KST).
START = datetime(2026, 5, 4, 23, 0, tzinfo=UTC)
PASSWORD = "care-test-password"
#: The machine's Mosquitto (OwnTracks apps publish to it; it authenticates them in a deployment).
MOSQUITTO = ("127.0.0.1", 1883)


@dataclass
class CareEnv:
    url: str
    platform: Platform
    clock: ManualClock
    headers: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def care(self) -> Care:
        return self.platform.services.get(Care)

    def client(self, who: str | None = None) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers=self.headers.get(who or "", {}), timeout=30)

    def call(self, who: str | None, method: str, path: str, **kw: Any) -> httpx.Response:
        with self.client(who) as c:
            return c.request(method, path, **kw)

    def drain(self, rounds: int = 10) -> None:
        """Deliver what is due to every subscriber, round after round (a handler may publish more),
        until no event is pending. Bounded: an event still pending after ``rounds`` (a subscriber
        failing on it, in backoff on the test's clock) fails the test, named with the subscribers
        behind it, instead of looping forever."""
        bus = self.platform.bus
        for _ in range(rounds):
            if bus.drain(5):
                return
        with self.platform.store.engine.connect() as conn:
            events = conn.execute(
                select(outbox.c.id, outbox.c.topic)
                .where(outbox.c.delivered_at.is_(None))
                .order_by(outbox.c.id)
                .limit(10)
            ).all()
        behind = [
            f"{s.name} at {s.position} (attempts {s.attempts}, last error {s.last_error!r})"
            for s in bus.subscribers()
            if s.lag or s.attempts
        ]
        pytest.fail(
            f"after {rounds} rounds {bus.pending()} events still pending, first "
            + ", ".join(f"#{i} {topic}" for i, topic in events)
            + "; subscribers behind: "
            + ("; ".join(behind) or "none")
        )

    def child(
        self,
        *,
        age: int = 7,
        consent: bool = True,
        notify: str = "immediate",
        name: str = "김하늘",
        home: tuple[float, float] = (126.9780, 37.5665),
    ) -> int:
        """A child with mom (legal guardian, consents in writing) and dad (guardian), and its
        location consent (§26 for a child of 8 or under)."""
        birth = f"{START.year - age - 1}-12-01"
        r = self.call(
            "op",
            "POST",
            "/care/people",
            json={
                "name": name,
                "kind": "child",
                "birthDate": birth,
                "homeLon": home[0],
                "homeLat": home[1],
                "notifyMode": notify,
            },
        )
        assert r.status_code == 201, r.text
        pid = int(r.json()["id"])
        for user, legal in (("mom", True), ("dad", False)):
            g = self.call(
                "op",
                "POST",
                f"/care/people/{pid}/guardians",
                json={"username": user, "relation": "parent", "legal": legal},
            )
            assert g.status_code == 201, g.text
        if consent:
            c = self.call(
                "op",
                "POST",
                f"/care/people/{pid}/consents/location",
                json={
                    "basis": "protector" if age <= 8 else "legal_representative",
                    "givenBy": "mom",
                    "written": True,
                    "documentRef": "form-2026-0001",
                },
            )
            assert c.status_code == 201, c.text
        return pid

    def device(self, pid: int, protocol: str = "osmand", topic_id: str | None = None) -> str:
        r = self.call(
            "op", "POST", f"/care/people/{pid}/devices", json={"protocol": protocol, "topicId": topic_id}
        )
        assert r.status_code == 201, r.text
        return str(r.json()["key"])


def serve(settings: Settings, platform: Platform) -> tuple[uvicorn.Server, threading.Thread]:
    app = create_app(settings, platform)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=settings.port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.02)
    return server, thread


@pytest.fixture
def care_env(settings: Settings) -> Iterator[CareEnv]:
    clock = ManualClock(START)
    platform = build_platform(settings, clock=clock)
    for user, role in (
        ("op", Role.operator),
        ("mom", Role.guardian),
        ("dad", Role.guardian),
        ("stranger", Role.guardian),
    ):
        platform.auth.create_user(user, PASSWORD, {role})
    server, thread = serve(settings, platform)
    env = CareEnv(f"http://127.0.0.1:{settings.port}", platform, clock)
    try:
        for user in ("op", "mom", "dad", "stranger"):
            r = httpx.post(env.url + "/auth/token", data={"username": user, "password": PASSWORD})
            assert r.status_code == 200, r.text
            env.headers[user] = {"Authorization": f"Bearer {r.json()['access_token']}"}
        yield env
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        platform.bus.stop()
        platform.store.close()


@pytest.fixture
def with_mosquitto(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The care capability listens to OwnTracks on the real broker."""
    try:
        with socket.create_connection(MOSQUITTO, timeout=1):
            pass
    except OSError as e:
        service_missing(f"Mosquitto at {MOSQUITTO[0]}:{MOSQUITTO[1]} ({e})")
    monkeypatch.setenv("SAFECITY_CARE__MQTT_URL", f"mqtt://{MOSQUITTO[0]}:{MOSQUITTO[1]}")
    return settings


@pytest.fixture
def roads(settings: Settings) -> None:
    """A deployment's imported road network, the real Gongdeok OSM extract (read lazily by
    evacuation's routing, which plans the trips' walking routes)."""
    from safecity.geo.roads import graph_path
    from tests.geo.roads.osm_data import gongdeok

    gongdeok().save(graph_path(settings.data_dir))
