# SPDX-License-Identifier: Apache-2.0
"""People, guardians and consent as the law requires (data/law.toml), over real HTTP, on both stores:
who may consent for whom (위치정보법 §15/§25/§26, PIPA §23), every read audited and in the person's
access record (§16②), notices of provision (§19), and withdrawal leaving no position behind (§24)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Table, func, select

from safecity.care.tables import access, notices, positions
from tests.care.conftest import START, CareEnv


def _fix(env: CareEnv, key: str, minutes: int, lon: float = 126.9780, lat: float = 37.5665) -> int:
    at = int((START + timedelta(minutes=minutes)).timestamp())
    r = env.call(None, "GET", "/tracking/osmand", params={"id": key, "lat": lat, "lon": lon, "timestamp": at})
    return r.status_code


def _count(env: CareEnv, table: Table, pid: int) -> int:
    with env.platform.store.engine.connect() as conn:
        q = select(func.count()).select_from(table).where(table.c.person_id == pid)
        return int(conn.execute(q).scalar_one())


def test_who_may_consent_for_whom(care_env: CareEnv) -> None:
    env = care_env
    pid = env.child(age=7, consent=False)
    path = f"/care/people/{pid}/consents/location"
    # a child of 7: the person's own consent is not the law's (§26)
    r = env.call("op", "POST", path, json={"basis": "self", "givenBy": "self"})
    assert r.status_code == 400 and r.json()["where"] == "basis" and "제26조" in r.json()["message"]
    assert "message_ko" in r.json()
    # dad is a guardian but not the 보호의무자
    r = env.call(
        "op", "POST", path, json={"basis": "protector", "givenBy": "dad", "written": True, "documentRef": "x"}
    )
    assert r.status_code == 400 and r.json()["where"] == "givenBy"
    # mom is, but the consent must be written with proof
    r = env.call("op", "POST", path, json={"basis": "protector", "givenBy": "mom"})
    assert r.status_code == 400 and r.json()["where"] == "documentRef"
    r = env.call(
        "op",
        "POST",
        path,
        json={"basis": "protector", "givenBy": "mom", "written": True, "documentRef": "form-7"},
    )
    assert r.status_code == 201 and r.json()["basis"] == "protector"
    assert (
        env.call(
            "op",
            "POST",
            path,
            json={"basis": "protector", "givenBy": "mom", "written": True, "documentRef": "form-8"},
        ).status_code
        == 409
    )
    # a child of 11: the legal representative (§25)
    older = env.child(age=11, consent=False)
    r = env.call(
        "op",
        "POST",
        f"/care/people/{older}/consents/location",
        json={"basis": "protector", "givenBy": "mom", "written": True, "documentRef": "f"},
    )
    assert r.status_code == 400 and "제25조" in r.json()["message"]
    # a guardian may not record consents; a stranger sees nothing
    assert env.call("mom", "POST", path, json={"basis": "protector", "givenBy": "mom"}).status_code == 403
    assert env.call("stranger", "GET", f"/care/people/{pid}").status_code == 403


def test_a_dementia_diagnosis_needs_its_own_consent(care_env: CareEnv) -> None:
    env = care_env
    body = {"name": "박순자", "kind": "dementia", "birthDate": "1941-03-02"}
    r = env.call("op", "POST", "/care/people", json=body)
    assert (
        r.status_code == 400 and r.json()["where"] == "diagnosisConsent" and "제23조" in r.json()["message"]
    )
    r = env.call(
        "op", "POST", "/care/people", json={**body, "diagnosisConsent": {"givenBy": "self", "written": True}}
    )
    assert r.status_code == 201 and r.json()["kind"] == "dementia"
    pid = r.json()["id"]
    consents = env.call("op", "GET", f"/care/people/{pid}").json()["consents"]
    assert [c["purpose"] for c in consents] == ["diagnosis"]
    # withdrawing it erases the diagnosis
    assert env.call("op", "DELETE", f"/care/people/{pid}/consents/diagnosis").status_code == 200
    assert env.call("op", "GET", f"/care/people/{pid}").json()["kind"] == "other"


def test_no_consent_no_position(care_env: CareEnv) -> None:
    env = care_env
    pid = env.child(consent=False)
    key = env.device(pid)
    assert _fix(env, key, 1) == 403
    assert _count(env, positions, pid) == 0
    assert _fix(env, "trk_not-a-key", 1) == 401


def test_every_read_is_audited_recorded_and_notified(care_env: CareEnv) -> None:
    env = care_env
    pid = env.child()
    key = env.device(pid)
    assert [_fix(env, key, m) for m in (1, 2, 3)] == [200, 200, 200]
    # a guardian of another child sees nothing; an operator needs a reason
    assert env.call("stranger", "GET", f"/care/people/{pid}/positions").status_code == 403
    r = env.call("op", "GET", f"/care/people/{pid}/positions")
    assert r.status_code == 400 and r.json()["where"] == "reason"
    r = env.call(
        "op",
        "GET",
        f"/care/people/{pid}/positions",
        params={"reason": "실종 신고 접수 missing report 2026-17"},
    )
    assert r.status_code == 200 and len(r.json()) == 3
    # dad receives it: a provision, notified at once to mom, who consented for the child
    r = env.call("dad", "GET", f"/care/people/{pid}/positions")
    assert r.status_code == 200 and len(r.json()) == 3
    # mom receives it: she is the one notified, so no notice to herself
    assert env.call("mom", "GET", f"/care/people/{pid}/positions").status_code == 200

    record = env.call("mom", "GET", f"/care/people/{pid}/access").json()
    assert [(a["action"], a["actor"], a["count"]) for a in record] == [
        ("collect", "tracker", 1),
        ("collect", "tracker", 1),
        ("collect", "tracker", 1),
        ("use", "op", 3),
        ("provide", "dad", 3),
        ("provide", "mom", 3),
    ]
    assert "missing report" in record[3]["purpose"]
    (notice,) = env.call("mom", "GET", f"/care/people/{pid}/notices").json()
    assert (
        notice["addressedTo"] == "mom"
        and notice["sentAt"] is not None
        and "dad" in notice["ko"]
        and "dad" in notice["en"]
    )
    assert record[4]["noticeId"] == notice["id"]

    reads = env.platform.audit.search(action="personal.read", target_prefix=f"care:person:{pid}:positions")
    assert sorted(e.actor for e in reads) == ["dad", "mom", "op"]
    assert all(
        '"lat"' not in e.details and "37.5" not in e.details for e in reads
    )  # no position in the audit
    assert env.platform.audit.verify().intact


def test_batched_notices_go_at_30_provisions_or_30_days(care_env: CareEnv) -> None:
    env = care_env
    pid = env.child(notify="batched")
    key = env.device(pid)
    assert _fix(env, key, 1) == 200
    for _ in range(29):
        assert env.call("dad", "GET", f"/care/people/{pid}/positions").status_code == 200
    (waiting,) = env.call("mom", "GET", f"/care/people/{pid}/notices").json()
    assert waiting["sentAt"] is None and waiting["provisions"] == 29
    assert env.call("dad", "GET", f"/care/people/{pid}/positions").status_code == 200
    (sent,) = env.call("mom", "GET", f"/care/people/{pid}/notices").json()
    assert sent["sentAt"] is not None and sent["provisions"] == 30
    # a new batch, sent by the housekeeping once it has waited 30 days
    assert env.call("dad", "GET", f"/care/people/{pid}/positions").status_code == 200
    assert env.care.housekeeping()["noticesSent"] == 0
    env.clock.advance(timedelta(days=30))
    assert env.care.housekeeping()["noticesSent"] == 1
    assert all(n["sentAt"] for n in env.call("mom", "GET", f"/care/people/{pid}/notices").json())


def test_withdrawal_leaves_no_position_behind(care_env: CareEnv) -> None:
    env = care_env
    pid = env.child()
    other = env.child()
    key, other_key = env.device(pid), env.device(other)
    for m in range(5):
        assert _fix(env, key, m) == 200 and _fix(env, other_key, m) == 200
    assert env.call("dad", "GET", f"/care/people/{pid}/positions").status_code == 200
    assert _count(env, positions, pid) == 5 and _count(env, notices, pid) == 1
    # a guardian who is not the person's cannot withdraw; mom can
    assert env.call("stranger", "DELETE", f"/care/people/{pid}/consents/location").status_code == 403
    r = env.call("mom", "DELETE", f"/care/people/{pid}/consents/location")
    assert r.status_code == 200, r.text
    assert r.json()["destroyed"] == {"positions": 5, "accessRecords": 6, "notices": 1}
    # checked in the store itself: nothing of the person's positions or their records is left
    assert (
        _count(env, positions, pid) == 0 and _count(env, access, pid) == 0 and _count(env, notices, pid) == 0
    )
    assert _count(env, positions, other) == 5  # the other child's are untouched
    # the tracker is refused from now on, and nothing arrives
    assert _fix(env, key, 9) == 401
    assert _count(env, positions, pid) == 0
    (entry,) = env.platform.audit.search(action="care.consent_withdrawn")
    assert entry.actor == "mom" and '"positions":5' in entry.details


def test_retention_purges_old_positions(care_env: CareEnv) -> None:
    env = care_env
    pid = env.child()
    key = env.device(pid)
    assert _fix(env, key, 0) == 200
    env.clock.advance(timedelta(days=31))
    assert _fix(env, key, 31 * 24 * 60) == 200
    done = env.care.housekeeping()
    assert done["positionsPurged"] == 1
    assert _count(env, positions, pid) == 1
