# SPDX-License-Identifier: Apache-2.0
"""Heat-wave and cold-wave check-ins over real HTTP, on both stores, on a manual clock: an operator
opens a 폭염 incident (the same route a rule's incident takes to the bus), every elderly person living
alone gets a task, their carer sees the call list with the guidance and records the calls; need_help
and unanswered calls go to the operators as incidents."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from safecity.care.checkins import guidance
from safecity.core.events import Envelope
from tests.care.conftest import CareEnv


class Seen(list[dict[str, Any]]):
    def hear(self, batch: Sequence[Envelope]) -> None:
        self.extend(e.data.model_dump(by_alias=True, mode="json") for e in batch)


def _elderly(env: CareEnv, name: str, carer: str = "dad") -> int:
    r = env.call(
        "op",
        "POST",
        "/care/people",
        json={
            "name": name,
            "kind": "elderly_alone",
            "birthDate": "1941-03-02",
            "homeLon": 126.955,
            "homeLat": 37.548,
        },
    )
    assert r.status_code == 201, r.text
    pid = int(r.json()["id"])
    g = env.call(
        "op",
        "POST",
        f"/care/people/{pid}/guardians",
        json={"username": carer, "relation": "social worker", "kind": "carer", "phone": "010-0000-0000"},
    )
    assert g.status_code == 201, g.text
    return pid


def _incident(env: CareEnv, hazard: str) -> int:
    body = {
        "hazard": hazard,
        "level": 2,
        "title_ko": "폭염경보",
        "title_en": "Heat-wave warning",
        "lon": 126.95,
        "lat": 37.55,
    }
    r = env.call("op", "POST", "/incidents", json=body)
    assert r.status_code == 201, r.text
    env.drain()
    return int(r.json()["id"])


def test_a_heat_wave_opens_check_ins_and_unanswered_ones_escalate(care_env: CareEnv) -> None:
    env = care_env
    seen = Seen()
    env.platform.bus.subscribe(
        ["care.CheckInsOpened", "care.CheckInEscalated"], seen.hear, f"test.{uuid.uuid4().hex[:6]}"
    )
    kim, lee, park = _elderly(env, "김순자"), _elderly(env, "이영수"), _elderly(env, "박말순", carer="mom")
    env.child()  # a child gets no check-in
    assert _incident(env, "fire") and env.call("dad", "GET", "/care/checkins").json() == []
    heat = _incident(env, "heat_wave")
    calls = env.call("dad", "GET", "/care/checkins").json()
    assert [c["personId"] for c in calls] == [kim, lee]  # dad's people only; park is mom's
    assert calls[0]["guidance"]["ko"] == guidance()["heat_wave"]["ko"] and "119" in calls[0]["guidance"]["en"]
    assert calls[0]["contacts"][0]["phone"] == "010-0000-0000" and calls[0]["incidentId"] == heat
    assert len(env.call("op", "GET", "/care/checkins").json()) == 3
    assert env.call("stranger", "GET", "/care/checkins").json() == []
    assert env.care.checkins.on_incident(heat, "heat_wave", []) == 0  # a repeated delivery opens nothing
    env.drain()
    assert [(e["hazard"], e["tasks"]) for e in seen] == [("heat_wave", 3)]

    kim_task, lee_task = calls[0]["id"], calls[1]["id"]
    # kim: fine. lee: two calls nobody answers -> the operators
    r = env.call("dad", "POST", f"/care/checkins/{kim_task}", json={"outcome": "ok", "note": "에어컨 켜 둠"})
    assert r.status_code == 200 and r.json()["status"] == "done", r.text
    assert env.call("dad", "POST", f"/care/checkins/{kim_task}", json={"outcome": "ok"}).status_code == 409
    first = env.call("dad", "POST", f"/care/checkins/{lee_task}", json={"outcome": "no_answer"}).json()
    assert first["status"] == "open" and first["attempts"] == 1
    second = env.call("dad", "POST", f"/care/checkins/{lee_task}", json={"outcome": "no_answer"}).json()
    assert second["status"] == "escalated" and second["escalatedIncidentId"]
    incident = env.call("op", "GET", f"/incidents/{second['escalatedIncidentId']}").json()
    assert (
        "연락 안 됨" in str(incident) and "not answering" in str(incident) and "이영수" not in str(incident)
    )
    # park: nobody calls in the answer window -> the clock escalates it
    assert env.care.checkins.tick() == 0
    env.clock.advance(timedelta(seconds=float(guidance()["answer_window_s"])))
    assert env.care.checkins.tick() == 1
    env.drain()
    escalated = [(e["personId"], e["reason"]) for e in seen if "reason" in e]
    assert escalated == [(lee, "no_answer"), (park, "unanswered")]
    assert env.call("op", "GET", "/care/checkins").json() == []
    assert len(env.call("op", "GET", "/care/checkins?all=true").json()) == 3


def test_need_help_goes_to_the_operators_at_once_and_bad_answers_say_what(care_env: CareEnv) -> None:
    env = care_env
    pid = _elderly(env, "최복례")
    _incident(env, "cold_wave")
    [task] = env.call("dad", "GET", "/care/checkins").json()
    assert "한파" in task["guidance"]["ko"] and task["hazard"] == "cold_wave"
    r = env.call("dad", "POST", f"/care/checkins/{task['id']}", json={"outcome": "maybe"})
    assert r.status_code in (400, 422) and "outcome" in r.text
    too_big = env.call("dad", "POST", f"/care/checkins/{2**63}", json={"outcome": "ok"})
    assert too_big.status_code in (400, 422) and "task_id" in too_big.text
    assert (
        env.call("stranger", "POST", f"/care/checkins/{task['id']}", json={"outcome": "ok"}).status_code
        == 403
    )
    r = env.call(
        "dad", "POST", f"/care/checkins/{task['id']}", json={"outcome": "need_help", "note": "어지러움"}
    )
    assert r.status_code == 200 and r.json()["status"] == "escalated", r.text
    incident = env.call("op", "GET", f"/incidents/{r.json()['escalatedIncidentId']}").json()
    assert incident["hazard"] == "cold_wave" and incident["level"] == 3 and f"#{pid}" in str(incident)
