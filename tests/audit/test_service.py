# SPDX-License-Identifier: Apache-2.0
"""The audit chain on each store: appends, the append-only triggers, tamper detection, concurrency."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from safecity.audit.model import GENESIS, AuditEvent, entry_hash, hash_of
from safecity.audit.service import AuditLog
from safecity.core.errors import BadRequest
from safecity.store import Store


def _event(n: int, actor: str = "operator1", action: str = "http.POST") -> AuditEvent:
    return AuditEvent(
        action=action,
        target=f"/sta/v1.1/Things({n})",
        actor=actor,
        actor_kind="user",
        outcome="201",
        client="10.0.0.7",
        request_id=f"req-{n}",
        details={"n": n, "note": "한글 and English", "nested": {"b": 1, "a": [1.5, None]}},
    )


def _raw(store: Store, sql: str, **params: object) -> None:
    with store.engine.begin() as conn:
        conn.execute(text(sql), params)


def _without_triggers(store: Store, sql: str, **params: object) -> None:
    """Run ``sql`` as someone with the power to switch the triggers off (the attacker verify must catch)."""
    with store.engine.begin() as conn:
        if store.dialect == "postgresql":
            conn.execute(text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only"))
            conn.execute(text(sql), params)
            conn.execute(text("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only"))
        else:
            # SQLite cannot disable a trigger: drop them, tamper, put them back as the migration wrote them
            rows = conn.execute(
                text("SELECT sql FROM sqlite_master WHERE type='trigger' AND tbl_name='audit_log'")
            )
            ddl = [r[0] for r in rows]
            assert len(ddl) == 2
            conn.execute(text("DROP TRIGGER audit_log_no_update"))
            conn.execute(text("DROP TRIGGER audit_log_no_delete"))
            conn.execute(text(sql), params)
            for d in ddl:
                conn.execute(text(d))


@pytest.fixture
def log(open_store: Callable[[], Store]) -> AuditLog:
    return AuditLog(open_store())


def test_entries_chain_and_verify(log: AuditLog) -> None:
    assert log.verify().intact and log.verify().entries == 0 and log.verify().head == GENESIS
    written = [log.record(_event(n)) for n in range(1, 6)]
    assert [e.seq for e in written] == [1, 2, 3, 4, 5]
    assert written[0].prev_hash == GENESIS
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(written))
    stored = list(log.entries())
    assert stored == written  # what is read back hashes the same (time, JSON details, Korean text)
    assert all(hash_of(e) == e.hash for e in stored)
    result = log.verify()
    assert (result.intact, result.entries, result.head) == (True, 5, written[-1].hash)


def test_update_and_delete_are_refused_by_the_database(log: AuditLog) -> None:
    log.record(_event(1))
    for sql in (
        "UPDATE audit_log SET actor = 'mallory' WHERE seq = 1",
        "DELETE FROM audit_log WHERE seq = 1",
    ):
        with pytest.raises(DBAPIError, match="append-only"):
            _raw(log.store, sql)
    (entry,) = log.entries()
    assert entry.actor == "operator1" and log.verify().intact


def test_verify_detects_a_modified_field(log: AuditLog) -> None:
    for n in range(1, 6):
        log.record(_event(n))
    _without_triggers(log.store, "UPDATE audit_log SET outcome = '200' WHERE seq = 3")
    result = log.verify()
    assert (result.intact, result.broken_seq, result.entries) == (False, 3, 2)
    assert "modified" in (result.reason or "")


def test_verify_detects_a_modified_detail(log: AuditLog) -> None:
    for n in range(1, 4):
        log.record(_event(n))
    _without_triggers(log.store, "UPDATE audit_log SET details = :d WHERE seq = 2", d='{"n":99}')
    assert log.verify().broken_seq == 2


def test_verify_detects_a_deleted_entry(log: AuditLog) -> None:
    for n in range(1, 6):
        log.record(_event(n))
    _without_triggers(log.store, "DELETE FROM audit_log WHERE seq = 3")
    result = log.verify()
    assert (result.broken_seq, result.entries) == (3, 2)
    assert "missing" in (result.reason or "")


def test_verify_detects_reordered_entries(log: AuditLog) -> None:
    for n in range(1, 6):
        log.record(_event(n))
    # swap entries 2 and 3 (each keeps its own hashes, as a copy of a row would)
    _without_triggers(log.store, "UPDATE audit_log SET seq = -2 WHERE seq = 2")
    _without_triggers(log.store, "UPDATE audit_log SET seq = 2 WHERE seq = 3")
    _without_triggers(log.store, "UPDATE audit_log SET seq = 3 WHERE seq = -2")
    result = log.verify()
    assert result.broken_seq == 2 and "prev_hash" in (result.reason or "")


def test_verify_detects_a_forged_hash(log: AuditLog) -> None:
    entries = [log.record(_event(n)) for n in range(1, 6)]
    # the forger knows the algorithm: changes entry 3 and gives it the hash that matches the change...
    e = entries[2]
    forged = entry_hash(
        e.prev_hash,
        seq=e.seq,
        at=e.at,
        actor="someone-else",
        actor_kind=e.actor_kind,
        action=e.action,
        target=e.target,
        outcome=e.outcome,
        client=e.client,
        request_id=e.request_id,
        details=e.details,
    )
    _without_triggers(
        log.store, "UPDATE audit_log SET actor = 'someone-else', hash = :h WHERE seq = 3", h=forged
    )
    # ...but entry 4 was chained to the old hash
    result = log.verify()
    assert (result.broken_seq, result.entries) == (4, 3)
    assert "prev_hash" in (result.reason or "")
    # a chain re-forged to the end verifies only against its own head: keep the head elsewhere
    assert result.head == forged


def test_concurrent_appends_form_one_chain(open_store: Callable[[], Store]) -> None:
    threads_n, per_thread = 6, 25
    logs = [AuditLog(open_store()) for _ in range(threads_n)]  # one store each: separate processes' view
    errors: list[BaseException] = []
    start = threading.Barrier(threads_n)

    def work(i: int) -> None:
        try:
            start.wait()
            for n in range(per_thread):
                logs[i].record(_event(n, actor=f"worker{i}"))
        except BaseException as e:  # noqa: BLE001 - reported by the assertion below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(threads_n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    result = logs[0].verify()
    assert result.intact and result.entries == threads_n * per_thread
    seqs = [e.seq for e in logs[0].entries()]
    assert seqs == list(range(1, threads_n * per_thread + 1))


def test_deferred_entries_are_written_by_the_background_writer_and_on_close(log: AuditLog) -> None:
    log.flush_interval_s = 0.05
    log.defer(_event(1, actor="thing:1"))
    deadline = datetime.now(UTC) + timedelta(seconds=10)
    while not list(log.entries()) and datetime.now(UTC) < deadline:
        threading.Event().wait(0.02)
    assert [e.actor for e in log.entries()] == ["thing:1"]
    log.flush_interval_s = 3600  # nothing more is flushed by time: close must write the rest
    log.defer(_event(2, actor="thing:2"))
    log.defer(_event(3, actor="thing:3"))
    log.close()
    assert [e.actor for e in log.entries()] == ["thing:1", "thing:2", "thing:3"]
    assert log.verify().intact


def test_search_filters_and_pages(log: AuditLog) -> None:
    log.record(_event(1, actor="alice", action="auth.login"))
    log.record(_event(2, actor="bob"))
    log.record(AuditEvent("http.DELETE", "/subscriptions/7", "alice", "user", "204"))
    log.record(AuditEvent("http.POST", "/sta/v1.1/Things_x%", "alice", "user", "201"))
    assert [e.seq for e in log.search(actor="alice")] == [4, 3, 1]
    assert [e.seq for e in log.search(action="http.POST")] == [4, 2]
    assert [e.seq for e in log.search(target_prefix="/sta/v1.1/Things(")] == [2, 1]
    assert [e.seq for e in log.search(target_prefix="/sta/v1.1/Things_")] == [4]  # '_' is literal
    page1 = log.search(limit=2)
    page2 = log.search(limit=2, before_seq=page1[-1].seq)
    assert [e.seq for e in page1 + page2] == [4, 3, 2, 1]
    now = datetime.now(UTC)
    assert len(log.search(since=now - timedelta(minutes=5), until=now + timedelta(minutes=5))) == 4
    assert log.search(since=now + timedelta(minutes=5)) == []


def test_text_a_client_sent_with_nul_is_kept_escaped(log: AuditLog) -> None:
    entry = log.record(AuditEvent("auth.login_failed", "user:a\x00b", "a\x00b", "rejected", "401"))
    assert entry.actor == "a\\x00b" and log.verify().intact
    with pytest.raises(BadRequest, match="actor"):
        log.search(actor="a\x00b")
