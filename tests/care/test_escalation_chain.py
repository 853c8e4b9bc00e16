# SPDX-License-Identifier: Apache-2.0
"""Issue 17: "all events become incidents or notifications through the same warning chain". Over the real
chain, on both stores: a wandering detection from real fixes reaches the situation room as an incident
through the event the situation capability subscribes to (``Event.incident_report``; situation imports
nothing of care) and the guardian through the warning capability's delivery (a real webhook); a repeated
delivery of the event opens no second incident; an unanswered heat-wave check-in reaches the guardian the
same way (its incident is tested in test_checkins, trips' and SOS' in test_trips)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime

import pytest
from sqlalchemy import select

from safecity.care.events import WanderingSuspected
from safecity.core.events import Envelope, reported_types
from safecity.settings import Settings
from safecity.situation import REPORTS, _open_reported
from safecity.situation.incidents import Incidents
from safecity.situation.tables import links
from tests.care.conftest import CareEnv
from tests.care.test_checkins import _elderly, _incident
from tests.care.test_notify import _wait
from tests.care.test_wandering import Walker
from tests.warning.test_channels import Receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    yield r
    r.stop()


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The guardians' webhook receiver runs on this machine."""
    return settings.model_copy(update={"webhook_allow_networks": ["127.0.0.0/8"]})


def _guardian(env: CareEnv, pid: int, receiver: Receiver, user: str, kind: str = "guardian") -> None:
    r = env.call(
        "op",
        "POST",
        f"/care/people/{pid}/guardians",
        json={
            "username": user,
            "relation": "family",
            "kind": kind,
            "webhookUrl": f"{receiver.url}/{user}",
            "language": "en",
        },
    )
    assert r.status_code == 201, r.text


def test_wandering_reaches_the_control_room_and_the_guardian(care_env: CareEnv, receiver: Receiver) -> None:
    env = care_env
    care = env.care
    assert "care.WanderingSuspected" in reported_types()
    names = [s.name for s in env.platform.bus.subscribers()]
    assert REPORTS in names, "the situation capability follows the reports"
    walker = Walker.watched(env, lambda person_id: _guardian(env, person_id, receiver, "daughter"))
    person = walker.person
    env.drain()
    assert env.platform.incidents.list() == [] and receiver.requests == []
    walker.wander()
    env.drain()

    # the control room: one incident, opened by care, named by id only, at the last fix
    (listed,) = env.platform.incidents.list()
    incident = env.call("op", "GET", f"/incidents/{listed.id}").json()
    text = json.dumps(incident, ensure_ascii=False)
    assert f"#{person.id}" in incident["titleEn"] and "wandering" in incident["titleEn"]
    assert "배회" in incident["titleKo"] and incident["level"] == 2 and incident["openedBy"] == "care"
    assert "박순자" not in text and "dementia" not in text.lower() and "치매" not in text
    (alert,) = care.fences.alerts_of(person.id)
    assert alert["kind"] == "wandering"
    assert incident["location"] == {"lon": pytest.approx(alert["lon"]), "lat": pytest.approx(alert["lat"])}
    with env.platform.store.engine.connect() as conn:
        refs = conn.execute(select(links.c.ref).where(links.c.kind == "report")).scalars().all()
    assert refs == [f"care:wandering:{person.id}:{alert['at']}"]

    # the guardian: the warning chain's webhook, in their language, without a position
    _wait(receiver, 1)
    (req,) = receiver.requests
    body = json.dumps(json.loads(req.body), ensure_ascii=False)
    assert req.path == "/daughter" and "may be wandering" in body and "박순자" in body
    assert f"{alert['lat']:.4f}" not in body and f"{alert['lon']:.4f}" not in body

    # the bus delivers at least once: the same event again opens no second incident
    at = datetime.fromisoformat(alert["at"])
    event = WanderingSuspected(
        person_id=person.id, at=at, lon=alert["lon"], lat=alert["lat"], score=0.5, loops=2
    )
    again = Envelope(
        id=10**9, type=event.type, version=1, time=env.clock.now(), source="care", key="", data=event
    )
    _open_reported(env.platform.services.get(Incidents), [again])
    assert len(env.platform.incidents.list()) == 1


def test_an_unanswered_check_in_reaches_the_guardian(care_env: CareEnv, receiver: Receiver) -> None:
    env = care_env
    pid = _elderly(env, "이영수")
    _guardian(env, pid, receiver, "son")
    _guardian(env, pid, receiver, "neighbour", kind="carer")  # a carer calls; the message is the family's
    _incident(env, "heat_wave")
    (task,) = env.call("dad", "GET", "/care/checkins").json()
    for _ in range(2):
        r = env.call("dad", "POST", f"/care/checkins/{task['id']}", json={"outcome": "no_answer"})
        assert r.status_code == 200, r.text
    assert r.json()["status"] == "escalated" and r.json()["escalatedIncidentId"]
    env.drain()
    _wait(receiver, 1)
    (req,) = receiver.requests
    body = json.dumps(json.loads(req.body), ensure_ascii=False)
    assert req.path == "/son" and "did not answer two check-in calls" in body and "이영수" in body
