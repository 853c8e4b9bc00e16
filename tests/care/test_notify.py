# SPDX-License-Identifier: Apache-2.0
"""Fence, wandering and trip alerts reach the guardians through the warning chain's delivery queue
(safecity.care.notify), on both stores, over a real webhook receiver: each guardian with a webhook gets
one message in their language, without a position; a carer gets none;
a repeated bus delivery sends nothing twice; the deliveries are on the warning capability's books."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest

from safecity.care.events import FenceAlert
from safecity.care.notify import handler_for
from safecity.core.events import Envelope
from safecity.settings import Settings
from safecity.warning.delivery import Delivery
from tests.care.conftest import START, CareEnv
from tests.warning.test_channels import Receiver


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The guardians' webhook receiver runs on this machine."""
    return settings.model_copy(update={"webhook_allow_networks": ["127.0.0.0/8"]})


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    yield r
    r.stop()


def _send(env: CareEnv, key: str, minute: int, lon: float, lat: float) -> None:
    at = int((START + timedelta(minutes=minute)).timestamp())
    r = env.call(None, "GET", "/tracking/osmand", params={"id": key, "lat": lat, "lon": lon, "timestamp": at})
    assert r.status_code == 200, r.text


def _wait(receiver: Receiver, n: int) -> None:
    deadline = time.monotonic() + 30
    while len(receiver.requests) < n:
        assert time.monotonic() < deadline, f"{len(receiver.requests)} of {n} webhooks arrived"
        time.sleep(0.05)


def test_a_fence_alert_reaches_the_guardians_by_webhook(care_env: CareEnv, receiver: Receiver) -> None:
    env = care_env
    env.clock.set(START + timedelta(hours=1))
    home = (126.9780, 37.5665)
    pid = env.child(name="김하늘", home=home)
    for user, kind, lang in (("grandma", "guardian", "en"), ("neighbour", "carer", "ko")):
        r = env.call(
            "op",
            "POST",
            f"/care/people/{pid}/guardians",
            json={
                "username": user,
                "relation": "family" if kind == "guardian" else "carer",
                "kind": kind,
                "webhookUrl": f"{receiver.url}/{user}",
                "language": lang,
            },
        )
        assert r.status_code == 201, r.text
    bad = env.call(
        "op",
        "POST",
        f"/care/people/{pid}/guardians",
        json={"username": "x", "relation": "r", "webhookUrl": "ftp:x"},
    )
    assert bad.status_code == 400 and "webhookUrl" in bad.text
    fence = {"name": "집", "centerLon": home[0], "centerLat": home[1], "radiusM": 100, "delayS": 0}
    assert env.call("mom", "POST", f"/care/people/{pid}/fences", json=fence).status_code == 201
    key = env.device(pid)
    _send(env, key, 1, *home)  # inside: the fence's first fix, no event
    _send(env, key, 2, home[0] + 0.01, home[1])  # out: exit
    _wait(receiver, 1)
    time.sleep(1.0)  # nothing more comes: the carer gets no alert
    (req,) = receiver.requests
    assert req.path == "/grandma"
    body = json.loads(req.body)
    text = json.dumps(body, ensure_ascii=False)
    assert "left '집'" in text and "김하늘" in text  # grandma reads English
    assert str(home[1] + 0.0)[:6] not in text and "126.98" not in text, "no position in a guardian's message"
    assert req.headers["idempotency-key"].startswith("care-")
    # on the warning capability's books, under the message's identifier
    delivery = env.platform.services.get(Delivery)
    identifier = req.headers["idempotency-key"].split("|")[0]
    assert [r.status for r in delivery.rows(identifier)] in (["sent"], ["delivered"])
    # a repeated delivery of the event (the bus is at-least-once) queues nothing again
    (alert,) = env.care.fences.alerts_of(pid)
    event = FenceAlert(
        person_id=pid,
        fence_id=alert["fenceId"],
        fence="집",
        kind="exit",
        at=datetime.fromisoformat(alert["at"]),
        lon=alert["lon"],
        lat=alert["lat"],
    )
    event_id = int(identifier.split("-")[1])
    again = Envelope(
        id=event_id, type=event.type, version=1, time=env.clock.now(), source="care", key="", data=event
    )
    notices = handler_for(env.platform.services, env.platform.store, None)
    assert notices is not None
    notices([again])
    assert len(delivery.rows(identifier)) == 1
    assert len(receiver.requests) == 1
